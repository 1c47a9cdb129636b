/**
 * The EventStore conformance suite: one set of tests that every backend must
 * pass. It is written once here and registered against the in-memory store,
 * SQLite and PostgreSQL, so "the same contract on every backend" is a tested
 * fact rather than a promise.
 *
 * Every test works in streams and categories of its own, so the suite can run
 * against a shared, non-empty database.
 *
 * @since 0.1.0
 */
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, DateTime, Effect, Either, Fiber, type Layer, Option, Ref, Schedule, Stream } from "effect"
import { InvalidAppendError, isConcurrencyError } from "../AppendError.js"
import { maxJsonDepth } from "../Backend.js"
import type { EventData, StoredEvent } from "../Event.js"
import { EventStore } from "../EventStore.js"
import * as ExpectedVersion from "../ExpectedVersion.js"
import * as Position from "../Position.js"
import * as StreamId from "../StreamId.js"

/**
 * Options of {@link suite}.
 *
 * @example
 * ```ts
 * import { EventStore } from "@chronicle/core"
 * import { EventStoreConformance } from "@chronicle/core/testing"
 *
 * // a lighter run, for a slow CI machine
 * const options: EventStoreConformance.Options = { writers: 4, eventsPerWriter: 5, subscriptionTimeout: 60_000 }
 * EventStoreConformance.suite("EventStore.layerMemory", EventStore.layerMemory(), options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Concurrent writers in the contention tests (default 16). */
  readonly writers?: number | undefined
  /** Events each concurrent writer appends (default 10). */
  readonly eventsPerWriter?: number | undefined
  /** How long a subscription test may wait for its events (default 30 s). */
  readonly subscriptionTimeout?: number | undefined
}

/**
 * A category nobody else uses: letters and digits only, no `-`.
 *
 * @example
 * ```ts
 * import { EventStore } from "@chronicle/core"
 * import { EventStoreConformance } from "@chronicle/core/testing"
 *
 * const category = EventStoreConformance.uniqueCategory("Wallet") // "Wallet3f9c…"
 * const onlyMine = EventStore.readAll({ categories: [category] })
 * ```
 * @since 0.1.0
 * @category helpers
 */
export const uniqueCategory = (label: string): string =>
  `${label}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`

/**
 * A fresh stream in a fresh category.
 *
 * @example
 * ```ts
 * import { EventStore } from "@chronicle/core"
 * import { EventStoreConformance } from "@chronicle/core/testing"
 *
 * const streamId = EventStoreConformance.uniqueStream("Wallet")
 * const appended = EventStore.append(streamId, [EventStoreConformance.eventData("Opened")])
 * ```
 * @since 0.1.0
 * @category helpers
 */
export const uniqueStream = (label = "Conf"): StreamId.StreamId => StreamId.forAggregate(uniqueCategory(label), "1")

/**
 * An encoded event with a fresh id.
 *
 * @example
 * ```ts
 * import { EventStore } from "@chronicle/core"
 * import { EventStoreConformance } from "@chronicle/core/testing"
 *
 * const events = [EventStoreConformance.eventData("Deposited", { amount: 10 }), EventStoreConformance.eventData("Closed")]
 * const appended = EventStore.append(EventStoreConformance.uniqueStream(), events)
 * ```
 * @since 0.1.0
 * @category helpers
 */
export const eventData = (type: string, data: unknown = {}, schemaVersion = 1): EventData => ({
  eventId: crypto.randomUUID(),
  type,
  schemaVersion,
  data
})

const numbered = (count: number, type = "Numbered"): ReadonlyArray<EventData> =>
  Array.from({ length: count }, (_, n) => eventData(type, { n }))

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

/** Appends one event at a time with an exact expected version, retrying on conflict. */
const appendWithRetry = (store: EventStore["Type"], streamId: StreamId.StreamId, event: EventData) =>
  Effect.gen(function* () {
    const version = yield* store.streamVersion(streamId)
    yield* Effect.yieldNow()
    return yield* store.append(streamId, [event], { expectedVersion: ExpectedVersion.exact(version) })
  }).pipe(
    Effect.retry({
      while: isConcurrencyError,
      schedule: Schedule.exponential("1 millis").pipe(
        Schedule.union(Schedule.spaced("20 millis")),
        Schedule.jittered,
        Schedule.intersect(Schedule.recurs(500))
      )
    })
  )

/** A JSON value of `levels` nested objects and arrays. */
const nested = (levels: number): unknown => {
  let value: unknown = {}
  for (let level = 1; level < levels; level++) value = level % 2 === 0 ? { inner: value } : [value]
  return value
}

/** The reason of an append refused as invalid (fails the test otherwise). */
const refusal = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.flip(effect), (error) =>
    error instanceof InvalidAppendError
      ? Effect.succeed(error.reason)
      : Effect.dieMessage(`expected an InvalidAppendError, got ${String(error)}`)
  )

const expectIncreasing = (events: ReadonlyArray<StoredEvent>) => {
  for (let i = 1; i < events.length; i++) {
    const previous = events[i - 1]
    const current = events[i]
    if (previous !== undefined && current !== undefined) {
      expect(Position.isAfter(current.position, previous.position)).toBe(true)
    }
  }
}

/**
 * Registers the whole conformance suite for a store layer.
 *
 * @example
 * ```ts
 * import { EventStore } from "@chronicle/core"
 * import { EventStoreConformance } from "@chronicle/core/testing"
 *
 * EventStoreConformance.suite("EventStore.layerMemory", EventStore.layerMemory())
 * ```
 * @since 0.1.0
 * @category suites
 */
export const suite = (name: string, storeLayer: Layer.Layer<EventStore, unknown>, options?: Options): void => {
  const writers = options?.writers ?? 16
  const perWriter = options?.eventsPerWriter ?? 10
  const subscriptionTimeout = options?.subscriptionTimeout ?? 30_000

  describe(`EventStore conformance: ${name}`, () => {
    layer(storeLayer, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
      it.effect("appends a batch with contiguous versions from 1 and reads it back intact", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          const before = yield* DateTime.now
          const batch = [eventData("Opened", { owner: "Ada", tags: ["a", "b"] }), eventData("Deposited", { amount: 5 })]
          const result = yield* store.append(stream, batch, { expectedVersion: ExpectedVersion.NoStream })
          const after = yield* DateTime.now
          expect(result.streamId).toBe(stream)
          expect(result.nextExpectedVersion).toBe(2)
          expect(result.positions).toHaveLength(2)
          expect(result.duplicate).toBe(false)

          const events = yield* collect(store.read(stream))
          expect(events.map((e) => e.version)).toEqual([1, 2])
          expect(events.map((e) => e.eventId)).toEqual(batch.map((e) => e.eventId))
          expect(events.map((e) => e.type)).toEqual(["Opened", "Deposited"])
          expect(events.map((e) => e.data)).toEqual([{ owner: "Ada", tags: ["a", "b"] }, { amount: 5 }])
          expect(events.map((e) => e.schemaVersion)).toEqual([1, 1])
          expect(events.map((e) => e.position)).toEqual(result.positions)
          expectIncreasing(events)
          for (const event of events) {
            expect(event.streamId).toBe(stream)
            expect(DateTime.Equivalence(event.recordedAt, result.recordedAt)).toBe(true)
            expect(DateTime.lessThanOrEqualTo(DateTime.subtract(before, { seconds: 1 }), event.recordedAt)).toBe(true)
            expect(DateTime.lessThanOrEqualTo(event.recordedAt, DateTime.add(after, { seconds: 1 }))).toBe(true)
          }
          expect(yield* store.streamVersion(stream)).toBe(2)
        })
      )

      it.effect("stores the schema version of each event", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          yield* store.append(stream, [eventData("Old", { a: 1 }, 1), eventData("New", { a: 1, b: 2 }, 3)])
          const events = yield* collect(store.read(stream))
          expect(events.map((e) => e.schemaVersion)).toEqual([1, 3])
        })
      )

      it.effect("an absent stream reads as empty with version 0", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          expect(yield* collect(store.read(stream))).toEqual([])
          expect(yield* store.streamVersion(stream)).toBe(0)
        })
      )

      it.effect("reads a range, backwards, and with a limit", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          yield* store.append(stream, numbered(10))
          const versions = (events: ReadonlyArray<StoredEvent>) => events.map((e) => e.version)
          expect(versions(yield* collect(store.read(stream, { from: 3, to: 5 })))).toEqual([3, 4, 5])
          expect(versions(yield* collect(store.read(stream, { direction: "backward", limit: 3 })))).toEqual([10, 9, 8])
          expect(versions(yield* collect(store.read(stream, { from: 8 })))).toEqual([8, 9, 10])
          expect(versions(yield* collect(store.read(stream, { to: 2 })))).toEqual([1, 2])
          expect(versions(yield* collect(store.read(stream, { limit: 0 })))).toEqual([])
          expect(
            versions(yield* collect(store.read(stream, { from: 4, to: 8, direction: "backward", limit: 2 })))
          ).toEqual([8, 7])
        })
      )

      it.effect("readEvents returns what read streams, for every range and direction", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          yield* store.append(stream, numbered(12))
          const ranges = [
            {},
            { from: 3, to: 5 },
            { direction: "backward", limit: 3 },
            { from: 8 },
            { to: 2 },
            { limit: 0 },
            { from: 4, to: 8, direction: "backward", limit: 2 },
            { from: 20 }
          ] as const
          for (const options of ranges) {
            const streamed = yield* collect(store.read(stream, options))
            const loaded = yield* store.readEvents(stream, options)
            expect(loaded.map((e) => e.eventId)).toEqual(streamed.map((e) => e.eventId))
          }
          expect(yield* store.readEvents(uniqueStream())).toEqual([])
        })
      )

      it.effect("enforces every expected-version mode and reports the actual version", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          const conflict = (expected: ExpectedVersion.ExpectedVersion) =>
            Effect.flip(store.append(stream, [eventData("X")], { expectedVersion: expected }))

          const onAbsent = yield* conflict(ExpectedVersion.StreamExists)
          expect(onAbsent._tag).toBe("ConcurrencyError")
          if (onAbsent._tag === "ConcurrencyError") {
            expect(onAbsent.actual).toBe(0)
            expect(onAbsent.streamId).toBe(stream)
            expect(onAbsent.expected).toBe("stream exists")
          }
          const wrongExact = yield* conflict(ExpectedVersion.exact(3))
          expect(wrongExact).toMatchObject({ _tag: "ConcurrencyError", actual: 0, expected: "3" })

          yield* store.append(stream, [eventData("X")], { expectedVersion: ExpectedVersion.NoStream })
          expect(yield* conflict(ExpectedVersion.NoStream)).toMatchObject({ _tag: "ConcurrencyError", actual: 1 })
          expect(yield* conflict(ExpectedVersion.exact(0))).toMatchObject({ _tag: "ConcurrencyError", actual: 1 })
          expect(yield* conflict(ExpectedVersion.exact(2))).toMatchObject({ _tag: "ConcurrencyError", actual: 1 })

          yield* store.append(stream, [eventData("X")], { expectedVersion: ExpectedVersion.StreamExists })
          yield* store.append(stream, [eventData("X"), eventData("X")], { expectedVersion: ExpectedVersion.exact(2) })
          const any = yield* store.append(stream, [eventData("X")], { expectedVersion: ExpectedVersion.Any })
          expect(any.nextExpectedVersion).toBe(5)
          const fresh = uniqueStream()
          expect(
            (yield* store.append(fresh, [eventData("X")], { expectedVersion: ExpectedVersion.exact(0) }))
              .nextExpectedVersion
          ).toBe(1)
          expect((yield* store.append(uniqueStream(), [eventData("X")])).nextExpectedVersion).toBe(1)
          expect(yield* store.streamVersion(stream)).toBe(5)
        })
      )

      it.effect("a refused append writes nothing", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          yield* store.append(stream, numbered(2))
          const batch = numbered(3)
          yield* Effect.flip(store.append(stream, batch, { expectedVersion: ExpectedVersion.exact(1) }))
          const invalid = [eventData("Ok"), { ...eventData("Bad"), eventId: "not-a-uuid" }]
          const error = yield* Effect.flip(store.append(stream, invalid))
          expect(error._tag).toBe("InvalidAppendError")
          expect(yield* store.streamVersion(stream)).toBe(2)
          // the ids of the refused batch are still free
          const retried = yield* store.append(stream, batch, { expectedVersion: ExpectedVersion.exact(2) })
          expect(retried.nextExpectedVersion).toBe(5)
          expect(retried.duplicate).toBe(false)
        })
      )

      it.effect("rejects invalid appends with a typed InvalidAppendError", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          const event = eventData("X")
          const reasons = yield* Effect.forEach(
            [
              [],
              [event, event],
              [{ ...eventData("X"), eventId: "123" }],
              [{ ...eventData("X"), type: "" }],
              [{ ...eventData("X"), schemaVersion: 0 }],
              [{ ...eventData("X"), schemaVersion: 1.5 }],
              [eventData("X", { big: 10n })]
            ],
            (batch) => Effect.flip(store.append(stream, batch))
          )
          for (const error of reasons) expect(error._tag).toBe("InvalidAppendError")
          expect(yield* store.streamVersion(stream)).toBe(0)
        })
      )

      it.effect("refuses payloads and metadata that JSON cannot hold exactly, naming the path", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          const sparse: Array<number> = []
          sparse[1] = 1
          const cases: ReadonlyArray<readonly [unknown, string]> = [
            [{ score: Number.NaN }, "data.score"],
            [{ nested: { ratio: Number.POSITIVE_INFINITY } }, "data.nested.ratio"],
            [{ list: [1, Number.NEGATIVE_INFINITY] }, "data.list[1]"],
            [{ missing: undefined }, "data.missing"],
            [{ list: [undefined] }, "data.list[0]"],
            [{ sparse }, "data.sparse[0]"],
            [{ when: new Date(0) }, "data.when"],
            [{ map: new Map([["a", 1]]) }, "data.map"],
            [{ run: () => 1 }, "data.run"],
            [{ "odd key": { big: 1n } }, 'data["odd key"].big'],
            [{ [Symbol("s")]: 1, plain: 1 }, "data"]
          ]
          for (const [data, path] of cases) {
            const reason = yield* refusal(store.append(stream, [eventData("Bad", data)]))
            expect(reason).toContain(path)
          }
          const inMetadata = yield* refusal(
            store.append(stream, [eventData("Ok")], { metadata: { user: { tenant: { score: Number.NaN } } } })
          )
          expect(inMetadata).toContain("metadata.user.tenant.score")
          expect(
            yield* refusal(store.append(stream, [eventData("Ok")], { metadata: { user: { at: undefined } } }))
          ).toContain("metadata.user.at")
          expect(yield* store.streamVersion(stream)).toBe(0)
          // plain JSON, null and negative zero included, is stored as given
          const fine = { n: null, zero: -0, list: [1, "two", { three: [true] }], empty: {} }
          yield* store.append(stream, [eventData("Fine", fine)], { metadata: { user: { tags: ["a"], n: null } } })
          const [stored] = yield* collect(store.read(stream))
          expect(stored?.data).toEqual({ n: null, zero: 0, list: [1, "two", { three: [true] }], empty: {} })
          expect(stored?.metadata.user).toEqual({ tags: ["a"], n: null })
        })
      )

      it.effect(`refuses payloads nested deeper than ${maxJsonDepth} levels, on every backend alike`, () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          const deepest = nested(maxJsonDepth)
          yield* store.append(stream, [eventData("Deep", deepest)])
          const [stored] = yield* collect(store.read(stream))
          expect(stored?.data).toEqual(deepest)
          for (const levels of [maxJsonDepth + 2, 1500]) {
            const reason = yield* refusal(store.append(stream, [eventData("Deeper", { tree: nested(levels) })]))
            expect(reason).toContain(`deeper than ${maxJsonDepth} levels`)
          }
          const inMetadata = yield* refusal(
            store.append(stream, [eventData("Ok")], { metadata: { user: { tree: nested(1500) } } })
          )
          expect(inMetadata).toContain("metadata.user.tree")
          expect(yield* store.streamVersion(stream)).toBe(1)
        })
      )

      it.effect("is idempotent by event id: a re-sent batch returns the first result and writes nothing", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          yield* store.append(stream, numbered(1))
          const batch = numbered(3)
          const first = yield* store.append(stream, batch, { expectedVersion: ExpectedVersion.exact(1) })
          // the same ids again, even with a now-stale expected version
          const again = yield* store.append(stream, batch, { expectedVersion: ExpectedVersion.exact(1) })
          expect(again.duplicate).toBe(true)
          expect(again.nextExpectedVersion).toBe(first.nextExpectedVersion)
          expect(again.positions).toEqual(first.positions)
          expect(DateTime.Equivalence(again.recordedAt, first.recordedAt)).toBe(true)
          expect(yield* store.streamVersion(stream)).toBe(4)
          // the same ids with a different case are the same ids
          const upper = batch.map((e) => ({ ...e, eventId: e.eventId.toUpperCase() }))
          expect((yield* store.append(stream, upper)).duplicate).toBe(true)
          expect(yield* store.streamVersion(stream)).toBe(4)
        })
      )

      it.effect("refuses event ids already used by other events, writing nothing, and says how", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          const batch = [eventData("Numbered", { a: 1, b: [2, 3] }), eventData("Numbered", { n: 1 })]
          yield* store.append(stream, batch)
          const [first, second] = batch
          if (first === undefined || second === undefined) return yield* Effect.dieMessage("no batch")
          const partial = yield* refusal(store.append(stream, [second, eventData("Fresh")]))
          expect(partial).toContain("1 of the 2 event ids are already stored")
          const reordered = yield* refusal(store.append(stream, [second, first]))
          expect(reordered).toContain("in another order")
          expect(reordered).toContain(`stored: ${first.eventId}, ${second.eventId}`)
          const elsewhere = uniqueStream()
          expect(yield* refusal(store.append(elsewhere, batch))).toContain("already used in another stream")
          // the same ids with another payload, type or schema version are other events
          const otherPayload = yield* refusal(store.append(stream, [first, { ...second, data: { n: 99 } }]))
          expect(otherPayload).toContain(
            `event id ${second.eventId} is already stored at ${stream}@2 with a different payload`
          )
          const otherType = yield* refusal(store.append(stream, [{ ...first, type: "Renamed" }, second]))
          expect(otherType).toContain("with type Numbered, not Renamed")
          const otherVersion = yield* refusal(store.append(stream, [first, { ...second, schemaVersion: 2 }]))
          expect(otherVersion).toContain("schema version 1, not 2")
          expect(yield* store.streamVersion(stream)).toBe(2)
          expect(yield* store.streamVersion(elsewhere)).toBe(0)
          // the same events with the keys of a payload in another order, and other metadata, are a retry
          const same = yield* store.append(stream, [{ ...first, data: { b: [2, 3], a: 1 } }, second], {
            metadata: { correlationId: "another-request" }
          })
          expect(same.duplicate).toBe(true)
          expect(same.nextExpectedVersion).toBe(2)
        })
      )

      it.effect("carries metadata: correlation, causation and user metadata", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          const batch = numbered(2)
          yield* store.append(stream, batch, {
            metadata: { correlationId: "corr-1", causationId: "cmd-1", user: { tenant: "acme", n: 3 } }
          })
          const defaulted = numbered(1)
          yield* store.append(stream, defaulted)
          const events = yield* collect(store.read(stream))
          expect(events.map((e) => e.metadata)).toEqual([
            { correlationId: "corr-1", causationId: "cmd-1", user: { tenant: "acme", n: 3 } },
            { correlationId: "corr-1", causationId: "cmd-1", user: { tenant: "acme", n: 3 } },
            { correlationId: defaulted[0]?.eventId, causationId: null, user: {} }
          ])
        })
      )

      it.effect("handles stream ids with quotes, unicode and SQL metacharacters, and large payloads", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const category = uniqueCategory("Weird")
          const stream = StreamId.forAggregate(
            category,
            `'"; DROP TABLE events; -- %_\\ üñïçødé 🎉 \u0000x`.replace("\u0000", "")
          )
          const big = "x".repeat(1024 * 1024)
          yield* store.append(stream, [eventData("Big", { big, quote: 'it\'s "quoted"', emoji: "🎉" })])
          const [event] = yield* collect(store.read(stream))
          expect(event?.streamId).toBe(stream)
          expect(event?.data).toEqual({ big, quote: 'it\'s "quoted"', emoji: "🎉" })
          const byCategory = yield* collect(store.readAll({ categories: [category] }))
          expect(byCategory.map((e) => e.streamId)).toEqual([stream])
        })
      )

      it.effect("events handed out cannot be changed through the API", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const stream = uniqueStream()
          yield* store.append(stream, [eventData("X", { amount: 1, nested: { a: 1 } })])
          const [event] = yield* collect(store.read(stream))
          const data = event?.data
          if (data !== null && typeof data === "object") {
            // Mutating what a reader got must not reach the log (it may throw, when frozen).
            Either.try(() => Reflect.set(data, "amount", 999))
            const nested = Reflect.get(data, "nested")
            if (nested !== null && typeof nested === "object") Either.try(() => Reflect.set(nested, "a", 999))
          }
          const [again] = yield* collect(store.read(stream))
          expect(again?.data).toEqual({ amount: 1, nested: { a: 1 } })
        })
      )

      it.effect("readAll keeps global order, each stream's order, and filters by category and type", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const a = uniqueCategory("A")
          const b = uniqueCategory("B")
          const sa1 = StreamId.forAggregate(a, "1")
          const sa2 = StreamId.forAggregate(a, "2")
          const sb1 = StreamId.forAggregate(b, "1")
          yield* store.append(sa1, [eventData("Opened"), eventData("Deposited")])
          yield* store.append(sb1, [eventData("Opened")])
          yield* store.append(sa2, [eventData("Opened")])
          yield* store.append(sa1, [eventData("Closed")])

          const both = yield* collect(store.readAll({ categories: [a, b] }))
          expect(both.map((e) => `${e.streamId}@${e.version}`)).toEqual([
            `${sa1}@1`,
            `${sa1}@2`,
            `${sb1}@1`,
            `${sa2}@1`,
            `${sa1}@3`
          ])
          expectIncreasing(both)
          const onlyA = yield* collect(store.readAll({ categories: [a] }))
          expect(onlyA.map((e) => e.type)).toEqual(["Opened", "Deposited", "Opened", "Closed"])
          const openedInA = yield* collect(store.readAll({ categories: [a], types: ["Opened"] }))
          expect(openedInA.map((e) => e.streamId)).toEqual([sa1, sa2])
          const afterSecond = yield* collect(store.readAll({ categories: [a, b], from: both[1]?.position }))
          expect(afterSecond.map((e) => e.eventId)).toEqual(both.slice(2).map((e) => e.eventId))
          const limited = yield* collect(store.readAll({ categories: [a, b], limit: 2, batchSize: 1 }))
          expect(limited.map((e) => e.eventId)).toEqual(both.slice(0, 2).map((e) => e.eventId))
          const batched = yield* collect(store.readAll({ categories: [a, b], batchSize: 2 }))
          expect(batched.map((e) => e.eventId)).toEqual(both.map((e) => e.eventId))
        })
      )

      it.effect("count (when the store has it) counts what readAll delivers, bounded by upTo and limit", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const count = store.count
          if (count === undefined) return
          const a = uniqueCategory("CountA")
          const b = uniqueCategory("CountB")
          yield* store.append(StreamId.forAggregate(a, "1"), [eventData("Opened"), eventData("Deposited")])
          yield* store.append(StreamId.forAggregate(b, "1"), [eventData("Opened")])
          yield* store.append(StreamId.forAggregate(a, "2"), [eventData("Opened"), eventData("Closed")])
          const both = yield* collect(store.readAll({ categories: [a, b] }))
          expect(both).toHaveLength(5)
          const cases: ReadonlyArray<Parameters<typeof count>[0]> = [
            { categories: [a, b] },
            { categories: [a] },
            { categories: [b] },
            { categories: [a], types: ["Opened"] },
            { categories: [a, b], types: ["Opened", "Closed"] },
            { categories: [a, b], from: both[1]?.position },
            { categories: [a, b], from: both[4]?.position },
            { categories: [a, b], upTo: both[2]?.position },
            { categories: [a], from: both[0]?.position, upTo: both[3]?.position },
            { categories: [a, b], upTo: both[0]?.position, from: both[0]?.position },
            { categories: [a, b], limit: 3 },
            { categories: [a, b], limit: 0 },
            { categories: [a, b], limit: 10 },
            { categories: [uniqueCategory("Empty")] }
          ]
          for (const options of cases) {
            const upTo = options.upTo
            const read = (yield* collect(store.readAll(options))).filter(
              (e) => upTo === undefined || Position.isAtOrAfter(upTo, e.position)
            )
            const expected = Math.min(read.length, options.limit ?? Number.POSITIVE_INFINITY)
            expect({ options, n: yield* count(options) }).toEqual({ options, n: expected })
          }
          const fromHead = yield* count({ from: yield* store.head })
          expect(fromHead).toBe(0)
        })
      )

      it.effect("head reaches the newest appended event", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const result = yield* store.append(uniqueStream(), numbered(2))
          const head = yield* store.head
          const last = result.positions[1]
          expect(last).toBeDefined()
          if (last !== undefined) expect(Position.isAtOrAfter(head, last)).toBe(true)
        })
      )

      it.effect("subscribe catches up, then goes live, with no gap and no duplicate at the switch", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const category = uniqueCategory("Sub")
          const stream = StreamId.forAggregate(category, "1")
          const early = numbered(5)
          yield* store.append(stream, early)
          const fiber = yield* store
            .subscribe({ categories: [category], pollInterval: "50 millis", batchSize: 2 })
            .pipe(Stream.take(10), Stream.runCollect, Effect.map(Chunk.toReadonlyArray), Effect.fork)
          const late = numbered(5)
          for (const event of late) yield* store.append(stream, [event])
          const seen = yield* Fiber.join(fiber).pipe(
            Effect.timeoutFail({
              duration: subscriptionTimeout,
              onTimeout: () => new Error("subscription did not deliver every event")
            })
          )
          expect(seen.map((e) => e.eventId)).toEqual([...early, ...late].map((e) => e.eventId))
          expect(seen.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        })
      )

      it.effect("subscribe resumes strictly after its start position and filters by type", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const category = uniqueCategory("Sub")
          const stream = StreamId.forAggregate(category, "1")
          const first = yield* store.append(stream, [eventData("Keep"), eventData("Skip"), eventData("Keep")])
          const from = first.positions[0]
          const seen = yield* store
            .subscribe({ categories: [category], types: ["Keep"], from, pollInterval: "50 millis" })
            .pipe(Stream.take(2), Stream.runCollect, Effect.map(Chunk.toReadonlyArray), Effect.fork)
          yield* store.append(stream, [eventData("Skip"), eventData("Keep")])
          const events = yield* Fiber.join(seen).pipe(Effect.timeout(subscriptionTimeout))
          expect(events.map((e) => e.version)).toEqual([3, 5])
        })
      )

      it.effect(
        "subscribeScanned (when the store has it) reports progress over other events, then delivers matches",
        () =>
          Effect.gen(function* () {
            const store = yield* EventStore
            const subscribe = store.subscribeScanned
            if (subscribe === undefined) return
            const wanted = uniqueCategory("Wanted")
            const from = yield* store.head
            const seen = yield* Ref.make<
              ReadonlyArray<{ readonly count: number; readonly scannedTo: Position.Position }>
            >([])
            const fiber = yield* subscribe({ categories: [wanted], from, pollInterval: "20 millis" }).pipe(
              Stream.tap((batch) => {
                for (const event of batch.events) expect(StreamId.category(event.streamId)).toBe(wanted)
                return Ref.update(seen, (all) => [...all, { count: batch.events.length, scannedTo: batch.scannedTo }])
              }),
              Stream.takeUntil((batch) => batch.events.length > 0),
              Stream.runCollect,
              Effect.map((chunk) => Chunk.toReadonlyArray(chunk).flatMap((batch) => batch.events)),
              Effect.fork
            )
            const noise = yield* store.append(uniqueStream("Noise"), [eventData("N"), eventData("N")])
            const noiseLast = noise.positions[noise.positions.length - 1] ?? Position.start
            yield* Ref.get(seen).pipe(
              Effect.repeat({
                schedule: Schedule.spaced("10 millis"),
                until: (all) => all.some((b) => b.count === 0 && Position.isAtOrAfter(b.scannedTo, noiseLast))
              }),
              Effect.timeout(subscriptionTimeout)
            )
            const appended = yield* store.append(StreamId.forAggregate(wanted, "1"), [eventData("W")])
            const events = yield* Fiber.join(fiber).pipe(Effect.timeout(subscriptionTimeout))
            expect(events.map((e) => e.position)).toEqual(appended.positions)
            const batches = yield* Ref.get(seen)
            batches.forEach((batch, i) => {
              const previous = batches[i - 1]
              if (previous !== undefined) expect(Position.isAtOrAfter(batch.scannedTo, previous.scannedTo)).toBe(true)
            })
          })
      )

      it.effect("a subscription is interruptible", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const fiber = yield* store
            .subscribe({ categories: [uniqueCategory("Idle")], pollInterval: "20 millis" })
            .pipe(Stream.runDrain, Effect.fork)
          yield* Effect.sleep("50 millis")
          yield* Fiber.interrupt(fiber)
          const exit = yield* Fiber.await(fiber)
          expect(exit._tag).toBe("Failure")
        })
      )

      it.effect(
        `${writers} concurrent writers on one stream end with exactly ${writers}×${perWriter} contiguous versions`,
        () =>
          Effect.gen(function* () {
            const store = yield* EventStore
            const stream = uniqueStream("Contended")
            const written = Array.from({ length: writers }, (_, w) => numbered(perWriter, `Writer${w}`))
            yield* Effect.forEach(
              written,
              (events) => Effect.forEach(events, (event) => appendWithRetry(store, stream, event), { discard: true }),
              { concurrency: "unbounded", discard: true }
            )
            const events = yield* collect(store.read(stream))
            expect(events.map((e) => e.version)).toEqual(Array.from({ length: writers * perWriter }, (_, i) => i + 1))
            expect(new Set(events.map((e) => e.eventId))).toEqual(new Set(written.flat().map((e) => e.eventId)))
            // each writer's own events kept their order
            for (const [w, mine] of written.entries()) {
              const order = events.filter((e) => e.type === `Writer${w}`).map((e) => e.eventId)
              expect(order).toEqual(mine.map((e) => e.eventId))
            }
            expectIncreasing(events)
          })
      )

      for (const mode of ["Any", "StreamExists"] as const) {
        it.effect(`${writers} concurrent ${mode} appends to one stream never fail`, () =>
          Effect.gen(function* () {
            const store = yield* EventStore
            const stream = uniqueStream(mode)
            yield* store.append(stream, [eventData("Opened")], { expectedVersion: ExpectedVersion.NoStream })
            const expectedVersion = mode === "Any" ? ExpectedVersion.Any : ExpectedVersion.StreamExists
            const written = Array.from({ length: writers }, (_, w) => numbered(perWriter, `Writer${w}`))
            const failures = yield* Ref.make<ReadonlyArray<string>>([])
            // no retry by the caller: these appends hold whatever the stream's version
            yield* Effect.forEach(
              written,
              (events) =>
                Effect.forEach(
                  events,
                  (event) =>
                    store
                      .append(stream, [event], { expectedVersion })
                      .pipe(Effect.catchAll((e) => Ref.update(failures, (all) => [...all, e.message]))),
                  { discard: true }
                ),
              { concurrency: "unbounded", discard: true }
            )
            expect(yield* Ref.get(failures)).toEqual([])
            const events = yield* collect(store.read(stream))
            expect(events.map((e) => e.version)).toEqual(
              Array.from({ length: writers * perWriter + 1 }, (_, i) => i + 1)
            )
            for (const [w, mine] of written.entries()) {
              const order = events.filter((e) => e.type === `Writer${w}`).map((e) => e.eventId)
              expect(order).toEqual(mine.map((e) => e.eventId))
            }
            const feed = yield* collect(store.readAll({ categories: [StreamId.category(stream)] }))
            expect(feed.map((e) => e.version)).toEqual(events.map((e) => e.version))
          })
        )
      }

      it.effect("a subscription started while writes are running sees every event exactly once, in order", () =>
        Effect.gen(function* () {
          const store = yield* EventStore
          const category = uniqueCategory("Live")
          const streams = Array.from({ length: writers }, (_, i) => StreamId.forAggregate(category, `${i}`))
          const total = writers * perWriter
          const writing = yield* Effect.forEach(
            streams,
            (stream) =>
              Effect.forEach(numbered(perWriter), (event) => store.append(stream, [event]), { discard: true }),
            { concurrency: "unbounded", discard: true }
          ).pipe(Effect.fork)
          yield* Effect.sleep("5 millis")
          const seen = yield* store.subscribe({ categories: [category], pollInterval: "50 millis", batchSize: 7 }).pipe(
            Stream.take(total),
            Stream.runCollect,
            Effect.map(Chunk.toReadonlyArray),
            Effect.timeoutFail({
              duration: subscriptionTimeout,
              onTimeout: () => new Error("subscription missed events")
            })
          )
          yield* Fiber.join(writing)
          expect(new Set(seen.map((e) => e.eventId)).size).toBe(total)
          expectIncreasing(seen)
          for (const stream of streams) {
            expect(seen.filter((e) => e.streamId === stream).map((e) => e.version)).toEqual(
              Array.from({ length: perWriter }, (_, i) => i + 1)
            )
          }
          const all = yield* collect(store.readAll({ categories: [category] }))
          expect(all.map((e) => e.eventId)).toEqual(seen.map((e) => e.eventId))
          // nothing more arrives after the last event
          const extra = yield* store
            .subscribe({ categories: [category], from: seen[seen.length - 1]?.position, pollInterval: "20 millis" })
            .pipe(Stream.take(1), Stream.runCollect, Effect.timeout("150 millis"), Effect.option)
          expect(Option.isNone(extra)).toBe(true)
        })
      )
    })
  })
}
