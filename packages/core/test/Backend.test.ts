import { AppendError, EventStore, StreamId } from "@chronicle/core"
import * as Backend from "@chronicle/core/Backend"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck } from "effect"

const stream = StreamId.forAggregate("Prop", "1")

const withData = (data: unknown) => [{ eventId: crypto.randomUUID(), type: "T", schemaVersion: 1, data }]

const prepared = (data: unknown) => Effect.runSync(Effect.either(Backend.prepareAppend(stream, withData(data))))

/** Whether a JSON value holds a negative zero anywhere (JSON text has none: it is stored as 0). */
const hasNegativeZero = (value: unknown): boolean =>
  Object.is(value, -0) ||
  (typeof value === "object" && value !== null && Object.values(value).some((inner) => hasNegativeZero(inner)))

/** JSON values that round-trip exactly (no -0, which JSON writes as 0). */
const json = FastCheck.jsonValue({ maxDepth: 6 }).filter((v) => !hasNegativeZero(v))

/** Reverses the key order of every object in a JSON value. */
const reversedKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(reversedKeys)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reversedKeys(v)])
    )
  }
  return value
}

const poisons = FastCheck.constantFrom<unknown>(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  undefined,
  new Date(0),
  () => 1,
  1n
)

const segment = FastCheck.oneof(
  FastCheck.stringMatching(/^[a-z][a-z0-9]{0,5}$/).map((key) => ({ key, path: `.${key}` })),
  FastCheck.integer({ min: 0, max: 3 }).map((index) => ({ key: index, path: `[${index}]` }))
)

/** A JSON value with `poison` at `segments`, among other JSON. */
const plant = (
  segments: ReadonlyArray<{ readonly key: string | number }>,
  poison: unknown,
  filler: unknown
): unknown => {
  const [head, ...rest] = segments
  if (head === undefined) return poison
  const inner = plant(rest, poison, filler)
  if (typeof head.key === "number") {
    return Array.from({ length: head.key + 1 }, (_, i) => (i === head.key ? inner : filler))
  }
  return { before: filler, [head.key]: inner }
}

describe("Backend.prepareAppend", () => {
  it("stores a negative zero as 0, the only number JSON text cannot tell apart", () => {
    const result = prepared({ amount: -0, nested: [-0] })
    expect(Either.isRight(result)).toBe(true)
    if (Either.isRight(result)) expect(result.right[0]?.json).toBe('{"amount":0,"nested":[0]}')
  })

  it.prop("accepts any JSON value and stores its exact JSON text", [json], ([value]) => {
    const result = prepared(value)
    expect(Either.isRight(result)).toBe(true)
    if (Either.isRight(result)) expect(JSON.parse(result.right[0]?.json ?? "null")).toEqual(value)
  })

  it.prop(
    "refuses a value JSON cannot hold, wherever it is, naming its path",
    [FastCheck.array(segment, { minLength: 1, maxLength: 5 }), poisons, json],
    ([segments, poison, filler]) => {
      const result = prepared(plant(segments, poison, filler))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left).toBeInstanceOf(AppendError.InvalidAppendError)
        expect(result.left.reason).toContain(`data${segments.map((s) => s.path).join("")} is `)
      }
    }
  )

  it("refuses nesting deeper than maxJsonDepth, and a cycle, without overflowing the stack", () => {
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    let deep: unknown = 0
    for (let i = 0; i < 100_000; i++) deep = [deep]
    for (const value of [cyclic, deep]) {
      const result = prepared(value)
      expect(Either.isLeft(result) && result.left.reason.includes("deeper than 256 levels")).toBe(true)
    }
  })
})

describe("Backend.idempotentResult", () => {
  it.effect.prop(
    "the same events re-sent, whatever the key order of their payloads, are a duplicate; another payload is refused",
    [FastCheck.array(FastCheck.dictionary(FastCheck.string(), json), { minLength: 1, maxLength: 4 })],
    ([payloads]) =>
      Effect.gen(function* () {
        const store = yield* EventStore.makeMemory()
        const events = payloads.map((data) => ({ eventId: crypto.randomUUID(), type: "T", schemaVersion: 1, data }))
        const first = yield* store.append(stream, events)
        const again = yield* store.append(
          stream,
          events.map((e) => ({ ...e, data: reversedKeys(e.data) }))
        )
        expect(again.duplicate).toBe(true)
        expect(again.positions).toEqual(first.positions)
        const changed = events.map((e, i) => (i === events.length - 1 ? { ...e, data: { changed: true } } : e))
        const refused = yield* Effect.flip(store.append(stream, changed))
        expect(refused._tag).toBe("InvalidAppendError")
        expect(refused.message).toContain("a different payload")
        expect(yield* store.streamVersion(stream)).toBe(events.length)
      })
  )
})
