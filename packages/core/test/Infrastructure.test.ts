import { AppendError, Event, Infrastructure, StoreError } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"

class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {}) {}

const storeDown = StoreError.make({ operation: "append", reason: "unavailable", detail: "down" })
const unknown = new AppendError.UnknownOutcomeError({
  operation: "append",
  streamId: "Account-1",
  reason: "connection lost",
  cause: null
})
const undecodable = new Event.EventDecodeError({
  streamId: "Account-1",
  version: 1,
  position: "1",
  eventId: "e-1",
  eventType: "Opened",
  schemaVersion: 1,
  reason: "bad"
})

describe("Infrastructure.orDie", () => {
  it.effect("keeps domain errors as failures", () =>
    Effect.gen(function* () {
      const failing: Effect.Effect<void, InsufficientFunds | StoreError.StoreError> = Effect.fail(
        new InsufficientFunds()
      )
      const exit = yield* Effect.exit(Infrastructure.orDie(failing))
      expect(exit).toStrictEqual(Exit.fail(new InsufficientFunds()))
    })
  )

  it.effect("turns store errors, unknown outcomes and decode errors into defects", () =>
    Effect.gen(function* () {
      for (const error of [storeDown, unknown, undecodable]) {
        const failing: Effect.Effect<void, InsufficientFunds | Infrastructure.InfrastructureError> = Effect.fail(error)
        const exit = yield* Effect.exit(Infrastructure.orDie(failing))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        if (Exit.isFailure(exit)) expect(Cause.squash(exit.cause)).toBe(error)
      }
    })
  )

  it("refines infrastructure errors only", () => {
    expect(Infrastructure.isInfrastructureError(storeDown)).toBe(true)
    expect(Infrastructure.isInfrastructureError(unknown)).toBe(true)
    expect(Infrastructure.isInfrastructureError(undecodable)).toBe(true)
    expect(Infrastructure.isInfrastructureError(new InsufficientFunds())).toBe(false)
    expect(
      Infrastructure.isInfrastructureError(
        new AppendError.ConcurrencyError({ streamId: "a", expected: "1", actual: 2 })
      )
    ).toBe(false)
  })
})

describe("AppendError refinements", () => {
  it("recognise each error class and nothing else", () => {
    const conflict = new AppendError.ConcurrencyError({ streamId: "a", expected: "1", actual: 2 })
    const invalid = new AppendError.InvalidAppendError({ streamId: "a", reason: "no events" })
    expect(AppendError.isConcurrencyError(conflict)).toBe(true)
    expect(AppendError.isConcurrencyError(invalid)).toBe(false)
    expect(AppendError.isConcurrencyError({ _tag: "ConcurrencyError" })).toBe(false)
    expect(AppendError.isInvalidAppendError(invalid)).toBe(true)
    expect(AppendError.isInvalidAppendError(conflict)).toBe(false)
    expect(AppendError.isUnknownOutcomeError(unknown)).toBe(true)
    expect(AppendError.isUnknownOutcomeError(storeDown)).toBe(false)
  })
})
