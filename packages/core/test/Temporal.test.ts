import { EventStore, Repository, SnapshotStore, TimeTravel } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Chunk, DateTime, Effect, FastCheck, Layer, Option, Stream, TestClock } from "effect"
import { Counter, CounterCommand, Increment, Open, ResetCounter } from "./fixtures/Counter.js"

const stores = Layer.merge(EventStore.layerMemory(), SnapshotStore.layerMemory)
const t0 = DateTime.unsafeMake("2026-01-01T10:00:00Z")
const at = (minutes: number) => DateTime.add(t0, { minutes })

/** Executes each command with the test clock set to its minute. */
const scripted = (id: string, steps: ReadonlyArray<readonly [number, typeof CounterCommand.Type]>) =>
  Effect.gen(function* () {
    const counters = yield* Repository.make(Counter, {
      snapshots: { strategy: SnapshotStore.every(2), mode: "inline" }
    })
    for (const [minute, command] of steps) {
      yield* TestClock.setTime(DateTime.toEpochMillis(at(minute)))
      yield* counters.execute(id, command)
    }
    return counters
  })

describe("Repository.loadAt and history", () => {
  it.effect.prop(
    "loadAt({ version: k }) equals the fold of the first k events, for all k (with snapshots in play)",
    [FastCheck.array(Arbitrary.make(CounterCommand), { maxLength: 25 })],
    ([script]) =>
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, {
          snapshots: { strategy: SnapshotStore.every(3), mode: "inline" }
        })
        for (const command of [new Open({ limit: 500 }), ...script])
          yield* Effect.either(counters.execute("p", command))
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.events("p")))
        for (let k = 0; k <= events.length; k++) {
          const expected = events.slice(0, k).reduce((s, e) => Counter.evolve(s, e.event), Counter.initialState)
          const loaded = yield* counters.loadAt("p", { version: k })
          expect(loaded.state).toEqual(expected)
          expect(loaded.version).toBe(k)
        }
      }).pipe(Effect.provide(stores)),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect("at-queries: before the first event, between events, and after the last", () =>
    Effect.gen(function* () {
      const counters = yield* scripted("t-1", [
        [0, new Open({ limit: 100 })],
        [10, new Increment({ by: 5 })],
        [20, new Increment({ by: 7 })],
        [30, new Increment({ by: 1 })]
      ])
      const before = yield* counters.loadAt("t-1", { at: DateTime.subtract(t0, { seconds: 1 }) })
      expect(before.version).toBe(0)
      expect(before.state).toEqual(Counter.initialState)
      expect(Option.isNone(before.position)).toBe(true)
      expect((yield* counters.loadAt("t-1", { at: t0 })).version).toBe(1)
      const between = yield* counters.loadAt("t-1", { at: at(15) })
      expect(between.version).toBe(2)
      expect(between.state.count).toBe(5)
      // exactly at an event's time includes it; a snapshot at version 4 (minute 30) is newer and not used
      expect((yield* counters.loadAt("t-1", { at: at(20) })).state.count).toBe(12)
      const after = yield* counters.loadAt("t-1", { at: at(999) })
      expect(after.version).toBe(4)
      expect(after.state.count).toBe(13)
    }).pipe(Effect.provide(stores))
  )

  it.effect("position queries stop at the global position", () =>
    Effect.gen(function* () {
      const counters = yield* scripted("t-2", [
        [0, new Open({ limit: 100 })],
        [1, new Increment({ by: 2 })],
        [2, new Increment({ by: 3 })]
      ])
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.events("t-2")))
      const second = events[1]
      expect(second).toBeDefined()
      if (second !== undefined) {
        const loaded = yield* counters.loadAt("t-2", { position: second.position })
        expect(loaded.version).toBe(2)
        expect(loaded.state.count).toBe(2)
      }
    }).pipe(Effect.provide(stores))
  )

  it.effect("rejects invalid versions and versions past the end with a typed TemporalQueryError", () =>
    Effect.gen(function* () {
      const counters = yield* scripted("t-3", [[0, new Open({ limit: 100 })]])
      for (const version of [-1, 1.5, 2, 100]) {
        const error = yield* Effect.flip(counters.loadAt("t-3", { version }))
        expect(error._tag).toBe("TemporalQueryError")
      }
      expect((yield* Effect.flip(counters.loadAt("t-3", { version: 5 }))).message).toMatch(
        /past the end of the stream \(1 events\)/
      )
      expect((yield* counters.loadAt("t-3", { version: 0 })).version).toBe(0)
      expect((yield* counters.loadAt("nobody", { version: 0 })).version).toBe(0)
    }).pipe(Effect.provide(stores))
  )

  it.effect("history streams each event with the state after it, and can start at a version", () =>
    Effect.gen(function* () {
      const counters = yield* scripted("t-4", [
        [0, new Open({ limit: 100 })],
        [1, new Increment({ by: 4 })],
        [2, new Increment({ by: 6 })],
        [3, new ResetCounter()]
      ])
      const history = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.history("t-4")))
      expect(history.map((h) => [h.version, h.event._tag, h.stateAfter.count])).toEqual([
        [1, "Opened", 0],
        [2, "Incremented", 4],
        [3, "Incremented", 10],
        [4, "Reset", 0]
      ])
      expect(history.map((h) => DateTime.toEpochMillis(h.recordedAt))).toEqual(
        [0, 1, 2, 3].map((m) => DateTime.toEpochMillis(at(m)))
      )
      expect(history.every((h) => h.metadata.causationId !== null)).toBe(true)
      const tail = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.history("t-4", { fromVersion: 3 })))
      expect(tail.map((h) => [h.version, h.stateAfter.count])).toEqual([
        [3, 10],
        [4, 0]
      ])
      // time travel: the state at any step, and what changed between two steps
      expect(TimeTravel.stateAt(history, 2)).toEqual(Option.some({ open: true, limit: 100, count: 4 }))
      expect(TimeTravel.between(history, 2, 4)).toEqual(Option.some([{ path: "count", before: 4, after: 0 }]))
      expect(TimeTravel.between(history, 2, 9)).toEqual(Option.none())
    }).pipe(Effect.provide(stores))
  )
})

describe("TimeTravel.diff", () => {
  it("walks objects and arrays and reports added and removed fields", () => {
    expect(TimeTravel.diff({ a: 1, b: [1, 2], c: { d: "x" } }, { a: 1, b: [1, 3, 4], c: {}, e: true })).toEqual([
      { path: "b[1]", before: 2, after: 3 },
      { path: "b[2]", before: undefined, after: 4 },
      { path: "c.d", before: "x", after: undefined },
      { path: "e", before: undefined, after: true }
    ])
    expect(TimeTravel.diff({ a: 1 }, { a: 1 })).toEqual([])
    expect(TimeTravel.diff(1, "1")).toEqual([{ path: "", before: 1, after: "1" }])
  })
})
