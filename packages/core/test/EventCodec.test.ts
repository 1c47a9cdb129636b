import { EventCodec, Position, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Either, Schema } from "effect"
import { CounterEvent, Incremented, Opened, Reset } from "./fixtures/Counter.js"

const codec = EventCodec.make(CounterEvent, { versions: { Incremented: 2 } })

const stored = (type: string, data: unknown, schemaVersion = 1) => ({
  eventId: "6f1c1a4e-8a0e-4a57-9d1a-9b8ad2b6c001",
  streamId: StreamId.forAggregate("Counter", "1"),
  version: 3,
  position: Position.make(0n, 17n),
  type,
  schemaVersion,
  data,
  metadata: { correlationId: "c", causationId: null, user: {} },
  recordedAt: DateTime.unsafeMake(0)
})

describe("EventCodec", () => {
  it("refuses a row the store marked corrupt, naming it, even when its payload would decode", () => {
    const row = { ...stored("Opened", { limit: 4 }), corrupt: "metadata: correlationId: is missing" }
    const decoded = codec.decode(row)
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) {
      expect(decoded.left).toMatchObject({
        _tag: "EventDecodeError",
        streamId: "Counter-1",
        version: 3,
        position: "17",
        eventId: "6f1c1a4e-8a0e-4a57-9d1a-9b8ad2b6c001",
        eventType: "Opened"
      })
      expect(decoded.left.reason).toBe("the stored row is corrupt: metadata: correlationId: is missing")
    }
  })

  it("lists the event types of the union", () => {
    expect(codec.types).toEqual(["Opened", "Incremented", "Reset"])
  })

  it("encodes to type, schema version and a payload without the tag", () => {
    expect(codec.encode(new Incremented({ by: 3 }))).toEqual(
      Either.right({ type: "Incremented", schemaVersion: 2, data: { by: 3 } })
    )
    expect(codec.encode(new Reset())).toEqual(Either.right({ type: "Reset", schemaVersion: 1, data: {} }))
  })

  it("decodes a stored event into the domain class with its context", () => {
    const decoded = codec.decode(stored("Opened", { limit: 4 }))
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) {
      expect(decoded.right.event).toEqual(new Opened({ limit: 4 }))
      expect(decoded.right.event).toBeInstanceOf(Opened)
      expect(decoded.right.version).toBe(3)
      expect(decoded.right.position).toEqual(Position.make(0n, 17n))
    }
  })

  it.each([
    ["an unknown type", stored("Exploded", {}), /unknown event type "Exploded"/],
    ["a payload that fails the schema", stored("Opened", { limit: "four" }), /limit/],
    ["a payload that is not an object", stored("Opened", [1, 2]), /not a JSON object/],
    ["a null payload", stored("Reset", null), /not a JSON object/],
    ["a schema version with no upcaster", stored("Incremented", { by: 1 }, 1), /schema version 1 .* current version 2/]
  ])("fails %s with an EventDecodeError naming the event", (_, input, reason) => {
    const decoded = codec.decode(input)
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) {
      const error = decoded.left
      expect(error._tag).toBe("EventDecodeError")
      expect(error.streamId).toBe("Counter-1")
      expect(error.version).toBe(3)
      expect(error.position).toBe("17")
      expect(error.eventType).toBe(input.type)
      expect(error.reason).toMatch(reason)
      expect(error.message).toContain("Counter-1@3")
    }
  })

  it("fails to encode an event that breaks its own schema", () => {
    const invalid = Incremented.make({ by: 1.5 }, { disableValidation: true })
    const encoded = codec.encode(invalid)
    expect(Either.isLeft(encoded)).toBe(true)
    if (Either.isLeft(encoded)) expect(encoded.left._tag).toBe("EventEncodeError")
  })

  it("refuses untagged event schemas and bad versions when it is built", () => {
    expect(() => EventCodec.make(Schema.Struct({ _tag: Schema.String, a: Schema.Number }))).toThrow(/must be tagged/)
    expect(() => EventCodec.make(CounterEvent, { versions: { Opened: 0 } })).toThrow(/positive integer/)
  })

  it("works with TaggedStruct members too", () => {
    const Pinged = Schema.TaggedStruct("Pinged", { at: Schema.Number })
    const structs = EventCodec.make(Schema.Union(Pinged))
    expect(structs.encode(Pinged.make({ at: 1 }))).toEqual(
      Either.right({ type: "Pinged", schemaVersion: 1, data: { at: 1 } })
    )
    expect(structs.decodePayload("Pinged", { at: 1 })).toEqual(Either.right({ _tag: "Pinged", at: 1 }))
  })
})
