/**
 * Issue 8, item 14 (PostgreSQL): the tables' owner runs the migrations and
 * grants an application role only what the stores need
 * (`SqlMigrations.grant`); the application runs as that role with
 * `migrate: false`. The whole EventStore conformance suite runs under such
 * a role, and the role cannot update, delete, truncate, alter (disable the
 * trigger) or drop events. The role has a unique name and is dropped after.
 */
import { EventStore, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { SqlEventStore, SqlMigrations, SqlProjectionStore, SqlSnapshotStore } from "../src/index.js"
import * as Postgres from "./support/postgres.js"

/** The connection string of `role` on `schema` (trust authentication). */
const urlAs = (role: string, schema: string) => {
  const url = new URL(Postgres.urlFor(schema))
  url.username = role
  url.password = ""
  return url.toString()
}

class AppRole extends Context.Tag("chronicle/test/AppRole")<
  AppRole,
  { readonly role: string; readonly owner: SqlClient.SqlClient }
>() {}

/**
 * A fresh schema migrated by its owner, a fresh role granted the
 * application's rights on it, and a `PgClient` connected as that role.
 */
const asApplicationRole = Layer.unwrapScoped(
  Effect.gen(function* () {
    const schema = yield* Postgres.schema
    const role = `chronicle_app_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
    const admin = yield* Postgres.raw(schema)
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.query(`CREATE ROLE "${role}" LOGIN`)),
      () =>
        Effect.promise(async () => {
          await admin.query(`DROP OWNED BY "${role}"`)
          await admin.query(`DROP ROLE "${role}"`)
        })
    )
    const ownerContext = yield* Layer.build(Postgres.layerOn(schema, { maxConnections: 2 }))
    const owner = Context.get(ownerContext, SqlClient.SqlClient)
    yield* Effect.provideService(
      Effect.zipRight(SqlMigrations.run(), SqlMigrations.grant({ role })),
      SqlClient.SqlClient,
      owner
    )
    return PgClient.layer({ url: Redacted.make(urlAs(role, schema)), maxConnections: 10 }).pipe(
      Layer.merge(Layer.succeed(AppRole, { role, owner }))
    )
  })
).pipe(Layer.orDie)

describe.skipIf(!Postgres.available)("PostgreSQL with an application role", () => {
  EventStoreConformance.suite(
    "SqlEventStore as an application role that only has the granted rights (PostgreSQL)",
    SqlEventStore.layer({ migrate: false }).pipe(Layer.provide(asApplicationRole)),
    { writers: 8, eventsPerWriter: 5 }
  )

  layer(
    Layer.mergeAll(
      SqlEventStore.layer({ migrate: false }),
      SqlSnapshotStore.layer({ migrate: false }),
      SqlProjectionStore.layer({ migrate: false })
    ).pipe(Layer.provideMerge(asApplicationRole)),
    { excludeTestServices: true, timeout: "60 seconds" }
  )((it) => {
    it.effect("the role appends and reads, but cannot change, remove or unprotect a stored event", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const stream = StreamId.forAggregate("Roles", crypto.randomUUID())
        const event = EventStoreConformance.eventData("Fact", { amount: 1 })
        yield* store.append(stream, [event])
        // the read-only migration check works with SELECT alone
        expect(yield* SqlMigrations.run()).toEqual([])
        const attempts = [
          `UPDATE chronicle_events SET data = '{"amount": 999}'`,
          "DELETE FROM chronicle_events",
          "TRUNCATE chronicle_events",
          "ALTER TABLE chronicle_events DISABLE TRIGGER chronicle_events_immutable",
          "DROP TRIGGER chronicle_events_immutable ON chronicle_events",
          "ALTER TABLE chronicle_events ADD COLUMN evil text",
          "DROP TABLE chronicle_events",
          "DELETE FROM chronicle_streams",
          "CREATE TABLE chronicle_read_model (id text)"
        ]
        for (const statement of attempts) {
          const refused = yield* Effect.flip(sql.unsafe(statement))
          expect(String(refused.cause)).toMatch(/permission denied|must be (the )?owner/)
        }
        const [stored] = yield* store.readEvents(stream)
        expect(stored?.data).toEqual({ amount: 1 })
        expect(stored?.eventId).toBe(event.eventId)
      })
    )

    it.effect("the grants are exactly the listed statements", () =>
      Effect.gen(function* () {
        const { role } = yield* AppRole
        const statements = yield* SqlMigrations.grants({ role, schema: "app", tablePrefix: "bank_" })
        expect(statements).toEqual([
          `GRANT USAGE ON SCHEMA "app" TO "${role}"`,
          `GRANT SELECT, INSERT ON "app"."bank_events" TO "${role}"`,
          `GRANT SELECT, INSERT, UPDATE ON "app"."bank_streams", "app"."bank_snapshots" TO "${role}"`,
          `GRANT SELECT, INSERT, UPDATE, DELETE ON "app"."bank_projections", "app"."bank_projection_parked" TO "${role}"`,
          `GRANT SELECT ON "app"."bank_migrations" TO "${role}"`,
          `GRANT EXECUTE ON FUNCTION "app"."bank_append"(text, text, bigint, uuid[], text[], int4[], text[], json, timestamptz, boolean) TO "${role}"`
        ])
        const withTables = yield* SqlMigrations.grants({ role: 'odd "name"', createTables: true })
        expect(withTables[0]).toBe(`GRANT USAGE, CREATE ON SCHEMA "public" TO "odd ""name"""`)
        expect((yield* Effect.flip(SqlMigrations.grants({ role: "" })))._tag).toBe("StoreError")
      })
    )
  })
})
