/**
 * Issue 8, item 15: the streams row only caches a stream's version; the
 * events are the truth. A row deleted or set back by hand must not make a
 * stream unwritable (it did: `expected version 3, actual 0` for good), and
 * repairing it must not weaken optimistic concurrency. Every SQL backend.
 */
import { EventStore, ExpectedVersion, type StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Schema } from "effect"
import { SqlEventStore } from "../src/index.js"
import { type Backend, backends } from "./support/backends.js"

const { eventData, uniqueStream } = EventStoreConformance

const VersionRows = Schema.Array(Schema.Struct({ version: Schema.Union(Schema.Number, Schema.NumberFromString) }))

/** The streams row's version, or none. */
const rowVersion = (stream: StreamId.StreamId) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT version FROM chronicle_streams WHERE stream_id = ${stream}`
    return (yield* Schema.decodeUnknown(VersionRows)(rows))[0]?.version
  })

const withThree = Effect.gen(function* () {
  const store = yield* EventStore.EventStore
  const stream = uniqueStream("Rows")
  yield* store.append(stream, [eventData("E"), eventData("E"), eventData("E")])
  return { store, stream }
})

const deleteRow = (stream: StreamId.StreamId) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DELETE FROM chronicle_streams WHERE stream_id = ${stream}`)

const setRow = (stream: StreamId.StreamId, version: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`UPDATE chronicle_streams SET version = ${version} WHERE stream_id = ${stream}`
  )

const stores = (backend: Backend) => SqlEventStore.layer().pipe(Layer.provideMerge(backend.sql))

for (const backend of backends) {
  describe.skipIf(backend.skip)(`A streams row missing or behind its events, on ${backend.name}`, () => {
    it.live("a deleted row: the version comes from the events, and every expected-version mode works", () =>
      Effect.gen(function* () {
        const { store, stream } = yield* withThree
        yield* deleteRow(stream)
        expect(yield* rowVersion(stream)).toBeUndefined()
        expect(yield* store.streamVersion(stream)).toBe(3)
        const exact = yield* store.append(stream, [eventData("E")], { expectedVersion: ExpectedVersion.exact(3) })
        expect(exact.nextExpectedVersion).toBe(4)
        expect(yield* rowVersion(stream)).toBe(4)

        yield* deleteRow(stream)
        const any = yield* store.append(stream, [eventData("E")], { expectedVersion: ExpectedVersion.Any })
        expect(any.nextExpectedVersion).toBe(5)
        yield* deleteRow(stream)
        const exists = yield* store.append(stream, [eventData("E")], { expectedVersion: ExpectedVersion.StreamExists })
        expect(exists.nextExpectedVersion).toBe(6)
        yield* deleteRow(stream)
        const noStream = yield* Effect.flip(
          store.append(stream, [eventData("E")], { expectedVersion: ExpectedVersion.NoStream })
        )
        expect(noStream).toMatchObject({ _tag: "ConcurrencyError", actual: 6, expected: "no stream" })
        const stale = yield* Effect.flip(
          store.append(stream, [eventData("E")], { expectedVersion: ExpectedVersion.exact(2) })
        )
        expect(stale).toMatchObject({ _tag: "ConcurrencyError", actual: 6, expected: "2" })
        const events = yield* store.readEvents(stream)
        expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6])
      }).pipe(Effect.provide(stores(backend)))
    )

    it.live("a row set back: appends land after the last stored event, never on top of one", () =>
      Effect.gen(function* () {
        const { store, stream } = yield* withThree
        yield* setRow(stream, 1)
        expect(yield* store.streamVersion(stream)).toBe(3)
        const any = yield* store.append(stream, [eventData("E"), eventData("E")])
        expect(any.nextExpectedVersion).toBe(5)
        yield* setRow(stream, 2)
        // the version the row claims is stale: refused, with the true version
        const stale = yield* Effect.flip(
          store.append(stream, [eventData("E")], { expectedVersion: ExpectedVersion.exact(2) })
        )
        expect(stale).toMatchObject({ _tag: "ConcurrencyError", actual: 5 })
        const exact = yield* store.append(stream, [eventData("E")], { expectedVersion: ExpectedVersion.exact(5) })
        expect(exact.nextExpectedVersion).toBe(6)
        expect(yield* rowVersion(stream)).toBe(6)
        expect((yield* store.readEvents(stream)).map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6])
      }).pipe(Effect.provide(stores(backend)))
    )

    it.live("concurrent writers on a stream whose row was deleted: exactly one wins each version", () =>
      Effect.gen(function* () {
        const { store, stream } = yield* withThree
        yield* deleteRow(stream)
        const attempts = yield* Effect.forEach(
          Array.from({ length: 8 }, () => eventData("Racer")),
          (event) => Effect.either(store.append(stream, [event], { expectedVersion: ExpectedVersion.exact(3) })),
          { concurrency: "unbounded" }
        )
        const won = attempts.filter(Either.isRight)
        const lost = attempts.filter(Either.isLeft)
        expect(won).toHaveLength(1)
        for (const failure of lost) {
          expect(failure.left._tag).toBe("ConcurrencyError")
          expect(failure.left.message).toContain("expected version 3, actual 4")
        }
        expect((yield* store.readEvents(stream)).map((e) => e.version)).toEqual([1, 2, 3, 4])
        expect(yield* rowVersion(stream)).toBe(4)
      }).pipe(Effect.provide(stores(backend)))
    )
  })
}
