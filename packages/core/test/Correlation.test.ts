import { Correlation, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck, Option } from "effect"

describe("Correlation", () => {
  it.effect("is empty by default and set within a scope only", () =>
    Effect.gen(function* () {
      expect(Option.isNone((yield* Correlation.current).correlationId)).toBe(true)
      const inside = yield* Correlation.current.pipe(Correlation.withCorrelationId("req-1"))
      expect(inside.correlationId).toEqual(Option.some("req-1"))
      const both = yield* Correlation.current.pipe(Correlation.withContext({ correlationId: "a", causationId: "b" }))
      expect(both).toEqual({ correlationId: Option.some("a"), causationId: Option.some("b") })
      expect(Option.isNone((yield* Correlation.current).correlationId)).toBe(true)
    })
  )

  it.effect("takes the effect first or last (dual)", () =>
    Effect.gen(function* () {
      const dataFirst = yield* Correlation.withCorrelationId(Correlation.current, "req-2")
      expect(dataFirst.correlationId).toEqual(Option.some("req-2"))
      // a correlation id set inside keeps the causation id around it
      const nested = yield* Correlation.withContext(Correlation.withCorrelationId(Correlation.current, "c"), {
        correlationId: "a",
        causationId: "b"
      })
      expect(nested).toEqual({ correlationId: Option.some("c"), causationId: Option.some("b") })
    })
  )

  it.prop(
    "deterministic ids are stable UUIDs, distinct for distinct names",
    [
      FastCheck.array(FastCheck.string(), { minLength: 1, maxLength: 4 }),
      FastCheck.array(FastCheck.string(), { minLength: 1, maxLength: 4 })
    ],
    ([a, b]) => {
      const id = Correlation.deterministicId(...a)
      expect(id).toBe(Correlation.deterministicId(...a))
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      if (JSON.stringify(a) !== JSON.stringify(b)) expect(Correlation.deterministicId(...b)).not.toBe(id)
    }
  )

  it("does not confuse names that concatenate alike", () => {
    expect(Correlation.deterministicId("ab", "c")).not.toBe(Correlation.deterministicId("a", "bc"))
  })
})

describe("StreamId", () => {
  it("derives categories and validates length", () => {
    expect(StreamId.category("Account-a-b")).toBe("Account")
    expect(StreamId.category("loose")).toBe("loose")
    expect(Either.isLeft(StreamId.parse(""))).toBe(true)
    expect(Either.isLeft(StreamId.parse("x".repeat(1001)))).toBe(true)
    expect(StreamId.parse("Account-1")).toEqual(Either.right("Account-1"))
  })
})
