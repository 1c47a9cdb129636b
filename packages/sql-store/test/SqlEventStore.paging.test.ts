/**
 * Reading a long stream page by page (issue 12, W4). A forward page asks
 * PostgreSQL for a window of versions the size of the page, so that each
 * page costs the page whatever plan the table's statistics give; versions
 * are contiguous, but a stream with rows deleted by hand (which
 * `Repository.verify` reports as a gap) must still be read to its end, in
 * order, with no page cut short. Every SQL backend.
 */
import { EventStore, type StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"
import { SqlEventStore } from "../src/index.js"
import { type Backend, backends } from "./support/backends.js"

const { eventData, uniqueStream } = EventStoreConformance

const stores = (backend: Backend) => SqlEventStore.layer({ batchSize: 100 }).pipe(Layer.provideMerge(backend.sql))

/** A stream of `count` events, appended 500 at a time. */
const longStream = (count: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const stream = uniqueStream("Paged")
    for (let start = 0; start < count; start += 500) {
      const size = Math.min(500, count - start)
      yield* store.append(
        stream,
        Array.from({ length: size }, (_, n) => eventData("Numbered", { n: start + n }))
      )
    }
    return { store, stream }
  })

const TriggerRows = Schema.Array(Schema.Struct({ name: Schema.String, sql: Schema.String }))

/**
 * Runs a statement on the events table as only someone who switched off the
 * store's immutability triggers can.
 */
const byHand = (backend: Backend, statement: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (backend.dialect === "pg") {
      yield* sql`ALTER TABLE chronicle_events DISABLE TRIGGER USER`
      yield* statement(sql)
      yield* sql`ALTER TABLE chronicle_events ENABLE TRIGGER USER`
      return
    }
    const triggers = yield* Schema.decodeUnknown(TriggerRows)(
      yield* sql`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'chronicle_events'`
    )
    for (const trigger of triggers) yield* sql.unsafe(`DROP TRIGGER ${trigger.name}`)
    yield* statement(sql)
    for (const trigger of triggers) yield* sql.unsafe(trigger.sql)
  })

/** Deletes events by hand: the gap `Repository.verify` exists to report. */
const deleteVersions = (backend: Backend, stream: StreamId.StreamId, from: number, to: number) =>
  byHand(
    backend,
    (sql) => sql`DELETE FROM chronicle_events WHERE stream_id = ${stream} AND stream_version BETWEEN ${from} AND ${to}`
  )

/**
 * Rewrites events by hand, unchanged: on PostgreSQL each row's new version
 * goes where the heap has room (the end of the table), so the stream is no
 * longer stored in version order.
 */
const rewriteVersions = (backend: Backend, stream: StreamId.StreamId, from: number, to: number) =>
  byHand(
    backend,
    (sql) =>
      sql`UPDATE chronicle_events SET event_type = event_type
        WHERE stream_id = ${stream} AND stream_version BETWEEN ${from} AND ${to}`
  )

const VersionRows = Schema.Array(Schema.Struct({ v: Schema.Number }))

/** Reads as the repository's fold does: pages of `limit` until a short one. */
const readInPages = (stream: StreamId.StreamId, from: number, limit: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const versions: Array<number> = []
    const pageSizes: Array<number> = []
    let next = from
    for (;;) {
      const page = yield* store.readEvents(stream, { from: next, limit })
      pageSizes.push(page.length)
      for (const event of page) versions.push(event.version)
      const last = page[page.length - 1]
      if (last === undefined || page.length < limit) return { versions, pageSizes }
      next = last.version + 1
    }
  })

const range = (from: number, to: number): Array<number> => Array.from({ length: to - from + 1 }, (_, n) => from + n)

for (const backend of backends) {
  describe.skipIf(backend.skip)(`Reading a stream page by page, on ${backend.name}`, () => {
    it.live("contiguous versions: full pages, then the short last one", () =>
      Effect.gen(function* () {
        const { store, stream } = yield* longStream(2_500)
        const { versions, pageSizes } = yield* readInPages(stream, 1, 1_000)
        expect(versions).toEqual(range(1, 2_500))
        expect(pageSizes).toEqual([1_000, 1_000, 500])
        // A stream that ends exactly on a page: one more, empty, page.
        const exact = yield* readInPages(stream, 501, 1_000)
        expect(exact.pageSizes).toEqual([1_000, 1_000, 0])
        // A window past the end, and one bounded by `to`.
        expect(yield* store.readEvents(stream, { from: 2_501, limit: 1_000 })).toEqual([])
        const bounded = yield* store.readEvents(stream, { from: 1_990, to: 2_010, limit: 1_000 })
        expect(bounded.map((e) => e.version)).toEqual(range(1_990, 2_010))
      }).pipe(Effect.provide(stores(backend)))
    )

    it.live("a gap deleted by hand: no page is cut short and every event after it is read, in order", () =>
      Effect.gen(function* () {
        const { store, stream } = yield* longStream(2_500)
        yield* deleteVersions(backend, stream, 900, 1_100)
        const expected = [...range(1, 899), ...range(1_101, 2_500)]
        const { versions, pageSizes } = yield* readInPages(stream, 1, 1_000)
        expect(versions).toEqual(expected)
        expect(pageSizes).toEqual([1_000, 1_000, 299])
        // A window holding the gap and ending on a stored version: the
        // rest of the page comes from past the window.
        const around = yield* store.readEvents(stream, { from: 850, limit: 300 })
        expect(around.map((e) => e.version)).toEqual([...range(850, 899), ...range(1_101, 1_350)])
        const pastWindow = yield* store.readEvents(stream, { from: 1, limit: 1_100 })
        expect(pastWindow.map((e) => e.version)).toEqual([...range(1, 899), ...range(1_101, 1_301)])
        // A page starting inside the gap, and one whose window is all gap.
        const inside = yield* store.readEvents(stream, { from: 950, limit: 10 })
        expect(inside.map((e) => e.version)).toEqual(range(1_101, 1_110))
        const bounded = yield* store.readEvents(stream, { from: 890, to: 1_105, limit: 1_000 })
        expect(bounded.map((e) => e.version)).toEqual([...range(890, 899), ...range(1_101, 1_105)])
        // The store's own paging (batches of 100) reads the same events.
        const streamed = yield* Stream.runCollect(store.read(stream))
        expect(Chunk.toReadonlyArray(streamed).map((e) => e.version)).toEqual(expected)
        // A gap at the very end of a page's window: the page is filled from past it.
        yield* deleteVersions(backend, stream, 2_000, 2_000)
        const atEdge = yield* store.readEvents(stream, { from: 1_001, limit: 1_000 })
        expect(atEdge.length).toBe(1_000)
        expect(atEdge[atEdge.length - 1]?.version).toBe(2_101)
      }).pipe(Effect.provide(stores(backend)))
    )

    it.live("events stored out of version order are read in version order", () =>
      Effect.gen(function* () {
        const { store, stream } = yield* longStream(2_500)
        yield* rewriteVersions(backend, stream, 1_000, 1_100)
        if (backend.dialect === "pg") {
          // The precondition: the heap no longer holds the stream in version
          // order. With statistics (as an established store has), PostgreSQL
          // reads a window of 40 % of the table in heap order, not by the index.
          const sql = yield* SqlClient.SqlClient
          yield* sql`ANALYZE chronicle_events`
          const stored = yield* Schema.decodeUnknown(VersionRows)(
            yield* sql`SELECT stream_version::int AS v FROM chronicle_events
              WHERE stream_id = ${stream} AND stream_version BETWEEN 501 AND 1500 ORDER BY ctid`
          )
          expect(stored.map((r) => r.v)).not.toEqual(range(501, 1_500))
        }
        const { versions, pageSizes } = yield* readInPages(stream, 1, 1_000)
        expect(versions).toEqual(range(1, 2_500))
        expect(pageSizes).toEqual([1_000, 1_000, 500])
        const window = yield* store.readEvents(stream, { from: 501, limit: 1_000 })
        expect(window.map((e) => e.version)).toEqual(range(501, 1_500))
        expect(window.map((e) => e.data)).toEqual(range(500, 1_499).map((n) => ({ n })))
      }).pipe(Effect.provide(stores(backend)))
    )

    it.live("backward pages and a limit past the end read the same events", () =>
      Effect.gen(function* () {
        const { store, stream } = yield* longStream(1_200)
        const tail = yield* store.readEvents(stream, { direction: "backward", limit: 3 })
        expect(tail.map((e) => e.version)).toEqual([1_200, 1_199, 1_198])
        const all = yield* store.readEvents(stream)
        expect(all.map((e) => e.version)).toEqual(range(1, 1_200))
        const middle = yield* store.readEvents(stream, { from: 600, limit: 5 })
        expect(middle.map((e) => e.data)).toEqual(range(599, 603).map((n) => ({ n })))
      }).pipe(Effect.provide(stores(backend)))
    )
  })
}
