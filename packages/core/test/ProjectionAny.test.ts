import {
  Aggregate,
  type Append,
  EventStore,
  InlineProjection,
  Projection,
  ProjectionAdmin,
  ProjectionStore,
  Repository
} from "@chronicle/core"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Context, Effect, Layer, Ref, Schema, Stream } from "effect"
import { Counter, Increment, Open } from "./fixtures/Counter.js"

// Two projections over different events, errors and services: one list.
class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { n: Schema.Int }) {}
class Ping extends Schema.TaggedClass<Ping>()("Ping", { n: Schema.Int }) {}
const Pinger = Aggregate.make({
  name: "Pinger",
  events: Pinged,
  commands: Ping,
  initialState: 0,
  evolve: (count: number) => count + 1,
  decide: (command) => Effect.succeed(new Pinged({ n: command.n }))
})

class Pings extends Context.Tag("test/Pings")<Pings, Ref.Ref<ReadonlyArray<number>>>() {}
class Increments extends Context.Tag("test/Increments")<Increments, Ref.Ref<number>>() {}
class TooMany extends Schema.TaggedError<TooMany>()("TooMany", {}) {}

const PingLog = Projection.make({
  name: "ping-log",
  from: Pinger,
  events: ["Pinged"],
  handle: (recorded) => Effect.flatMap(Pings, (pings) => Ref.update(pings, (all) => [...all, recorded.event.n]))
})
const IncrementTotal = Projection.make({
  name: "increment-total",
  from: Counter,
  events: ["Incremented"],
  handle: (recorded) =>
    recorded.event.by > 1_000
      ? Effect.fail(new TooMany())
      : Effect.flatMap(Increments, (total) => Ref.update(total, (t) => t + recorded.event.by)),
  isBadData: (error) => error._tag === "TooMany"
})

const registry = [PingLog, IncrementTotal] as const

describe("Projection.Any", () => {
  it("a list of projections over different events type-checks, keeping their errors and services", () => {
    const list: ReadonlyArray<Projection.Any> = registry
    expect(list.map((p) => p.name)).toEqual(["ping-log", "increment-total"])
    expectTypeOf<Projection.RequirementsOf<(typeof registry)[number]>>().toEqualTypeOf<Pings | Increments>()
    expectTypeOf<Projection.ErrorOf<(typeof registry)[number]>>().toEqualTypeOf<TooMany>()
    expectTypeOf(InlineProjection.hook(registry)).toEqualTypeOf<Append.AppendHook<Pings | Increments>>()
    const typed: ReadonlyArray<Projection.Any<TooMany, Pings | Increments>> = registry
    expectTypeOf(ProjectionAdmin.catchUp(typed[0] ?? PingLog)).toEqualTypeOf<
      ProjectionAdmin.ProgressStream<TooMany, Pings | Increments>
    >()
  })

  it.effect("inline projections over different events run from one list", () =>
    Effect.gen(function* () {
      const pings = yield* Ref.make<ReadonlyArray<number>>([])
      const total = yield* Ref.make(0)
      const store = EventStore.layerMemory({ onAppend: InlineProjection.hook(registry) }).pipe(
        Layer.provide(Layer.merge(Layer.succeed(Pings, pings), Layer.succeed(Increments, total)))
      )
      yield* Effect.gen(function* () {
        const pingers = yield* Repository.make(Pinger)
        const counters = yield* Repository.make(Counter)
        yield* pingers.execute("p", new Ping({ n: 7 }))
        yield* counters.execute("c", new Open({ limit: 100 }))
        yield* counters.execute("c", new Increment({ by: 3 }))
        yield* pingers.execute("p", new Ping({ n: 8 }))
      }).pipe(Effect.provide(store))
      expect(yield* Ref.get(pings)).toEqual([7, 8])
      expect(yield* Ref.get(total)).toBe(3)
    })
  )

  it.effect("the runner and ProjectionAdmin take a projection from the list", () =>
    Effect.gen(function* () {
      const pings = yield* Ref.make<ReadonlyArray<number>>([])
      const total = yield* Ref.make(0)
      yield* Effect.gen(function* () {
        const pingers = yield* Repository.make(Pinger)
        const counters = yield* Repository.make(Counter)
        yield* pingers.execute("p", new Ping({ n: 1 }))
        yield* counters.execute("c", new Open({ limit: 100 }))
        yield* counters.execute("c", new Increment({ by: 5 }))
        const list: ReadonlyArray<Projection.Any<TooMany, Pings | Increments>> = registry
        for (const projection of list) yield* Stream.runDrain(ProjectionAdmin.catchUp(projection))
        const status = yield* ProjectionAdmin.status()
        expect(status.map((s) => [s.name, s.state, s.lag])).toEqual(
          expect.arrayContaining([
            ["ping-log", "caught-up", 0],
            ["increment-total", "caught-up", 0]
          ])
        )
      }).pipe(
        Effect.provide(Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory)),
        Effect.provide(Layer.merge(Layer.succeed(Pings, pings), Layer.succeed(Increments, total)))
      )
      expect(yield* Ref.get(pings)).toEqual([1])
      expect(yield* Ref.get(total)).toBe(5)
    })
  )

  it.effect("Aggregate.Any: a list of aggregates, each a source for a projection over all its events", () =>
    Effect.gen(function* () {
      const aggregates: ReadonlyArray<Aggregate.Any> = [Pinger, Counter]
      expect(aggregates.map((a) => a.name)).toEqual(["Pinger", "Counter"])
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const typesOf = aggregates.map((aggregate) =>
        Projection.make({
          name: `types-of-${aggregate.name}`,
          from: aggregate,
          handle: (recorded) => Ref.update(seen, (all) => [...all, `${recorded.streamId}:${recorded.event._tag}`])
        })
      )
      expect(typesOf.map((p) => p.filter)).toEqual([
        { categories: ["Pinger"], types: ["Pinged"] },
        { categories: ["Counter"], types: ["Opened", "Incremented", "Reset"] }
      ])
      yield* Effect.gen(function* () {
        yield* (yield* Repository.make(Pinger)).execute("p", new Ping({ n: 1 }))
        yield* (yield* Repository.make(Counter)).execute("c", new Open({ limit: 10 }))
      }).pipe(Effect.provide(EventStore.layerMemory({ onAppend: InlineProjection.hook(typesOf) })))
      expect(yield* Ref.get(seen)).toEqual(["Pinger-p:Pinged", "Counter-c:Opened"])
    })
  )
})
