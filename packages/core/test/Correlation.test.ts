import { createHash } from "node:crypto"
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

  // Stored event ids are derived from command ids: a command retried after an
  // upgrade must derive the ids it derived before, so these never change.
  it("derives the same ids as always (known values, multi-byte and long names)", () => {
    expect(Correlation.deterministicId("transfer", "t-42", "debit")).toBe("d3ed6445-0f41-5f6c-9b99-c38c7e48de7c")
    expect(Correlation.deterministicId("Konto-Ä", "😀", "ß".repeat(200))).toBe("7fac32ec-6c3b-55df-9b42-e4d2c886d6b0")
    expect(Correlation.deterministicId("x".repeat(1000))).toBe("11194ea1-508d-57ed-ae6f-e6460a636f8e")
  })

  it.prop(
    "deterministic ids are RFC 4122 v5 UUIDs of the length-prefixed names in Chronicle's namespace",
    [FastCheck.array(FastCheck.fullUnicodeString({ maxLength: 300 }), { minLength: 1, maxLength: 3 })],
    ([names]) => {
      // Independently: SHA-1 of the namespace's bytes and the name's UTF-8, version and variant bits set.
      const digest = createHash("sha1")
        .update(Buffer.from("3d0f5a1e6c2b4e8f9a7d1c5b2e4f6a80", "hex"))
        .update(names.map((n) => `${n.length}:${n}`).join("|"), "utf8")
        .digest()
      digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x50
      digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80
      const hex = digest.subarray(0, 16).toString("hex")
      expect(Correlation.deterministicId(...names)).toBe(
        `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
      )
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
