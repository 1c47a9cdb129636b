/**
 * `ExecuteOptions.expectedVersion` speaks the vocabulary of appends
 * (`ExpectedVersion`, or a number for `exact`), the `StreamId` to aggregate
 * id helper, and the functions `TimeTravel` and `Audit` offer over a
 * repository.
 */
import { Audit, EventStore, ExpectedVersion, Repository, StreamId, TimeTravel } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, FastCheck, Stream } from "effect"
import { Counter, Increment, Open } from "./fixtures/Counter.js"

const run = <A, E>(effect: Effect.Effect<A, E, EventStore.EventStore>) =>
  effect.pipe(Effect.provide(EventStore.layerMemory()))

describe("Repository.execute expectedVersion", () => {
  it.effect("NoStream: only creates the stream; on an existing one it fails at once, deciding nothing", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        const created = yield* counters.execute("n", new Open({ limit: 5 }), {
          expectedVersion: ExpectedVersion.NoStream
        })
        expect(created.version).toBe(1)
        const error = yield* Effect.flip(
          counters.execute("n", new Increment({ by: 1 }), { expectedVersion: ExpectedVersion.NoStream })
        )
        expect(error).toMatchObject({ _tag: "ConcurrencyError", expected: "0", actual: 1 })
        expect((yield* counters.load("n")).version).toBe(1)
      })
    )
  )

  it.effect("StreamExists: refuses a missing stream, accepts an existing one at any version", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, { cache: { capacity: 8 } })
        const error = yield* Effect.flip(
          counters.execute("s", new Open({ limit: 5 }), { expectedVersion: ExpectedVersion.StreamExists })
        )
        expect(error).toMatchObject({ _tag: "ConcurrencyError", expected: "stream exists", actual: 0 })
        expect((yield* counters.load("s")).version).toBe(0)
        yield* counters.execute("s", new Open({ limit: 5 }))
        yield* counters.execute("s", new Increment({ by: 1 }))
        const ok = yield* counters.execute("s", new Increment({ by: 2 }), {
          expectedVersion: ExpectedVersion.StreamExists
        })
        expect(ok.version).toBe(3)
        expect(ok.state.count).toBe(3)
      })
    )
  )

  it.effect("exact(n) means the same as n, and Any the same as no expectation", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("e", new Open({ limit: 9 }), { expectedVersion: ExpectedVersion.exact(0) })
        const stale = yield* Effect.flip(
          counters.execute("e", new Increment({ by: 1 }), { expectedVersion: ExpectedVersion.exact(0) })
        )
        expect(stale).toMatchObject({ _tag: "ConcurrencyError", expected: "0", actual: 1 })
        const bad = yield* Effect.flip(
          counters.execute("e", new Increment({ by: 1 }), { expectedVersion: ExpectedVersion.exact(-2) })
        )
        expect(bad._tag).toBe("InvalidCommandError")
        yield* counters.execute("e", new Increment({ by: 1 }), { expectedVersion: ExpectedVersion.exact(1) })
        const any = yield* counters.execute("e", new Increment({ by: 1 }), { expectedVersion: ExpectedVersion.Any })
        expect(any.version).toBe(3)
      })
    )
  )
})

describe("StreamId.aggregateId", () => {
  it.prop(
    "is the inverse of forAggregate for a category without a dash",
    [FastCheck.stringMatching(/^[A-Za-z][A-Za-z0-9_:]{0,20}$/), FastCheck.string({ minLength: 1, maxLength: 40 })],
    ([category, id]) => {
      expect(StreamId.aggregateId(StreamId.forAggregate(category, id))).toBe(id)
      expect(StreamId.category(StreamId.forAggregate(category, id))).toBe(category)
    }
  )

  it("is empty for a stream without a dash", () => {
    expect(StreamId.aggregateId("Account")).toBe("")
    expect(StreamId.aggregateId("Account-")).toBe("")
  })
})

describe("TimeTravel and Audit over a repository", () => {
  it.effect("loadAt, history and verify answer as the repository's own methods", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("t", new Open({ limit: 50 }))
        for (const by of [1, 2, 3]) yield* counters.execute("t", new Increment({ by }))
        const atTwo = yield* TimeTravel.loadAt(counters, "t", { version: 2 })
        expect(atTwo.state.count).toBe(1)
        expect(atTwo.version).toBe(2)
        const past = yield* Effect.flip(TimeTravel.loadAt(counters, "t", { version: 9 }))
        expect(past).toBeInstanceOf(TimeTravel.TemporalQueryError)
        const steps = Chunk.toReadonlyArray(
          yield* Stream.runCollect(TimeTravel.history(counters, "t", { fromVersion: 3 }))
        )
        expect(steps.map((step) => [step.version, step.stateAfter.count])).toEqual([
          [3, 3],
          [4, 6]
        ])
        const report: Audit.VerifyReport = yield* Audit.verify(counters, "t")
        expect(report).toMatchObject({ consistent: true, events: 4, eventsVersion: 4, streamVersion: 4 })
      })
    )
  )
})
