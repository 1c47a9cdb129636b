/**
 * `Repository.Tag`: one repository per app, built by its layer; and the
 * warning when snapshots are asked for but cannot be written.
 */
import { EventStore, Repository, SnapshotStore } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, Ref } from "effect"
import { Counter, Increment, Open } from "./fixtures/Counter.js"

class Counters extends Repository.Tag<Counters>()("test/Counters", Counter) {}

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

describe("Repository.Tag", () => {
  it.effect("its layer builds one repository that every use shares", () =>
    Effect.gen(function* () {
      const builds = yield* Ref.make(0)
      // Count the builds through the EventStore the layer asks for.
      const countingStore = Layer.effect(
        EventStore.EventStore,
        Effect.zipRight(
          Ref.update(builds, (n) => n + 1),
          EventStore.EventStore
        )
      ).pipe(Layer.provide(EventStore.layerMemory()))
      const program = Effect.gen(function* () {
        const first = yield* Counters
        yield* first.execute("c", new Open({ limit: 5 }))
        const second = yield* Counters
        expect(second).toBe(first)
        const done = yield* second.execute("c", new Increment({ by: 2 }))
        expect(done.version).toBe(2)
        return (yield* first.load("c")).state.count
      })
      expect(yield* program.pipe(Effect.provide(Counters.layer.pipe(Layer.provide(countingStore))))).toBe(2)
      expect(yield* Ref.get(builds)).toBe(1)
      expect(Counters.aggregate.name).toBe("Counter")
      expect(Counters.key).toBe("test/Counters")
    })
  )
})

describe("snapshot strategy without a SnapshotStore", () => {
  it.effect("is a warning, logged once when the repository is built, not per command", () =>
    Effect.gen(function* () {
      const [, warnings] = yield* capturingWarnings(
        Effect.gen(function* () {
          const counters = yield* Repository.make(Counter, { snapshots: { strategy: SnapshotStore.every(1) } })
          yield* counters.execute("w", new Open({ limit: 5 }))
          yield* counters.execute("w", new Increment({ by: 1 }))
        }).pipe(Effect.provide(EventStore.layerMemory()))
      )
      expect(warnings.filter((w) => w.includes("no SnapshotStore"))).toHaveLength(1)
    })
  )

  it.effect("says nothing with a SnapshotStore, or with the never strategy, or with no strategy", () =>
    Effect.gen(function* () {
      const [, warnings] = yield* capturingWarnings(
        Effect.gen(function* () {
          yield* Repository.make(Counter, { snapshots: { strategy: SnapshotStore.every(1) } }).pipe(
            Effect.provide(SnapshotStore.layerMemory)
          )
          yield* Repository.make(Counter, { snapshots: { strategy: SnapshotStore.never } })
          yield* Repository.make(Counter)
        }).pipe(Effect.provide(EventStore.layerMemory()))
      )
      expect(warnings).toEqual([])
    })
  )
})
