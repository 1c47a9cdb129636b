import { Event, EventStore, InlineProjection, Projection, Repository, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema } from "effect"
import { Counter, CounterEvent, Increment, Open } from "./fixtures/Counter.js"

// The store keeps its whole contract with inline projections installed (appends
// then take turns); this one reads a type the suite never writes.
const Noop = Projection.make({
  name: "noop",
  events: Schema.TaggedStruct("NeverWritten", {}),
  handle: () => Effect.void
})
EventStoreConformance.suite(
  "InMemoryEventStore with an inline projection",
  EventStore.layerMemory({ onAppend: InlineProjection.hook([Noop]) })
)

class Refused extends Schema.TaggedError<Refused>()("Refused", { by: Schema.Number }) {}

const withTotals = (failOn?: number) =>
  Effect.gen(function* () {
    const totals = yield* Ref.make(new Map<string, number>())
    const projection = Projection.make({
      name: "inline-totals",
      events: CounterEvent,
      categories: ["Counter"],
      handle: (recorded) =>
        recorded.event._tag !== "Incremented"
          ? Effect.void
          : recorded.event.by === failOn
            ? Effect.fail(new Refused({ by: recorded.event.by }))
            : Ref.update(totals, (m) => {
                const by = recorded.event._tag === "Incremented" ? recorded.event.by : 0
                return new Map(m).set(recorded.streamId, (m.get(recorded.streamId) ?? 0) + by)
              })
    })
    return { totals, store: EventStore.layerMemory({ onAppend: InlineProjection.hook([projection]) }) }
  })

describe("InlineProjection", () => {
  it.effect("the store runs each projection's setup when it builds, before any append", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const tracked = (name: string) =>
        Projection.make({
          name,
          events: CounterEvent,
          setup: () => Ref.update(log, (l) => [...l, `setup ${name}`]),
          handle: () => Ref.update(log, (l) => [...l, `handle ${name}`])
        })
      const store = EventStore.layerMemory({ onAppend: InlineProjection.hook([tracked("a"), tracked("b")]) })
      yield* Effect.gen(function* () {
        expect(yield* Ref.get(log)).toEqual(["setup a", "setup b"])
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("s", new Open({ limit: 1 }))
        expect(yield* Ref.get(log)).toEqual(["setup a", "setup b", "handle a", "handle b"])
      }).pipe(Effect.provide(store))
    })
  )

  it.effect("a failing setup fails the store's layer, with its error as the cause", () =>
    Effect.gen(function* () {
      const broken = Projection.make({
        name: "broken",
        events: CounterEvent,
        setup: () => Effect.fail(new Refused({ by: 0 })),
        handle: () => Effect.void
      })
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(EventStore.layerMemory({ onAppend: InlineProjection.hook([broken]) })))
      )
      expect(error).toMatchObject({ _tag: "StoreError", operation: "inline projection broken setup" })
      expect(error.cause).toEqual(new Refused({ by: 0 }))
    })
  )

  it.effect("two projections with one name fail the store's layer loudly", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(EventStore.layerMemory({ onAppend: InlineProjection.hook([Noop, Noop]) })))
      )
      expect(error).toMatchObject({ _tag: "StoreError", reason: "misconfigured", retryable: false })
      expect(error.detail).toBe("inline projections registered more than once: noop")
    })
  )

  it.effect("updates the read model before the append returns", () =>
    Effect.gen(function* () {
      const { totals, store } = yield* withTotals()
      yield* Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("a", new Open({ limit: 100 }))
        yield* counters.execute("a", new Increment({ by: 4 }))
        expect((yield* Ref.get(totals)).get("Counter-a")).toBe(4)
        yield* counters.execute("a", new Increment({ by: 5 }))
        expect((yield* Ref.get(totals)).get("Counter-a")).toBe(9)
        // events of other categories are not given to it
        const raw = yield* EventStore.EventStore
        yield* raw.append(StreamId.forAggregate("Other", "1"), [
          { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1000 } }
        ])
        expect((yield* Ref.get(totals)).size).toBe(1)
      }).pipe(Effect.provide(store))
    })
  )

  it.effect("a failing handler fails the append with a StoreError naming it, and nothing is written", () =>
    Effect.gen(function* () {
      const { totals, store } = yield* withTotals(13)
      yield* Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("b", new Open({ limit: 100 }))
        const error = yield* Effect.flip(counters.execute("b", new Increment({ by: 13 })))
        expect(error).toMatchObject({ _tag: "StoreError", operation: "inline projection inline-totals" })
        expect(error.message).toMatch(/Refused/)
        // the handler's own error is kept whole
        expect(error._tag === "StoreError" ? error.cause : undefined).toEqual(new Refused({ by: 13 }))
        expect((yield* counters.load("b")).version).toBe(1)
        expect((yield* Ref.get(totals)).get("Counter-b")).toBeUndefined()
      }).pipe(Effect.provide(store))
    })
  )

  it.effect("an event the projection cannot decode fails the append, with the EventDecodeError as its cause", () =>
    Effect.gen(function* () {
      const { totals, store } = yield* withTotals()
      yield* Effect.gen(function* () {
        const raw = yield* EventStore.EventStore
        const error = yield* Effect.flip(
          raw.append(StreamId.forAggregate("Counter", "d"), [
            { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: "many" } }
          ])
        )
        expect(error).toMatchObject({ _tag: "StoreError", operation: "inline projection inline-totals" })
        expect(error._tag === "StoreError" ? error.cause : undefined).toBeInstanceOf(Event.EventDecodeError)
        expect(yield* raw.streamVersion(StreamId.forAggregate("Counter", "d"))).toBe(0)
        expect((yield* Ref.get(totals)).size).toBe(0)
      }).pipe(Effect.provide(store))
    })
  )

  it.effect("concurrent appends stay contiguous while handlers run", () =>
    Effect.gen(function* () {
      const { totals, store } = yield* withTotals()
      yield* Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c", new Open({ limit: 1000 }))
        yield* Effect.all(
          Array.from({ length: 20 }, () => counters.execute("c", new Increment({ by: 1 }))),
          { concurrency: "unbounded" }
        )
        const loaded = yield* counters.load("c")
        expect(loaded.version).toBe(21)
        expect((yield* Ref.get(totals)).get("Counter-c")).toBe(20)
      }).pipe(Effect.provide(store))
    })
  )
})
