/**
 * Reading a long stream page by page (issue 12, W4). A forward page asks
 * PostgreSQL for a window of versions the size of the page, so that each
 * page costs the page whatever plan the table's statistics give; versions
 * are contiguous, but a stream with rows deleted by hand (which
 * `Repository.verify` reports as a gap) must still be read to its end, in
 * order, with no page cut short. A page's window is read without ORDER BY
 * on PostgreSQL (in heap order), so pages in both directions, with bounds
 * inside the stream, are also read from a table whose rows are stored out of
 * version order and interleaved with other streams' rows. Every SQL backend.
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

/** The long stream of the mixed table: twelve of the test stores' internal pages (`batchSize: 100`). */
const mixedLength = 1_200
/** Versions of the long stream deleted by hand, inside a run stored from the highest version down. */
const mixedGap = range(310, 312)
const StoredRows = Schema.Array(Schema.Struct({ stream_id: Schema.String, v: Schema.Number }))

/**
 * A table whose rows are stored neither in version order nor stream by
 * stream: a long stream appended 40 events at a time between appends of 7
 * events to two other streams, then parts of it and of the others moved by
 * hand, in an order that is neither version order nor its reverse (a run of
 * versions is moved one at a time from the highest down), and a few versions
 * of that run deleted (the gap `Repository.verify` reports, which a page
 * reads past with a second statement). On PostgreSQL an unchanged update
 * puts each row's new version where the heap has room; on SQLite, whose rows
 * are stored in rowid (position) order, a row is moved by giving it a new
 * position.
 */
const mixedTable = (backend: Backend) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const stream = uniqueStream("Mixed")
    const first = uniqueStream("Other")
    const second = uniqueStream("Other")
    for (let start = 0; start < mixedLength; start += 40) {
      yield* store.append(
        stream,
        Array.from({ length: 40 }, (_, n) => eventData("Numbered", { n: start + n }))
      )
      yield* store.append(
        (start / 40) % 2 === 0 ? first : second,
        Array.from({ length: 7 }, (_, n) => eventData("Other", { n }))
      )
    }
    const moves: ReadonlyArray<readonly [StreamId.StreamId, number, number]> = [
      [stream, 600, 700],
      [stream, 150, 260],
      [first, 1, 105],
      [stream, 1_000, 1_060],
      ...range(300, 330)
        .reverse()
        .map((v) => [stream, v, v] as const),
      [stream, 1_180, 1_200],
      [second, 20, 60],
      [stream, 1_120, 1_140],
      [stream, 1_170, 1_175]
    ]
    yield* byHand(backend, (sql) =>
      Effect.forEach(
        moves,
        ([id, from, to], k) =>
          backend.dialect === "pg"
            ? sql`UPDATE chronicle_events SET event_type = event_type
                WHERE stream_id = ${id} AND stream_version BETWEEN ${from} AND ${to}`
            : sql`UPDATE chronicle_events SET position = position + ${(k + 1) * 1_000_000}
                WHERE stream_id = ${id} AND stream_version BETWEEN ${from} AND ${to}`,
        { discard: true }
      ).pipe(
        Effect.zipRight(
          sql`DELETE FROM chronicle_events
            WHERE stream_id = ${stream} AND stream_version BETWEEN ${mixedGap[0] ?? 0} AND ${mixedGap[mixedGap.length - 1] ?? 0}`
        )
      )
    )
    const sql = yield* SqlClient.SqlClient
    // With statistics, as an established store has them.
    if (backend.dialect === "pg") yield* sql`ANALYZE chronicle_events`
    // The precondition: rows in storage order are out of version order, and
    // the streams' rows are interleaved.
    const stored = yield* Schema.decodeUnknown(StoredRows)(
      backend.dialect === "pg"
        ? yield* sql`SELECT stream_id, stream_version::int AS v FROM chronicle_events ORDER BY ctid`
        : yield* sql`SELECT stream_id, stream_version AS v FROM chronicle_events ORDER BY position`
    )
    const longStored = stored.filter((r) => r.stream_id === stream).map((r) => r.v)
    expect(longStored).toHaveLength(mixedLength - mixedGap.length)
    expect(longStored).not.toEqual(range(1, mixedLength).filter((v) => !mixedGap.includes(v)))
    // The long stream's rows: in separate runs, between other streams' rows.
    const longRuns = stored.filter((r, i) => r.stream_id === stream && stored[i - 1]?.stream_id !== stream).length
    expect(longRuns).toBeGreaterThan(10)
    return { store, streams: [stream, first, second] as const }
  })

interface Bounds {
  readonly from?: number
  readonly to?: number
  readonly limit?: number
}

/** What a read of a stream of versions 1 to `length`, less `missing`, must return. */
const expectedVersions = (
  length: number,
  missing: ReadonlyArray<number>,
  bounds: Bounds,
  direction: "forward" | "backward"
): Array<number> => {
  const from = bounds.from ?? 1
  const to = Math.min(bounds.to ?? length, length)
  const versions = (from > to ? [] : range(from, to)).filter((v) => !missing.includes(v))
  const ordered = direction === "backward" ? versions.reverse() : versions
  return ordered.slice(0, bounds.limit ?? ordered.length)
}

/** Reads as a client paging by hand does: pages of `pageSize`, each resuming past the last version read. */
const readByClientPages = (
  stream: StreamId.StreamId,
  bounds: Bounds,
  direction: "forward" | "backward",
  pageSize: number
) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const versions: Array<number> = []
    let from = bounds.from ?? 1
    let to = bounds.to ?? Number.POSITIVE_INFINITY
    let remaining = bounds.limit ?? Number.POSITIVE_INFINITY
    while (remaining > 0) {
      const size = Math.min(pageSize, remaining)
      const page = yield* store.readEvents(stream, { from, to, limit: size, direction })
      for (const event of page) versions.push(event.version)
      remaining -= page.length
      const last = page[page.length - 1]
      if (last === undefined || page.length < size) break
      if (direction === "forward") from = last.version + 1
      else to = last.version - 1
    }
    return versions
  })

/**
 * Bounds inside the long stream of the mixed table (and inside the other
 * streams, 105 events each): limits of one internal page, one more, several
 * and past the range, ranges over the moved runs and ending past the stream,
 * and windows (see `forwardPage` in the PostgreSQL driver) that hold the gap
 * or the stream's end, so that the page is read on from past them.
 */
const longBounds: ReadonlyArray<Bounds> = [
  { to: 1_000 },
  { to: 1_000, limit: 250 },
  { from: 120, to: 1_010 },
  { from: 120, to: 1_010, limit: 100 },
  { from: 120, to: 1_010, limit: 101 },
  { from: 120, to: 1_010, limit: 399 },
  { from: 120, to: 1_010, limit: 5_000 },
  { from: 290, to: 335, limit: 20 },
  { from: 290, to: 400, limit: 46 },
  { from: 601, to: 1_059, limit: 300 },
  { from: 640, to: 650 },
  { from: 700, to: 700 },
  { from: 1_150, to: 5_000, limit: 30 },
  { from: 1_101 },
  { from: 1_160, limit: 100 }
]
const otherBounds: ReadonlyArray<Bounds> = [{ from: 10, to: 90 }, { from: 10, to: 90, limit: 33 }, { to: 50 }]

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
        // On SQLite an unchanged UPDATE moves no row, so there this reads an
        // in-order table (paging only); the "mixed table" tests below move
        // SQLite's rows out of version order by position instead.
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

    for (const direction of ["backward", "forward"] as const) {
      it.live(
        `${direction}: a long stream stored out of version order among other streams, read with mid-stream bounds`,
        () =>
          Effect.gen(function* () {
            const {
              store,
              streams: [stream, ...others]
            } = yield* mixedTable(backend)
            const cases = [
              ...longBounds.map((bounds) => ({ stream, length: mixedLength, missing: mixedGap, bounds })),
              ...others.flatMap((other) =>
                otherBounds.map((bounds) => ({ stream: other, length: 105, missing: [], bounds }))
              )
            ]
            for (const { stream: id, length, missing, bounds } of cases) {
              const expected = expectedVersions(length, missing, bounds, direction)
              const label = `${id} ${JSON.stringify(bounds)}`
              // One statement (readEvents), the store's own pages of 100
              // (read), and a client's pages of 100 and of 37.
              const once = yield* store.readEvents(id, { ...bounds, direction })
              expect(
                once.map((e) => e.version),
                label
              ).toEqual(expected)
              const streamed = yield* Stream.runCollect(store.read(id, { ...bounds, direction }))
              expect(
                Chunk.toReadonlyArray(streamed).map((e) => e.version),
                label
              ).toEqual(expected)
              expect(yield* readByClientPages(id, bounds, direction, 100), label).toEqual(expected)
              expect(yield* readByClientPages(id, bounds, direction, 37), label).toEqual(expected)
              // Each version's own event, not only its version number.
              if (id === stream)
                expect(
                  once.map((e) => e.data),
                  label
                ).toEqual(expected.map((v) => ({ n: v - 1 })))
            }
          }).pipe(Effect.provide(stores(backend)))
      )
    }

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
