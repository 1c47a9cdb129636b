import { EventStore, Repository, SnapshotStore, StoreError, StreamId } from "@chronicle/core"
import { SnapshotStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Chunk, DateTime, Effect, FastCheck, Layer, Logger, Option, Schedule, Stream } from "effect"
import { Counter, CounterCommand, Increment, Open } from "./fixtures/Counter.js"

const stores = Layer.merge(EventStore.layerMemory(), SnapshotStore.layerMemory)

SnapshotStoreConformance.suite("in memory", SnapshotStore.layerMemory)

/** Captures warnings logged while `self` runs. */
const capturingWarnings = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const messages: Array<string> = []
    const logger = Logger.make(({ message }) => {
      messages.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* self.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return [result, messages] as const
  })

const strategies = FastCheck.oneof(
  FastCheck.integer({ min: 1, max: 6 }).map((n) => ({ name: `every(${n})`, strategy: SnapshotStore.every(n) })),
  FastCheck.constant({ name: "never", strategy: SnapshotStore.never }),
  FastCheck.constant({
    name: "when the count is even",
    strategy: ({ state }: { readonly state: typeof Counter.initialState }) => state.count % 2 === 0
  })
)

const commands = FastCheck.array(Arbitrary.make(CounterCommand), { maxLength: 30 })

describe("Snapshot", () => {
  it.effect.prop(
    "for random commands and strategies, the state loaded with snapshots equals the fold of all events",
    [commands, strategies],
    ([script, { strategy }]) =>
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, { cache: false, snapshots: { strategy, mode: "inline" } })
        const id = "prop"
        const script_ = [new Open({ limit: 1000 }), ...script]
        for (const command of script_) yield* Effect.either(counters.execute(id, command))
        const withSnapshots = yield* counters.load(id)
        // a repository that sees no snapshot store folds every event
        const events = yield* Stream.runCollect(counters.events(id))
        const folded = Chunk.reduce(events, Counter.initialState, (s, e) => Counter.evolve(s, e.event))
        expect(withSnapshots.state).toEqual(folded)
        expect(withSnapshots.version).toBe(Chunk.size(events))
      }).pipe(Effect.provide(stores)),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect("every(n) snapshots after n events and load reads only the events after it", () =>
    Effect.gen(function* () {
      const counters = yield* Repository.make(Counter, {
        cache: false,
        snapshots: { strategy: SnapshotStore.every(3), mode: "inline" }
      })
      yield* counters.execute("s-1", new Open({ limit: 100 }))
      for (let i = 0; i < 4; i++) yield* counters.execute("s-1", new Increment({ by: 1 }))
      const snapshots = yield* SnapshotStore.SnapshotStore
      const snapshot = yield* snapshots.load(StreamId.forAggregate("Counter", "s-1"))
      expect(Option.map(snapshot, (s) => [s.version, s.stateVersion, s.state])).toEqual(
        Option.some([3, 1, { open: true, limit: 100, count: 2 }])
      )
      expect((yield* counters.load("s-1")).state.count).toBe(4)
    }).pipe(Effect.provide(stores))
  )

  const planted = (id: string, snapshot: { readonly stateVersion: number; readonly state: unknown }) =>
    Effect.gen(function* () {
      const counters = yield* Repository.make(Counter, { cache: false })
      yield* counters.execute(id, new Open({ limit: 100 }))
      yield* counters.execute(id, new Increment({ by: 5 }))
      const snapshots = yield* SnapshotStore.SnapshotStore
      yield* snapshots.save({
        streamId: StreamId.forAggregate("Counter", id),
        version: 2,
        position: yield* (yield* EventStore.EventStore).head,
        recordedAt: yield* DateTime.now,
        ...snapshot
      })
      return counters
    })

  it.effect("a snapshot with another state version is ignored with a warning", () =>
    Effect.gen(function* () {
      const counters = yield* planted("s-2", { stateVersion: 0, state: { open: true, limit: 100, count: 999 } })
      const [loaded, warnings] = yield* capturingWarnings(counters.load("s-2"))
      expect(loaded.state.count).toBe(5)
      expect(warnings.join("\n")).toMatch(/ignoring snapshot of Counter-s-2@2: state version 0, expected 1/)
    }).pipe(Effect.provide(stores))
  )

  it.effect("a snapshot that fails to decode is ignored with a warning", () =>
    Effect.gen(function* () {
      const counters = yield* planted("s-3", { stateVersion: 1, state: { open: "yes" } })
      const [loaded, warnings] = yield* capturingWarnings(counters.load("s-3"))
      expect(loaded.state.count).toBe(5)
      expect(warnings.join("\n")).toMatch(/ignoring snapshot of Counter-s-3@2/)
    }).pipe(Effect.provide(stores))
  )

  it.effect("a snapshot store that fails never fails a command", () =>
    Effect.gen(function* () {
      const broken = Layer.scoped(
        SnapshotStore.SnapshotStore,
        SnapshotStore.make({
          load: () => StoreError.make({ operation: "snapshot load", reason: "unavailable", detail: "disk on fire" }),
          save: () => StoreError.make({ operation: "snapshot save", reason: "unavailable", detail: "disk on fire" })
        })
      )
      const [result, warnings] = yield* capturingWarnings(
        Effect.gen(function* () {
          const counters = yield* Repository.make(Counter, {
            cache: false,
            snapshots: { strategy: SnapshotStore.every(1), mode: "inline" }
          })
          yield* counters.execute("s-4", new Open({ limit: 10 }))
          return yield* counters.execute("s-4", new Increment({ by: 2 }))
        }).pipe(Effect.provide(Layer.merge(EventStore.layerMemory(), broken)))
      )
      expect(result.state.count).toBe(2)
      expect(warnings.join("\n")).toMatch(/disk on fire/)
    })
  )

  it.live("background snapshots are written off the command's path", () =>
    Effect.gen(function* () {
      const counters = yield* Repository.make(Counter, {
        cache: false,
        snapshots: { strategy: SnapshotStore.every(2) }
      })
      yield* counters.execute("s-5", new Open({ limit: 10 }))
      yield* counters.execute("s-5", new Increment({ by: 2 }))
      const snapshots = yield* SnapshotStore.SnapshotStore
      const snapshot = yield* snapshots.load(StreamId.forAggregate("Counter", "s-5")).pipe(
        Effect.flatMap((found) => (Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail("not yet"))),
        Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(200))))
      )
      expect(snapshot.version).toBe(2)
    }).pipe(Effect.provide(stores))
  )

  it("every(n) refuses a non-positive n", () => {
    expect(() => SnapshotStore.every(0)).toThrow(/positive integer/)
  })
})
