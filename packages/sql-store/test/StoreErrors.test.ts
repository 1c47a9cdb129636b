/**
 * Issue 9: a `StoreError` says why a store failed (`reason`), whether a
 * retry can help (`retryable`), and keeps the driver's error. Classified
 * here from real driver failures: an unreachable PostgreSQL, a missing
 * database, a missing role, a missing table, a statement timeout, and
 * SQLite's "no such table".
 */
import { EventStore, StoreError, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it, vi } from "@effect/vitest"
import { Context, Effect, Layer, Redacted, Stream } from "effect"
import { SqlEventStore } from "../src/index.js"
import { isTransient, toStoreError } from "../src/internal/errors.js"
import * as Postgres from "./support/postgres.js"

const { eventData } = EventStoreConformance

/** The failure of `query` on a fresh `PgClient` at `url` (connecting included), as a store error. */
const pgFailure = (url: string, query = "SELECT 1") =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.unsafe(query)
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
    Effect.flip,
    Effect.map(toStoreError("read"))
  )

const withDatabase = (database: string): string => {
  const url = new URL(Postgres.databaseUrl)
  url.pathname = `/${database}`
  return url.toString()
}

describe("StoreError", () => {
  it("defaults retryable from the reason, and its message names everything", () => {
    const error = StoreError.make({ operation: "append", reason: "timeout", detail: "no answer", cause: "x" })
    expect(error.retryable).toBe(true)
    expect(error.cause).toBe("x")
    expect(error.message).toBe("Store append failed (timeout, retryable): no answer")
    const misconfigured = StoreError.make({ operation: "read", reason: "misconfigured", detail: "no table" })
    expect(misconfigured.retryable).toBe(false)
    expect(misconfigured.message).toBe("Store read failed (misconfigured, not retryable): no table")
  })

  it("refines only store errors", () => {
    const error = StoreError.make({ operation: "read", reason: "unavailable", detail: "down" })
    expect(StoreError.isStoreError(error)).toBe(true)
    expect(StoreError.isRetryable(error)).toBe(true)
    expect(StoreError.isStoreError({ _tag: "StoreError" })).toBe(false)
    expect(StoreError.isStoreError(new Error("StoreError"))).toBe(false)
    expect(StoreError.isRetryable(StoreError.make({ operation: "read", reason: "corrupt", detail: "bad" }))).toBe(false)
  })
})

describe.skipIf(!Postgres.available)("SQL errors on PostgreSQL", () => {
  it.effect("an unreachable server is unavailable and retryable", () =>
    Effect.gen(function* () {
      const error = yield* pgFailure("postgres://postgres@127.0.0.1:1/test")
      expect(error).toMatchObject({ reason: "unavailable", retryable: true, operation: "read" })
      expect(error.message).toMatch(/ECONNREFUSED/)
      expect(isTransient(error)).toBe(true)
    })
  )

  it.effect("a missing database is misconfigured, and does not read like an unreachable server", () =>
    Effect.gen(function* () {
      const missing = yield* pgFailure(withDatabase(`chronicle_missing_${Date.now()}`))
      expect(missing).toMatchObject({ reason: "misconfigured", retryable: false })
      expect(missing.message).toMatch(/database "chronicle_missing_\d+" does not exist/)
      const unreachable = yield* pgFailure("postgres://postgres@127.0.0.1:1/test")
      expect(missing.message).not.toBe(unreachable.message)
      expect(isTransient(missing)).toBe(false)
    })
  )

  it.effect("a missing role is misconfigured", () =>
    Effect.gen(function* () {
      const url = new URL(Postgres.databaseUrl)
      url.username = `chronicle_nobody_${Date.now()}`
      const error = yield* pgFailure(url.toString())
      expect(error).toMatchObject({ reason: "misconfigured", retryable: false })
    })
  )

  it.effect("a missing table is misconfigured, and the driver's error is kept", () =>
    Effect.gen(function* () {
      const error = yield* pgFailure(Postgres.databaseUrl, "SELECT * FROM chronicle_no_such_table")
      expect(error).toMatchObject({ reason: "misconfigured", retryable: false })
      expect(error.detail).toMatch(/relation "chronicle_no_such_table" does not exist/)
      expect(error.cause).toMatchObject({ _tag: "SqlError" })
    })
  )

  it.effect("a statement timeout is a retryable timeout", () =>
    Effect.gen(function* () {
      const error = yield* pgFailure(Postgres.databaseUrl, "SET statement_timeout = 20; SELECT pg_sleep(5)")
      expect(error).toMatchObject({ reason: "timeout", retryable: true })
      expect(isTransient(error)).toBe(true)
    })
  )

  // Live clock: the polling subscription must poll. Under the test clock it
  // read once, and when another test's open transaction held the feed back at
  // that moment, it waited for a poll that never came.
  it.scopedLive("on PostgreSQL, LISTEN needs the PgClient: without it the store fails, unless told to poll", () =>
    Effect.gen(function* () {
      const schema = yield* Postgres.schema
      const client = yield* Layer.build(Postgres.layerOn(schema))
      // only the SqlClient, as a hand-made layer would provide it
      const sqlOnly = Layer.succeed(SqlClient.SqlClient, Context.get(client, SqlClient.SqlClient))
      const refused = yield* Effect.flip(Layer.build(SqlEventStore.layer().pipe(Layer.provide(sqlOnly))))
      expect(refused).toMatchObject({ _tag: "StoreError", reason: "misconfigured", operation: "configure" })
      expect(refused.detail).toMatch(/PgClient/)
      const polling = yield* Layer.build(SqlEventStore.layer({ listen: false }).pipe(Layer.provide(sqlOnly)))
      const store = Context.get(polling, EventStore.EventStore)
      yield* store.append(StreamId.forAggregate("Poll", "1"), [eventData("Noted")])
      const seen = yield* store.subscribe({ pollInterval: "50 millis" }).pipe(Stream.take(1), Stream.runCollect)
      expect(seen.length).toBe(1)
    })
  )

  it.scopedLive(
    "on PostgreSQL, LISTEN without the pg driver resolvable: the store fails at start, unless told to poll",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const client = yield* Layer.build(Postgres.layerOn(schema))
        // the PgClient above is up; from here on, an import of pg fails as in an app without it
        yield* Effect.acquireRelease(
          Effect.sync(() =>
            vi.doMock("pg", () => {
              throw new Error("Cannot find package 'pg'")
            })
          ),
          () => Effect.sync(() => vi.doUnmock("pg"))
        )
        const refused = yield* Effect.flip(
          Layer.build(SqlEventStore.layer().pipe(Layer.provide(Layer.succeedContext(client))))
        )
        expect(refused).toMatchObject({ _tag: "StoreError", reason: "misconfigured", operation: "configure" })
        expect(refused.detail).toMatch(/needs the pg package/)
        // the import's error is kept (here vitest's, wrapping the one thrown above)
        expect(refused.cause).toBeInstanceOf(Error)
        const polling = yield* Layer.build(
          SqlEventStore.layer({ listen: false }).pipe(Layer.provide(Layer.succeedContext(client)))
        )
        const store = Context.get(polling, EventStore.EventStore)
        yield* store.append(StreamId.forAggregate("Poll", "1"), [eventData("Noted")])
      })
  )

  it.scoped("a store whose events table is gone fails reads as misconfigured", () =>
    Effect.gen(function* () {
      const schema = yield* Postgres.schema
      const context = yield* Layer.build(SqlEventStore.layer().pipe(Layer.provideMerge(Postgres.layerOn(schema))))
      const store = yield* Effect.provide(EventStore.EventStore, context)
      const sql = yield* Effect.provide(SqlClient.SqlClient, context)
      yield* sql.unsafe(`DROP TABLE "${schema}".chronicle_events CASCADE`)
      const error = yield* Effect.flip(store.readEvents(StreamId.forAggregate("Gone", "1")))
      expect(error).toMatchObject({ _tag: "StoreError", reason: "misconfigured", retryable: false })
      // a subscription does not wait for a table that will not come back: it ends
      const ended = yield* Effect.flip(Stream.runDrain(store.subscribe()))
      expect(ended).toMatchObject({ _tag: "StoreError", reason: "misconfigured" })
    })
  )
})

describe("SQL errors on SQLite", () => {
  it.scoped("no such table is misconfigured, for reads and appends", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        SqlEventStore.layer().pipe(Layer.provideMerge(SqliteClient.layer({ filename: ":memory:" })))
      )
      const store = yield* Effect.provide(EventStore.EventStore, context)
      const sql = yield* Effect.provide(SqlClient.SqlClient, context)
      yield* sql.unsafe("DROP TABLE chronicle_events")
      const read = yield* Effect.flip(store.readEvents(StreamId.forAggregate("Gone", "1")))
      expect(read).toMatchObject({ reason: "misconfigured", retryable: false })
      expect(read.detail).toMatch(/no such table/)
      const append = yield* Effect.flip(store.append(StreamId.forAggregate("Gone", "1"), [eventData("Noted")]))
      expect(append).toMatchObject({ _tag: "StoreError", reason: "misconfigured", retryable: false })
      expect(isTransient(append)).toBe(false)
    })
  )
})
