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

// Snapshots: one row per (stream, version). The position is kept as its two
// numbers so that the `maxPosition` bound is a row comparison in SQL.
const pgCreateSnapshots = (t: Tables): ReadonlyArray<string> => [
  `CREATE TABLE ${t.snapshots} (
    stream_id text NOT NULL,
    version bigint NOT NULL CHECK (version >= 0),
    state_version integer NOT NULL,
    state json NOT NULL,
    position_commit bigint NOT NULL,
    position_sequence bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "${t.snapshotsName}_pkey" PRIMARY KEY (stream_id, version)
  )`
]

// SQLite keeps times as epoch milliseconds (INTEGER), so bounds compare as numbers.
const sqliteCreateSnapshots = (t: Tables): ReadonlyArray<string> => [
  `CREATE TABLE ${t.snapshots} (
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 0),
    state_version INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (json_valid(state)),
    position_commit INTEGER NOT NULL,
    position_sequence INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    PRIMARY KEY (stream_id, version)
  )`
]

// Projections: one record per name and version, with its lease; the partial
// unique index keeps at most one active version per name.
const pgCreateProjections = (t: Tables): ReadonlyArray<string> => [
  `CREATE TABLE ${t.projections} (
    name text NOT NULL,
    version integer NOT NULL,
    checkpoint text,
    state text NOT NULL,
    error text,
    filter json NOT NULL,
    active boolean NOT NULL DEFAULT false,
    lease_owner text,
    lease_expires_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT "${t.projectionsName}_pkey" PRIMARY KEY (name, version)
  )`,
  `CREATE UNIQUE INDEX "${t.projectionsName}_one_active" ON ${t.projections} (name) WHERE active`,
  `CREATE TABLE ${t.parked} (
    name text NOT NULL,
    version integer NOT NULL,
    event_id text NOT NULL,
    event json NOT NULL,
    reason text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT "${t.parkedName}_pkey" PRIMARY KEY (name, version, event_id)
  )`
]

const sqliteCreateProjections = (t: Tables): ReadonlyArray<string> => [
  `CREATE TABLE ${t.projections} (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    checkpoint TEXT,
    state TEXT NOT NULL,
    error TEXT,
    filter TEXT NOT NULL CHECK (json_valid(filter)),
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    lease_owner TEXT,
    lease_expires_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
  )`,
  `CREATE UNIQUE INDEX "${t.projectionsName}_one_active" ON ${t.projections} (name) WHERE active = 1`,
  `CREATE TABLE ${t.parked} (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL CHECK (json_valid(event)),
    reason TEXT NOT NULL,
    parked_at INTEGER NOT NULL,
    PRIMARY KEY (name, version, event_id)
  )`
]

// SQLite's REPLACE conflict resolution deletes the conflicting row without
// firing DELETE triggers (unless `recursive_triggers` is on), so
// `INSERT OR REPLACE` / `REPLACE INTO` could rewrite an event. This trigger
// refuses any insert whose event id, stream version or position is already
// stored, before conflict resolution runs. (Each test is an index lookup.)
const sqliteRefuseReplace = (t: Tables): ReadonlyArray<string> => [
  `CREATE TRIGGER "${t.eventsName}_no_replace" BEFORE INSERT ON ${t.events}
    WHEN EXISTS (SELECT 1 FROM ${t.events} WHERE event_id = NEW.event_id)
      OR EXISTS (SELECT 1 FROM ${t.events} WHERE stream_id = NEW.stream_id AND stream_version = NEW.stream_version)
      OR EXISTS (SELECT 1 FROM ${t.events} WHERE position = NEW.position)
    BEGIN SELECT RAISE(ABORT, 'events are immutable: an event with this id, stream version or position is already stored'); END`
]

// The PostgreSQL append as a function: its statements are planned once per
// connection (PL/pgSQL caches their plans), and the common case runs the
// fewest of them. The streams row is written first (the expected-version
// check, and the transaction-id guard that keeps the feed in stream order),
// then the events. Duplicate event ids: checked first only when asked
// (inside a caller's transaction, where an error would abort it); otherwise
// the insert's unique violation reports them (the store then resolves the
// idempotent result), and a refused stream write looks them up before
// calling it a conflict. One row per event written ('w'), or one row 'd'
// (duplicate) or 'c' (conflict, with the streams row's version).
const pgAppendFunction = (t: Tables): ReadonlyArray<string> => [
  `CREATE FUNCTION "${t.appendName}"(
    p_stream text, p_expected text, p_version bigint, p_ids uuid[], p_types text[], p_schema_versions int4[],
    p_data text[], p_metadata json, p_recorded_at timestamptz, p_check_duplicates boolean
  ) RETURNS TABLE (w_kind text, w_version bigint, w_commit xid8, w_sequence bigint)
  LANGUAGE plpgsql AS $body$
  DECLARE
    n bigint := cardinality(p_ids);
    v bigint;
  BEGIN
    IF p_check_duplicates AND EXISTS (SELECT 1 FROM ${t.events} AS e WHERE e.event_id = ANY (p_ids)) THEN
      RETURN QUERY SELECT 'd'::text, NULL::bigint, NULL::xid8, NULL::bigint;
      RETURN;
    END IF;
    IF p_expected = 'any' THEN
      INSERT INTO ${t.streams} AS s (stream_id, version, last_transaction_id)
        VALUES (p_stream, n, pg_current_xact_id())
        ON CONFLICT (stream_id) DO UPDATE
          SET version = s.version + EXCLUDED.version, last_transaction_id = EXCLUDED.last_transaction_id
          WHERE s.last_transaction_id <= EXCLUDED.last_transaction_id
        RETURNING s.version INTO v;
    ELSIF p_expected = 'new' THEN
      INSERT INTO ${t.streams} AS s (stream_id, version, last_transaction_id)
        VALUES (p_stream, n, pg_current_xact_id())
        ON CONFLICT (stream_id) DO NOTHING
        RETURNING s.version INTO v;
    ELSIF p_expected = 'exists' THEN
      UPDATE ${t.streams} AS s SET version = s.version + n, last_transaction_id = pg_current_xact_id()
        WHERE s.stream_id = p_stream AND s.last_transaction_id <= pg_current_xact_id()
        RETURNING s.version INTO v;
    ELSE
      UPDATE ${t.streams} AS s SET version = s.version + n, last_transaction_id = pg_current_xact_id()
        WHERE s.stream_id = p_stream AND s.version = p_version AND s.last_transaction_id <= pg_current_xact_id()
        RETURNING s.version INTO v;
    END IF;
    IF v IS NULL THEN
      IF NOT p_check_duplicates AND EXISTS (SELECT 1 FROM ${t.events} AS e WHERE e.event_id = ANY (p_ids)) THEN
        RETURN QUERY SELECT 'd'::text, NULL::bigint, NULL::xid8, NULL::bigint;
      ELSE
        RETURN QUERY SELECT 'c'::text, (SELECT s.version FROM ${t.streams} AS s WHERE s.stream_id = p_stream),
          NULL::xid8, NULL::bigint;
      END IF;
      RETURN;
    END IF;
    IF n = 1 THEN
      RETURN QUERY WITH inserted AS (
        INSERT INTO ${t.events} AS e
          (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
        VALUES (p_ids[1], p_stream, v, p_types[1], p_schema_versions[1], p_data[1]::json, p_metadata, p_recorded_at)
        RETURNING e.stream_version, e.transaction_id, e.position
      ) SELECT 'w'::text, i.stream_version, i.transaction_id, i.position FROM inserted AS i;
    ELSE
      RETURN QUERY WITH inserted AS (
        INSERT INTO ${t.events} AS e
          (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
        SELECT u.event_id, p_stream, v - n + u.ord, u.event_type, u.schema_version, u.data::json, p_metadata,
          p_recorded_at
        FROM unnest(p_ids, p_types, p_schema_versions, p_data)
          WITH ORDINALITY AS u(event_id, event_type, schema_version, data, ord)
        RETURNING e.stream_version, e.transaction_id, e.position
      ) SELECT 'w'::text, i.stream_version, i.transaction_id, i.position FROM inserted AS i;
    END IF;
  END
  $body$`
]

// Migration 7: the append function's lookups of event ids, one id at a time.
// Migration 5 looked the ids up with `event_id = ANY (p_ids)`; PL/pgSQL keeps
// a statement's plan for the connection's life, and a plan made while the
// events table was small is a sequential scan, kept as the table grows until
// an ANALYZE re-plans it (seen in the saga benchmark: PostgreSQL CPU per saga
// growing run after run; in psql, one lookup took 81 ms on 200,000 rows). An
// equality on the unique column is planned as an index probe at any size.
// The function is migration 5's, with its two lookups replaced.
const pgAppendFunctionLookingUpEachId = (t: Tables): ReadonlyArray<string> => {
  const lookUp = `FOREACH d IN ARRAY p_ids LOOP
        stored := EXISTS (SELECT 1 FROM ${t.events} AS e WHERE e.event_id = d);
        EXIT WHEN stored;
      END LOOP;`
  const anyStored = `EXISTS (SELECT 1 FROM ${t.events} AS e WHERE e.event_id = ANY (p_ids))`
  const replacements: ReadonlyArray<readonly [string, string]> = [
    [`CREATE FUNCTION "${t.appendName}"(`, `CREATE OR REPLACE FUNCTION "${t.appendName}"(`],
    ["    v bigint;\n", "    v bigint;\n    d uuid;\n    stored boolean := false;\n"],
    [
      `IF p_check_duplicates AND ${anyStored} THEN`,
      `IF p_check_duplicates THEN\n      ${lookUp}\n    END IF;\n    IF stored THEN`
    ],
    [
      `IF NOT p_check_duplicates AND ${anyStored} THEN`,
      `IF NOT p_check_duplicates THEN\n        ${lookUp}\n      END IF;\n      IF stored THEN`
    ]
  ]
  return pgAppendFunction(t).map((text) =>
    replacements.reduce((body, [from, to]) => {
      if (!body.includes(from)) throw new Error(`migration 7: the append function has no "${from}"`)
      return body.replace(from, to)
    }, text)
  )
}

// The category a filtered feed reads by (the stream id up to its first
// "-"), stored and indexed with the feed's order, so that a catch-up on one
// category reads its own events, not the whole log. PostgreSQL computes it
// for existing rows when the column is added (rewriting the table once);
// SQLite keeps it virtual, computed where the index needs it.
const pgCategory = (t: Tables): ReadonlyArray<string> => [
  `ALTER TABLE ${t.events} ADD COLUMN category text GENERATED ALWAYS AS (split_part(stream_id, '-', 1)) STORED`,
  `CREATE INDEX "${t.eventsName}_category" ON ${t.events} (category, transaction_id, position)`
]

const sqliteCategory = (t: Tables): ReadonlyArray<string> => [
  `ALTER TABLE ${t.events} ADD COLUMN category TEXT GENERATED ALWAYS AS
    (CASE WHEN instr(stream_id, '-') = 0 THEN stream_id ELSE substr(stream_id, 1, instr(stream_id, '-') - 1) END) VIRTUAL`,
  `CREATE INDEX "${t.eventsName}_category" ON ${t.events} (category, position)`
]

const byDialect = (
  sql: SqlClient,
  statements: {
    readonly pg: ReadonlyArray<string>
    readonly sqlite: ReadonlyArray<string>
  }
): Effect.Effect<void, unknown, never> =>
  sql.onDialectOrElse({
    pg: () => run(sql, statements.pg),
    sqlite: () => run(sql, statements.sqlite),
    orElse: () => Effect.dieMessage("Chronicle's SQL event store supports PostgreSQL and SQLite only")
  })

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
  }),
  "2_create_snapshots": byDialect(sql, { pg: pgCreateSnapshots(tables), sqlite: sqliteCreateSnapshots(tables) }),
  "3_create_projections": byDialect(sql, { pg: pgCreateProjections(tables), sqlite: sqliteCreateProjections(tables) }),
  "4_refuse_replacing_events": byDialect(sql, { pg: [], sqlite: sqliteRefuseReplace(tables) }),
  "5_append_function": byDialect(sql, { pg: pgAppendFunction(tables), sqlite: [] }),
  "6_category_index": byDialect(sql, { pg: pgCategory(tables), sqlite: sqliteCategory(tables) }),
  "7_append_lookups_by_id": byDialect(sql, { pg: pgAppendFunctionLookingUpEachId(tables), sqlite: [] })
})

/**
 * The id of the newest migration: a schema whose migrations table records
 * it (or a newer one) is up to date.
 *
 * @internal
 */
export const latestId = (sql: SqlClient, tables: Tables): number =>
  Math.max(...Object.keys(record(sql, tables)).map((key) => Number.parseInt(key, 10)))
