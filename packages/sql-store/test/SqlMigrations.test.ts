import { execFile, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { EventStore, StoreError, StreamId } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule, Schema } from "effect"
import { afterAll } from "vitest"
import { SqlEventStore, SqlMigrations } from "../src/index.js"
import * as Postgres from "./support/postgres.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-migrations-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const sqliteFile = (name: string) => SqliteClient.layer({ filename: join(dir, `${name}.db`) })

const Names = Schema.Array(Schema.Struct({ name: Schema.String }))

const sqliteTables = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql`SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') ORDER BY name`
  return (yield* Schema.decodeUnknown(Names)(rows)).map((r) => r.name).filter((n) => !n.startsWith("sqlite_"))
})

const pgTables = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows =
    yield* sql`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`
  return (yield* Schema.decodeUnknown(Names)(rows)).map((r) => r.name)
})

const created = [
  [1, "create_event_store"],
  [2, "create_snapshots"],
  [3, "create_projections"],
  [4, "refuse_replacing_events"],
  [5, "append_function"],
  [6, "category_index"],
  [7, "append_lookups_by_id"]
]

describe("SqlMigrations on SQLite", () => {
  it.effect("running twice is a no-op; prefixes keep separate tables and migration tables", () =>
    Effect.gen(function* () {
      expect(yield* SqlMigrations.run()).toEqual(created)
      expect(yield* SqlMigrations.run()).toEqual([])
      expect(yield* SqlMigrations.run({ tablePrefix: "other_" })).toEqual(created)
      expect(yield* SqlMigrations.run({ tablePrefix: "other_" })).toEqual([])
      expect(yield* sqliteTables).toEqual([
        "chronicle_events",
        "chronicle_events_no_delete",
        "chronicle_events_no_replace",
        "chronicle_events_no_update",
        "chronicle_migrations",
        "chronicle_projection_parked",
        "chronicle_projections",
        "chronicle_snapshots",
        "chronicle_streams",
        "other_events",
        "other_events_no_delete",
        "other_events_no_replace",
        "other_events_no_update",
        "other_migrations",
        "other_projection_parked",
        "other_projections",
        "other_snapshots",
        "other_streams"
      ])
    }).pipe(Effect.provide(sqliteFile("twice")))
  )

  it.effect("an invalid prefix is a typed StoreError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(SqlMigrations.run({ tablePrefix: 'x"; DROP TABLE y; --' }))
      expect(error).toBeInstanceOf(StoreError.StoreError)
      const layerError = yield* Effect.flip(
        Effect.provide(EventStore.EventStore, SqlEventStore.layer({ tablePrefix: "Upper_" }))
      )
      expect(layerError).toBeInstanceOf(StoreError.StoreError)
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
  )

  it.effect("without migrations, the store fails with typed StoreErrors", () =>
    Effect.gen(function* () {
      const store = yield* SqlEventStore.make({ migrate: false })
      const stream = StreamId.forAggregate("Nothing", "1")
      expect(yield* Effect.flip(store.streamVersion(stream))).toBeInstanceOf(StoreError.StoreError)
      const appended = yield* Effect.flip(
        store.append(stream, [{ eventId: crypto.randomUUID(), type: "X", schemaVersion: 1, data: {} }])
      )
      expect(appended).toBeInstanceOf(StoreError.StoreError)
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
  )

  it.live(
    "processes migrating one file at once: one applies, the others find it done",
    () =>
      Effect.gen(function* () {
        const file = join(dir, "concurrent.db")
        const script = fileURLToPath(new URL("./support/migrate-sqlite.ts", import.meta.url))
        const runInProcess = Effect.async<string, Error>((resume) => {
          execFile(process.execPath, ["--import", "tsx", script, file], (error, stdout, stderr) =>
            resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.succeed(stdout))
          )
        })
        const outputs = yield* Effect.all(
          Array.from({ length: 3 }, () => runInProcess),
          { concurrency: "unbounded" }
        )
        const applied = outputs.map((out) => JSON.parse(out))
        expect(applied.filter((a) => a.length > 0)).toEqual([created])
        expect(applied.filter((a) => a.length === 0)).toHaveLength(2)
        const tables = yield* sqliteTables.pipe(Effect.provide(SqliteClient.layer({ filename: file })))
        expect(tables).toContain("chronicle_events")
      }),
    30_000
  )
})

describe("SqlMigrations on SQLite, beside another process's write transaction", () => {
  it.live(
    "an up-to-date store starts and reads without taking the write lock; only pending migrations need it",
    () =>
      Effect.gen(function* () {
        const file = join(dir, "held.db")
        const stream = StreamId.forAggregate("Held", "1")
        yield* Effect.gen(function* () {
          const store = yield* SqlEventStore.make()
          yield* store.append(stream, [{ eventId: crypto.randomUUID(), type: "X", schemaVersion: 1, data: {} }])
        }).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
        const script = fileURLToPath(new URL("./support/sqlite-hold-write.ts", import.meta.url))
        const holder = yield* Effect.acquireRelease(
          Effect.sync(() => spawn(process.execPath, ["--import", "tsx", script, file], { stdio: "pipe" })),
          (child) => Effect.sync(() => child.kill("SIGKILL"))
        )
        let output = ""
        holder.stdout.on("data", (chunk) => {
          output += String(chunk)
        })
        holder.stderr.on("data", (chunk) => {
          output += String(chunk)
        })
        yield* Effect.suspend(() => (output.includes("holding") ? Effect.void : Effect.fail(output))).pipe(
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("30 seconds")))
        )
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          // fail at once rather than after the default 5 s busy timeout
          yield* sql.unsafe("PRAGMA busy_timeout = 100")
          // the lock is real: a write, or a pending migration, cannot proceed
          const pending = yield* Effect.flip(SqlMigrations.run({ tablePrefix: "pending_" }))
          expect(pending.message).toContain("database is locked")
          // an up-to-date schema is checked read-only: the store starts and reads
          expect(yield* SqlMigrations.run()).toEqual([])
          const store = yield* SqlEventStore.make()
          expect(yield* store.streamVersion(stream)).toBe(1)
          expect(yield* store.readEvents(stream)).toHaveLength(1)
          const appended = yield* Effect.flip(
            store.append(stream, [{ eventId: crypto.randomUUID(), type: "X", schemaVersion: 1, data: {} }])
          )
          expect(appended.message).toContain("database is locked")
        }).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
      }).pipe(Effect.scoped),
    60_000
  )
})

describe.skipIf(!Postgres.available)("SqlMigrations on PostgreSQL", () => {
  it.live("running twice is a no-op; prefixes keep separate tables and migration tables", () =>
    Effect.gen(function* () {
      expect(yield* SqlMigrations.run()).toEqual(created)
      expect(yield* SqlMigrations.run()).toEqual([])
      expect(yield* SqlMigrations.run({ tablePrefix: "other_" })).toEqual(created)
      expect(yield* SqlMigrations.run({ tablePrefix: "other_" })).toEqual([])
      expect(yield* pgTables).toEqual([
        "chronicle_events",
        "chronicle_migrations",
        "chronicle_projection_parked",
        "chronicle_projections",
        "chronicle_snapshots",
        "chronicle_streams",
        "other_events",
        "other_migrations",
        "other_projection_parked",
        "other_projections",
        "other_snapshots",
        "other_streams"
      ])
    }).pipe(Effect.provide(Postgres.layer()))
  )

  it.live("concurrent runs serialise: one applies, the others find it done, nothing breaks", () =>
    Effect.gen(function* () {
      const runs = yield* Effect.all(
        Array.from({ length: 6 }, () => SqlMigrations.run({ tablePrefix: "race_" })),
        { concurrency: "unbounded" }
      )
      expect(runs.filter((a) => a.length > 0)).toEqual([created])
      // The store built on top of it works.
      const store = yield* SqlEventStore.make({ tablePrefix: "race_" })
      const result = yield* store.append(StreamId.forAggregate("Race", "1"), [
        { eventId: crypto.randomUUID(), type: "X", schemaVersion: 1, data: {} }
      ])
      expect(result.nextExpectedVersion).toBe(1)
    }).pipe(Effect.provide(Postgres.layer({ maxConnections: 8 })))
  )

  it.live("two stores built at once on an empty schema both start", () =>
    Effect.gen(function* () {
      const stores = yield* Effect.all(
        [SqlEventStore.make({ tablePrefix: "twin_" }), SqlEventStore.make({ tablePrefix: "twin_" })],
        { concurrency: "unbounded" }
      )
      for (const store of stores) expect(yield* store.head).toBeDefined()
    }).pipe(Effect.provide(Postgres.layer({ maxConnections: 4 })))
  )
})
