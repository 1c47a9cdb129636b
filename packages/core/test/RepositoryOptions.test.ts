/**
 * `Repository.make` and `Repository.Tag` given invalid options: each bad
 * `pageSize` and `cache.capacity` (0, negative, fractional, NaN, infinite,
 * beyond the safe integers) is a typed `RepositoryOptionsError` naming the
 * option and the value, a failure (not a defect) of the effect that builds
 * the repository; valid options still build a working repository; and the error
 * is in the type only when the options could hold such a value.
 */
import { EventStore, Repository } from "@chronicle/core"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Schedule, Stream } from "effect"
import { Counter, type CounterState, Increment, Open } from "./fixtures/Counter.js"

const bad: ReadonlyArray<number> = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]

const sameValue = (actual: unknown, expected: number) => expect(Object.is(actual, expected)).toBe(true)

describe("Repository options", () => {
  it.effect("a pageSize that is not a whole number of 1 or more is a RepositoryOptionsError", () =>
    Effect.gen(function* () {
      for (const pageSize of bad) {
        const error = yield* Effect.flip(Repository.make(Counter, { pageSize }))
        expect(error).toBeInstanceOf(Repository.RepositoryOptionsError)
        expect(error._tag).toBe("RepositoryOptionsError")
        expect(error.aggregate).toBe("Counter")
        expect(error.option).toBe("pageSize")
        sameValue(error.value, pageSize)
        expect(error.message).toBe(
          `Repository of Counter: pageSize must be a whole number of 1 or more, got ${String(pageSize)}`
        )
      }
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.effect("a cache capacity that is not a whole number of 1 or more is a RepositoryOptionsError", () =>
    Effect.gen(function* () {
      for (const capacity of bad) {
        const error = yield* Effect.flip(Repository.make(Counter, { cache: { capacity } }))
        expect(error.option).toBe("cache.capacity")
        sameValue(error.value, capacity)
        expect(error.message).toBe(
          `Repository of Counter: cache.capacity must be a whole number of 1 or more, got ${String(capacity)}`
        )
        // with a valid page size beside it, the capacity is still checked
        expect((yield* Effect.flip(Repository.make(Counter, { pageSize: 10, cache: { capacity } }))).option).toBe(
          "cache.capacity"
        )
      }
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.effect("it is a failure of the effect that builds the repository, not a defect", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Repository.make(Counter, { pageSize: 0 }))
      const failure = Exit.match(exit, { onSuccess: () => Option.none(), onFailure: Cause.failureOption })
      expect(Option.map(failure, (error) => error._tag)).toEqual(Option.some("RepositoryOptionsError"))
      expect(Exit.match(exit, { onSuccess: () => false, onFailure: Cause.isDie })).toBe(false)
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.effect("Repository.Tag with invalid options: its layer fails with the error", () =>
    Effect.gen(function* () {
      class BadCounters extends Repository.Tag<BadCounters>()("test/BadCounters", Counter, {
        cache: { capacity: 0 }
      }) {}
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(BadCounters.layer.pipe(Layer.provide(EventStore.layerMemory()))))
      )
      expect(error).toMatchObject({ _tag: "RepositoryOptionsError", option: "cache.capacity", value: 0 })
    })
  )

  it.effect("valid options build a working repository (pages of 1, a cache of 1, the cache off)", () =>
    Effect.gen(function* () {
      for (const options of [
        { pageSize: 1 },
        { pageSize: 2, cache: { capacity: 1 } },
        { pageSize: Repository.defaultPageSize, cache: false as const },
        { cache: { capacity: Repository.defaultCacheCapacity }, retry: Schedule.recurs(3) },
        {}
      ]) {
        const counters = yield* Repository.make(Counter, options)
        const id = `c-${crypto.randomUUID()}`
        yield* counters.execute(id, new Open({ limit: 100 }))
        for (let n = 0; n < 5; n++) yield* counters.execute(id, new Increment({ by: 2 }))
        const loaded = yield* counters.load(id)
        expect(loaded).toMatchObject({ version: 6, state: { open: true, count: 10 } })
        expect((yield* Stream.runCollect(counters.events(id))).length).toBe(6)
      }
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it("the error is in the type only when the options could be invalid", () => {
    expectTypeOf<Effect.Effect.Error<ReturnType<typeof noOptions>>>().toEqualTypeOf<never>()
    expectTypeOf<Effect.Effect.Error<ReturnType<typeof cacheOff>>>().toEqualTypeOf<never>()
    expectTypeOf<Effect.Effect.Error<ReturnType<typeof sized>>>().toEqualTypeOf<Repository.RepositoryOptionsError>()
    expectTypeOf<Effect.Effect.Error<ReturnType<typeof capped>>>().toEqualTypeOf<Repository.RepositoryOptionsError>()
    expectTypeOf<Effect.Effect.Error<ReturnType<typeof given>>>().toEqualTypeOf<Repository.RepositoryOptionsError>()
  })
})

const noOptions = () => Repository.make(Counter)
const cacheOff = () => Repository.make(Counter, { cache: false, retry: Schedule.stop })
const sized = () => Repository.make(Counter, { pageSize: 100 })
const capped = () => Repository.make(Counter, { cache: { capacity: 10 } })
const given = (options: Repository.Options<CounterState>) => Repository.make(Counter, options)
