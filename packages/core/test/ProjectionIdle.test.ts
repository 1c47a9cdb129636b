/**
 * A filtered projection while none of its events come: the feed reports how
 * far it scanned (`subscribeScanned`), the runner checkpoints that position,
 * `waitFor` of a skipped event's position completes, and a restart resumes
 * from the scanned position. On the in-memory store and on a store built by
 * `EventStore.make`; the SQL backends run the same checks in sql-store.
 */
import { EventStore, Position, Projection, ProjectionStore, Repository, StreamId } from "@chronicle/core"
import * as Backend from "@chronicle/core/Backend"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Option, Ref, Schedule, Stream } from "effect"
import * as fc from "effect/FastCheck"
import { Counter, CounterEvent, Increment, Open } from "./fixtures/Counter.js"

const { eventData } = EventStoreConformance

const fast = { pollInterval: "20 millis", leaseTtl: "3 seconds", retry: Schedule.recurs(2) } as const

/** Records where each scanned subscription starts. */
const recording = (store: EventStore.EventStore["Type"], froms: Ref.Ref<ReadonlyArray<Position.Position>>) => {
  const inner = store.subscribeScanned
  return EventStore.EventStore.of(
    inner === undefined
      ? store
      : {
          ...store,
          subscribeScanned: (options) =>
            Stream.unwrap(
              Effect.as(
                Ref.update(froms, (all) => [...all, options?.from ?? Position.start]),
                inner(options)
              )
            )
        }
  )
}

const makeCounting = Effect.gen(function* () {
  const applied = yield* Ref.make(0)
  const projection = Projection.make({
    name: "idle-counters",
    events: CounterEvent,
    categories: ["Counter"],
    handle: () => Ref.update(applied, (n) => n + 1)
  })
  return { projection, applied }
})

const checkpointOf = Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
  Effect.map(projections.get({ name: "idle-counters", version: 1 }), (record) =>
    Option.getOrElse(
      Option.flatMap(record, (r) => r.checkpoint),
      () => Position.start
    )
  )
)

/** Appends `count` events to another category, ten per append; returns the last position. */
const others = (count: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    let last = Position.start
    for (let i = 0; i < count / 10; i++) {
      const result = yield* store.append(
        StreamId.forAggregate("Other", `${i}`),
        Array.from({ length: 10 }, () => eventData("Noise", { i }))
      )
      last = result.positions[result.positions.length - 1] ?? last
    }
    return last
  })

const scenario = Effect.gen(function* () {
  const froms = yield* Ref.make<ReadonlyArray<Position.Position>>([])
  const { projection, applied } = yield* makeCounting
  const counters = yield* Repository.make(Counter)
  const opened = yield* counters.execute("a", new Open({ limit: 100 }))
  const ownLast = Option.getOrElse(opened.position, () => Position.start)
  const runner = (name: string) =>
    Layer.build(Projection.layer(projection, { ...fast, owner: name })).pipe(
      Effect.provideServiceEffect(
        EventStore.EventStore,
        Effect.map(EventStore.EventStore, (store) => recording(store, froms))
      )
    )
  const otherLast = yield* Effect.scoped(
    Effect.gen(function* () {
      yield* runner("first")
      yield* Projection.waitFor("idle-counters", ownLast, { timeout: "10 seconds" })
      expect(yield* checkpointOf).toEqual(ownLast)
      const otherLast = yield* others(200)
      // completes although no event of the projection lies at or after it
      yield* Projection.waitFor("idle-counters", otherLast, { timeout: "10 seconds" })
      // the checkpoint itself moves past the skipped events, while idle
      yield* checkpointOf.pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (p) => Position.isAtOrAfter(p, otherLast) }),
        Effect.timeout("10 seconds")
      )
      expect(yield* checkpointOf).toEqual(otherLast)
      return otherLast
    })
  )
  // a restart resumes from the scanned position, not from its last own event
  yield* Effect.scoped(
    Effect.gen(function* () {
      yield* runner("second")
      const next = yield* counters.execute("a", new Increment({ by: 1 }))
      const nextPosition = Option.getOrElse(next.position, () => Position.start)
      yield* Projection.waitFor("idle-counters", nextPosition, { timeout: "10 seconds" })
    })
  )
  const starts = yield* Ref.get(froms)
  expect(starts.length).toBe(2)
  expect(starts[0]).toEqual(Position.start)
  expect(starts[1]).toEqual(otherLast)
  // each own event applied exactly once across the restart
  expect(yield* Ref.get(applied)).toBe(2)
})

const memory = Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory)

/** A store built by `EventStore.make` over the in-memory one: `readAll`, `readEvents` and `head` only. */
const made = Layer.merge(
  Layer.effect(
    EventStore.EventStore,
    Effect.flatMap(EventStore.EventStore, (inner) =>
      EventStore.make({
        append: inner.append,
        readAll: inner.readAll,
        readEvents: inner.readEvents,
        head: inner.head
      })
    )
  ).pipe(Layer.provide(EventStore.layerMemory())),
  ProjectionStore.layerMemory
)

describe("a filtered projection while idle", () => {
  it.live("in memory: checkpoints past skipped events, waitFor completes, a restart resumes there", () =>
    scenario.pipe(Effect.provide(memory))
  )
  it.live("over EventStore.make: the same, through the derived subscribeScanned", () =>
    scenario.pipe(Effect.provide(made))
  )

  it.live("a store made with its own subscribe and no subscribeScanned still runs projections", () =>
    Effect.gen(function* () {
      const inner = yield* EventStore.EventStore
      const store = yield* EventStore.make({
        append: inner.append,
        readAll: inner.readAll,
        readEvents: inner.readEvents,
        head: inner.head,
        subscribe: inner.subscribe
      })
      expect(store.subscribeScanned).toBeUndefined()
      const { projection, applied } = yield* makeCounting
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(Projection.layer(projection, fast))
          const counters = yield* Repository.make(Counter)
          const result = yield* counters.execute("b", new Open({ limit: 1 }))
          yield* Projection.waitFor(
            "idle-counters",
            Option.getOrElse(result.position, () => Position.start),
            {
              timeout: "10 seconds"
            }
          )
        }).pipe(Effect.provideService(EventStore.EventStore, store))
      )
      expect(yield* Ref.get(applied)).toBe(1)
    }).pipe(Effect.provide(memory))
  )
})

describe("EventStore.subscribeScanned (in memory)", () => {
  it.live("reports progress over events that do not match, once per wake-up, then delivers the next match", () =>
    Effect.gen(function* () {
      const store = yield* EventStore.EventStore
      const subscribe = store.subscribeScanned
      if (subscribe === undefined) return yield* Effect.die("the memory store scans")
      const seen = yield* Ref.make<ReadonlyArray<Backend.ScannedBatch>>([])
      const fiber = yield* subscribe({ categories: ["Wanted"], pollInterval: "20 millis" }).pipe(
        Stream.tap((batch) => Ref.update(seen, (all) => [...all, batch])),
        Stream.takeUntil((batch) => batch.events.length > 0),
        Stream.runDrain,
        Effect.fork
      )
      const noise = yield* store.append(StreamId.forAggregate("Noise", "1"), [eventData("N"), eventData("N")])
      const noiseLast = noise.positions[1] ?? Position.start
      yield* Ref.get(seen).pipe(
        Effect.repeat({
          schedule: Schedule.spaced("10 millis"),
          until: (all) => all.some((b) => Position.isAtOrAfter(b.scannedTo, noiseLast))
        }),
        Effect.timeout("10 seconds")
      )
      const wanted = yield* store.append(StreamId.forAggregate("Wanted", "1"), [eventData("W")])
      yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
      const batches = yield* Ref.get(seen)
      const idle = batches.filter((b) => b.events.length === 0)
      expect(idle.length).toBeGreaterThan(0)
      for (const batch of idle) expect(Position.isAtOrAfter(noiseLast, batch.scannedTo)).toBe(true)
      const last = batches[batches.length - 1]
      expect(last?.events.map((e) => e.position)).toEqual(wanted.positions)
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.live.prop(
    "over any log: the matching events arrive once each, in order, and scannedTo never goes back nor falls behind a delivered event",
    [fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 7 })],
    ([wantedFlags, batchSize]) =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const subscribe = store.subscribeScanned
        if (subscribe === undefined) return yield* Effect.die("the memory store scans")
        for (const [i, wanted] of wantedFlags.entries()) {
          yield* store.append(StreamId.forAggregate(wanted ? "Yes" : "No", `${i}`), [eventData("E", { i })])
        }
        const head = yield* store.head
        const expected = wantedFlags.flatMap((wanted, i) => (wanted ? [i] : []))
        const batches = yield* subscribe({ categories: ["Yes"], batchSize, pollInterval: "1 millis" }).pipe(
          Stream.takeUntil((batch) => Position.isAtOrAfter(batch.scannedTo, head)),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray),
          Effect.timeout("10 seconds")
        )
        const delivered = batches.flatMap((b) =>
          b.events.map((e) => (typeof e.data === "object" && e.data !== null ? Reflect.get(e.data, "i") : undefined))
        )
        expect(delivered).toEqual(expected)
        let previous = Position.start
        for (const batch of batches) {
          expect(Position.isAtOrAfter(batch.scannedTo, previous)).toBe(true)
          const last = batch.events[batch.events.length - 1]
          if (last !== undefined) expect(Position.isAtOrAfter(batch.scannedTo, last.position)).toBe(true)
          previous = batch.scannedTo
        }
      }).pipe(Effect.provide(EventStore.layerMemory())),
    { fastCheck: { numRuns: 30 } }
  )
})

describe("Backend.scanUpToHead", () => {
  const at = (n: number) => Position.make(0n, BigInt(n))
  /** A memory store holding five events; reads through `readAll`. */
  const five = Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    yield* store.append(
      StreamId.forAggregate("S", "1"),
      Array.from({ length: 5 }, () => eventData("E"))
    )
    const readBatch: Backend.ReadBatch = (from, limit) =>
      Effect.map(Stream.runCollect(store.readAll({ from, limit })), Chunk.toReadonlyArray)
    return readBatch
  })
  it.effect("a short batch has scanned up to the head read before it", () =>
    Effect.gen(function* () {
      const scan = Backend.scanUpToHead(yield* five, Effect.succeed(at(9)))
      const batch = yield* scan(at(1), 10)
      expect(batch.events.length).toBe(4)
      expect(batch.scannedTo).toEqual(at(9))
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )
  it.effect("a full batch has scanned only up to its last event", () =>
    Effect.gen(function* () {
      const scan = Backend.scanUpToHead(yield* five, Effect.succeed(at(9)))
      const batch = yield* scan(at(1), 2)
      expect(batch.scannedTo).toEqual(at(3))
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )
  it.effect("never reports less than where it started, even with a head behind it", () =>
    Effect.gen(function* () {
      const scan = Backend.scanUpToHead(() => Effect.succeed([]), Effect.succeed(at(2)))
      expect((yield* scan(at(4), 10)).scannedTo).toEqual(at(4))
    })
  )
  it.effect("fails as the head fails", () =>
    Effect.gen(function* () {
      const failing = Backend.scanUpToHead(() => Effect.succeed([]), Effect.die("no head"))
      expect((yield* Effect.exit(failing(at(0), 1)))._tag).toBe("Failure")
    })
  )
})
