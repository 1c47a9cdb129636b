/**
 * `appendMany` on PostgreSQL: appends to several streams in one statement,
 * each with its own outcome (written, duplicate, refused), and the same
 * outcomes as `append` when they cannot share one.
 */
import { EventStore, ExpectedVersion, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Postgres from "./support/postgres.js"

const { eventData, uniqueCategory } = EventStoreConformance

const applicationName = `chronicle-append-many-${crypto.randomUUID().slice(0, 8)}`

const appendManyOf = (store: EventStore.EventStore["Type"]) => {
  const appendMany = EventStore.appendManyOf(store)
  if (appendMany === undefined) throw new Error("SqlEventStore's append has an appendMany")
  return appendMany
}

describe.skipIf(!Postgres.available)("SqlEventStore.appendMany on PostgreSQL", () => {
  layer(Postgres.storeLayer({ maxConnections: 4, applicationName }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })((it) => {
    it.effect("writes each stream's events in one transaction, with a result per append in order", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const category = uniqueCategory("Many")
        const requests = Array.from({ length: 5 }, (_, i) => ({
          streamId: StreamId.forAggregate(category, `s${i}`),
          events: Array.from({ length: (i % 2) + 1 }, (_, n) => eventData("Happened", { i, n }))
        }))
        const results = yield* appendManyOf(store)(requests)
        expect(results).toHaveLength(5)
        const written = results.map((result) => Either.getOrThrow(result))
        written.forEach((result, i) => {
          expect(result.streamId).toBe(requests[i]?.streamId)
          expect(result.nextExpectedVersion).toBe((i % 2) + 1)
          expect(result.duplicate).toBe(false)
        })
        // one statement: every event carries the same transaction id
        const commits = new Set(written.flatMap((result) => result.positions.map((p) => p.commit)))
        expect(commits.size).toBe(1)
        for (const [i, request] of requests.entries()) {
          const stored = yield* store.readEvents(request.streamId)
          expect(stored.map((e) => e.eventId)).toEqual(request.events.map((e) => e.eventId))
          expect(stored.map((e) => e.data)).toEqual(request.events.map((e) => e.data))
          expect(stored[0]?.position).toEqual(written[i]?.positions[0])
        }
      })
    )

    it.effect("a duplicate gets its stored result and bad data its own error; the others are written", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const category = uniqueCategory("ManyMixed")
        const again = eventData("Happened", { again: true })
        const first = yield* store.append(StreamId.forAggregate(category, "dup"), [again])
        const fresh = [eventData("Happened"), eventData("Happened")]
        const results = yield* appendManyOf(store)([
          { streamId: StreamId.forAggregate(category, "a"), events: [fresh[0] ?? again] },
          { streamId: StreamId.forAggregate(category, "dup"), events: [again] },
          { streamId: StreamId.forAggregate(category, "bad"), events: [eventData("Bad\u0000Type")] },
          { streamId: StreamId.forAggregate(category, "b"), events: [fresh[1] ?? again] }
        ])
        const [a, dup, bad, b] = results
        expect(a !== undefined && Either.isRight(a) && !a.right.duplicate).toBe(true)
        expect(b !== undefined && Either.isRight(b) && !b.right.duplicate).toBe(true)
        expect(dup !== undefined && Either.isRight(dup) && dup.right.duplicate).toBe(true)
        expect(dup !== undefined && Either.isRight(dup) && dup.right.positions).toEqual(first.positions)
        expect(bad !== undefined && Either.isLeft(bad) && bad.left._tag).toBe("InvalidAppendError")
        expect(yield* store.streamVersion(StreamId.forAggregate(category, "dup"))).toBe(1)
        expect(yield* store.streamVersion(StreamId.forAggregate(category, "bad"))).toBe(0)
        expect(yield* store.streamVersion(StreamId.forAggregate(category, "a"))).toBe(1)
      })
    )

    it.effect("appends with an expected version, or to one stream twice, are made as `append` makes them", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const category = uniqueCategory("ManyAlone")
        const taken = StreamId.forAggregate(category, "taken")
        yield* store.append(taken, [eventData("Happened")])
        const results = yield* appendManyOf(store)([
          { streamId: taken, events: [eventData("Happened")], options: { expectedVersion: ExpectedVersion.NoStream } },
          { streamId: StreamId.forAggregate(category, "free"), events: [eventData("Happened")] }
        ])
        expect(results[0] !== undefined && Either.isLeft(results[0]) && results[0].left._tag).toBe("ConcurrencyError")
        expect(results[1] !== undefined && Either.isRight(results[1])).toBe(true)
        const twice = StreamId.forAggregate(category, "twice")
        const both = yield* appendManyOf(store)([
          { streamId: twice, events: [eventData("First")] },
          { streamId: twice, events: [eventData("Second")] }
        ])
        expect(both.every(Either.isRight)).toBe(true)
        expect((yield* store.readEvents(twice)).map((e) => e.type).sort()).toEqual(["First", "Second"])
      })
    )

    it.effect("inside a caller's transaction its appends join it, and roll back with it", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const category = uniqueCategory("ManyTx")
        const streams = [StreamId.forAggregate(category, "x"), StreamId.forAggregate(category, "y")]
        const failed = yield* sql
          .withTransaction(
            Effect.zipRight(
              appendManyOf(store)(streams.map((streamId) => ({ streamId, events: [eventData("Happened")] }))),
              Effect.fail("roll back" as const)
            )
          )
          .pipe(Effect.flip)
        expect(failed).toBe("roll back")
        for (const streamId of streams) expect(yield* store.streamVersion(streamId)).toBe(0)
      })
    )
  })
})
