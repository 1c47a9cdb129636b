/**
 * The schema, one migration per entry, for each dialect.
 *
 * @internal
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { Effect } from "effect"
import type { Tables } from "./tables.js"

const run = (sql: SqlClient, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true })

const pgCreateEventStore = (t: Tables): ReadonlyArray<string> => [
  `CREATE TABLE ${t.streams} (
    stream_id text NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    last_transaction_id xid8 NOT NULL,
    CONSTRAINT "${t.streamsName}_pkey" PRIMARY KEY (stream_id)
  )`,
  // data and metadata are json, not jsonb: the store never looks inside them,
  // and json keeps the codec's exact text (no key reordering) and accepts
  // every string JSON.stringify produces (jsonb refuses \\u0000).
  `CREATE TABLE ${t.events} (
    position bigint GENERATED ALWAYS AS IDENTITY,
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id uuid NOT NULL,
    stream_id text NOT NULL,
    stream_version bigint NOT NULL CHECK (stream_version > 0),
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    data json NOT NULL,
    metadata json NOT NULL,
    recorded_at timestamptz NOT NULL,
    CONSTRAINT "${t.eventsName}_pkey" PRIMARY KEY (transaction_id, position),
    CONSTRAINT "${t.eventIdConstraint}" UNIQUE (event_id),
    CONSTRAINT "${t.eventsName}_stream_version_key" UNIQUE (stream_id, stream_version)
  )`,
  `CREATE FUNCTION "${t.eventsName}_immutable"() RETURNS trigger LANGUAGE plpgsql AS $body$
  BEGIN
    RAISE EXCEPTION 'events are immutable: % on % is not allowed', TG_OP, TG_TABLE_NAME
      USING ERRCODE = 'integrity_constraint_violation';
  END
  $body$`,
  `CREATE TRIGGER "${t.eventsName}_immutable" BEFORE UPDATE OR DELETE OR TRUNCATE ON ${t.events}
    FOR EACH STATEMENT EXECUTE FUNCTION "${t.eventsName}_immutable"()`
]

const sqliteCreateEventStore = (t: Tables): ReadonlyArray<string> => [
  `CREATE TABLE ${t.streams} (
    stream_id TEXT NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version > 0)
  )`,
  `CREATE TABLE ${t.events} (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL CHECK (stream_version > 0),
    event_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)),
    metadata TEXT NOT NULL CHECK (json_valid(metadata)),
    recorded_at TEXT NOT NULL,
    UNIQUE (stream_id, stream_version)
  )`,
  `CREATE TRIGGER "${t.eventsName}_no_update" BEFORE UPDATE ON ${t.events}
    BEGIN SELECT RAISE(ABORT, 'events are immutable: UPDATE is not allowed'); END`,
  `CREATE TRIGGER "${t.eventsName}_no_delete" BEFORE DELETE ON ${t.events}
    BEGIN SELECT RAISE(ABORT, 'events are immutable: DELETE is not allowed'); END`
]

/**
 * The migrations, keyed `<id>_<name>` for `Migrator.fromRecord`. Never edit
 * a released migration: add a new one.
 *
 * @internal
 */
export const record = (sql: SqlClient, tables: Tables): Record<string, Effect.Effect<void, unknown, never>> => ({
  "1_create_event_store": sql.onDialectOrElse({
    pg: () => run(sql, pgCreateEventStore(tables)),
    sqlite: () => run(sql, sqliteCreateEventStore(tables)),
    orElse: () => Effect.dieMessage("Chronicle's SQL event store supports PostgreSQL and SQLite only")
  })
})
