/**
 * Issue 12: `EventCodec.decode` takes a fast path for `Schema.Class` /
 * `TaggedClass` members (the encoded struct's decode, then the class's own
 * construction step). These properties prove it gives exactly what the
 * Schema's own decode gives: the same value for every generated event, and
 * for damaged payloads the same failure message.
 */
import { EventCodec, Position, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, DateTime, Either, FastCheck, ParseResult, Schema } from "effect"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  amount: Schema.Int,
  currency: Schema.Literal("EUR", "USD"),
  note: Schema.optional(Schema.String),
  at: Schema.DateFromString
}) {}
class Tagged extends Schema.TaggedClass<Tagged>()("Tagged", {
  labels: Schema.Array(Schema.String),
  owner: Schema.Struct({ name: Schema.NonEmptyString, age: Schema.NullOr(Schema.Int) }),
  limit: Schema.optionalWith(Schema.Finite, { default: () => 100 }),
  id: Schema.String.pipe(Schema.brand("Id"))
}) {}
class Closed extends Schema.TaggedClass<Closed>()("Closed", {}) {}
const Renamed = Schema.TaggedStruct("Renamed", { from: Schema.String, to: Schema.String })
class Range extends Schema.TaggedClass<Range>()("Checked", { low: Schema.Finite, high: Schema.Finite }) {}
// a refined class: not a plain class transformation, so it decodes whole
const Checked = Range.pipe(Schema.filter((c) => c.low <= c.high || "low must not exceed high"))

const Events = Schema.Union(Deposited, Tagged, Closed, Renamed, Checked)
type Events = typeof Events.Type
const members: Record<string, Schema.Schema<unknown, unknown>> = {
  Deposited: Deposited as Schema.Schema<unknown, unknown>,
  Tagged: Tagged as Schema.Schema<unknown, unknown>,
  Closed: Closed as Schema.Schema<unknown, unknown>,
  Renamed: Renamed as Schema.Schema<unknown, unknown>,
  Checked: Checked as Schema.Schema<unknown, unknown>
}
const codec = EventCodec.make(Events)

const stored = (type: string, data: unknown) => ({
  eventId: crypto.randomUUID(),
  streamId: StreamId.forAggregate("Codec", "1"),
  version: 1,
  position: Position.start,
  type,
  schemaVersion: 1,
  data,
  metadata: { correlationId: "c", causationId: null, user: {} },
  recordedAt: DateTime.unsafeMake(0)
})

/** The Schema's own decode of a stored payload, as the codec's slow path runs it. */
const reference = (type: string, data: object) => {
  const member = members[type]
  if (member === undefined) throw new Error(`no member ${type}`)
  return Schema.decodeUnknownEither(member)({ ...data, _tag: type })
}

const jsonPayload = (event: Events): { readonly type: string; readonly data: Record<string, unknown> } => {
  const encoded = codec.encode(event)
  if (Either.isLeft(encoded)) throw encoded.left
  return { type: encoded.right.type, data: JSON.parse(JSON.stringify(encoded.right.data)) }
}

const events = Arbitrary.make(Events)
const json = FastCheck.jsonValue({ maxDepth: 2 })

describe("EventCodec.decode: the fast path equals the Schema's own decode", () => {
  it.prop("every generated event decodes to the very same value", [events], ([event]) => {
    const { type, data } = jsonPayload(event)
    const fast = codec.decode(stored(type, data))
    const slow = reference(type, data)
    expect(Either.isRight(slow)).toBe(true)
    expect(Either.isRight(fast)).toBe(true)
    if (Either.isRight(fast) && Either.isRight(slow)) {
      expect(fast.right.event).toStrictEqual(slow.right)
      expect(Object.getPrototypeOf(fast.right.event)).toBe(Object.getPrototypeOf(slow.right))
      expect(Object.keys(fast.right.event)).toEqual(Object.keys(slow.right as object))
    }
  })

  it.prop(
    "a damaged payload fails with exactly the Schema's own message (or decodes to the same value)",
    [events, FastCheck.nat(), json, FastCheck.boolean()],
    ([event, pick, replacement, remove]) => {
      const { type, data } = jsonPayload(event)
      const keys = [...Object.keys(data), "_tag", "unknownField"]
      const key = keys[pick % keys.length] ?? "_tag"
      const damaged: Record<string, unknown> = { ...data }
      if (remove) delete damaged[key]
      else damaged[key] = replacement
      const fast = codec.decode(stored(type, damaged))
      const slow = reference(type, damaged)
      if (Either.isLeft(slow)) {
        expect(Either.isLeft(fast)).toBe(true)
        if (Either.isLeft(fast)) {
          expect(fast.left.reason).toBe(ParseResult.TreeFormatter.formatErrorSync(slow.left))
          expect(fast.left.eventType).toBe(type)
        }
      } else {
        expect(Either.isRight(fast)).toBe(true)
        if (Either.isRight(fast)) expect(fast.right.event).toStrictEqual(slow.right)
      }
    }
  )

  it("a bad row's message names the field, as the Schema says it", () => {
    const result = codec.decode(stored("Deposited", { amount: 1.5, currency: "EUR", at: "2020-01-01T00:00:00Z" }))
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.reason).toContain('["amount"]')
      expect(result.left.reason).toContain("Expected an integer, actual 1.5")
    }
    const refined = codec.decode(stored("Checked", { low: 2, high: 1 }))
    expect(Either.isLeft(refined)).toBe(true)
    if (Either.isLeft(refined)) expect(refined.left.reason).toContain("low must not exceed high")
  })
})
