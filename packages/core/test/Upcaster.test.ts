import {
  Aggregate,
  EventCodec,
  EventStore,
  Position,
  Projection,
  Repository,
  StreamId,
  Upcaster
} from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Chunk, DateTime, Effect, Either, Schema, Stream } from "effect"

// Version 3 of Deposited is the current shape: { amount, currency, note }.
class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  amount: Schema.Int,
  currency: Schema.Literal("EUR", "USD"),
  note: Schema.String
}) {}
class Closed extends Schema.TaggedClass<Closed>()("Closed", {}) {}
const Events = Schema.Union(Deposited, Closed)

const DepositedV1 = Schema.Struct({ amount: Schema.Int.pipe(Schema.between(-1_000_000, 1_000_000)) })
const DepositedV2 = Schema.Struct({ amount: Schema.Int, currency: Schema.Literal("EUR", "USD") })

const upcasters = [
  // an older release called it "FundsAdded"
  Upcaster.rename({ from: "FundsAdded", to: "Deposited", version: 1 }),
  Upcaster.fromSchema({
    type: "Deposited",
    version: 1,
    schema: Schema.transform(DepositedV1, DepositedV2, {
      strict: true,
      decode: (v1) => ({ ...v1, currency: "EUR" as const }),
      encode: ({ amount }) => ({ amount })
    })
  }),
  Upcaster.make({ type: "Deposited", version: 2, schema: DepositedV2, upcast: (v2) => ({ ...v2, note: "" }) })
]
const codec = EventCodec.make(Events, { upcasters })

const stored = (type: string, schemaVersion: number, data: unknown) => ({
  eventId: crypto.randomUUID(),
  streamId: StreamId.forAggregate("Wallet", "1"),
  version: 1,
  position: Position.make(0n, 1n),
  type,
  schemaVersion,
  data,
  metadata: { correlationId: "c", causationId: null, user: {} },
  recordedAt: DateTime.unsafeMake(0)
})

describe("Upcaster", () => {
  it("derives the current version from the chain and writes only that", () => {
    expect(codec.versionOf("Deposited")).toBe(3)
    expect(codec.versionOf("Closed")).toBe(1)
    expect(codec.encode(new Deposited({ amount: 5, currency: "USD", note: "x" }))).toEqual(
      Either.right({ type: "Deposited", schemaVersion: 3, data: { amount: 5, currency: "USD", note: "x" } })
    )
  })

  it("reads v1, v2 and v3 payloads as the current shape", () => {
    const events = [
      stored("Deposited", 1, { amount: 10 }),
      stored("Deposited", 2, { amount: 20, currency: "USD" }),
      stored("Deposited", 3, { amount: 30, currency: "USD", note: "n" })
    ].map((s) => Either.map(codec.decode(s), (r) => r.event))
    expect(events).toEqual([
      Either.right(new Deposited({ amount: 10, currency: "EUR", note: "" })),
      Either.right(new Deposited({ amount: 20, currency: "USD", note: "" })),
      Either.right(new Deposited({ amount: 30, currency: "USD", note: "n" }))
    ])
  })

  it("follows a rename, then the version chain", () => {
    const decoded = codec.decode(stored("FundsAdded", 1, { amount: 7 }))
    expect(Either.map(decoded, (r) => [r.type, r.schemaVersion, r.event])).toEqual(
      Either.right(["Deposited", 1, new Deposited({ amount: 7, currency: "EUR", note: "" })])
    )
  })

  it.each([
    [
      "a version with no path",
      stored("Deposited", 7, {}),
      /version 7 of Deposited has no upcaster path to the current version 3/
    ],
    ["an old payload of the wrong shape", stored("Deposited", 1, { amount: "ten" }), /upcasting Deposited v1/],
    ["an unknown renamed type", stored("FundsRemoved", 1, {}), /unknown event type "FundsRemoved"/]
  ])("fails %s with a typed EventDecodeError naming type and versions", (_, input, reason) => {
    const decoded = codec.decode(input)
    expect(Either.isLeft(decoded)).toBe(true)
    if (Either.isLeft(decoded)) {
      expect(decoded.left._tag).toBe("EventDecodeError")
      expect(decoded.left.eventType).toBe(input.type)
      expect(decoded.left.schemaVersion).toBe(input.schemaVersion)
      expect(decoded.left.reason).toMatch(reason)
    }
  })

  it("reports a loop instead of hanging", () => {
    const looping = [
      Upcaster.rename({ from: "A", to: "B", version: 1 }),
      Upcaster.rename({ from: "B", to: "A", version: 1 })
    ]
    expect(Upcaster.run(looping, () => 2, { type: "A", schemaVersion: 1, data: {} })).toEqual(
      Either.left("the upcaster chain of A v1 loops")
    )
  })

  it.prop(
    "for any v1 payload, upcasting then encoding then decoding is stable",
    [Arbitrary.make(DepositedV1)],
    ([v1]) => {
      const first = codec.decode(stored("Deposited", 1, v1))
      if (Either.isLeft(first)) return expect.fail(first.left.message)
      const encoded = codec.encode(first.right.event)
      if (Either.isLeft(encoded)) return expect.fail(encoded.left.message)
      expect(encoded.right.schemaVersion).toBe(3)
      const again = codec.decode(
        stored(encoded.right.type, encoded.right.schemaVersion, JSON.parse(JSON.stringify(encoded.right.data)))
      )
      expect(Either.map(again, (r) => r.event)).toEqual(Either.right(first.right.event))
    }
  )

  it.effect("a repository folds old and new events together; stored events are never rewritten", () =>
    Effect.gen(function* () {
      const Wallet = Aggregate.make({
        name: "Wallet",
        events: Events,
        commands: Schema.Struct({ _tag: Schema.Literal("Noop") }),
        initialState: 0,
        evolve: (total: number, event) => (event._tag === "Deposited" ? total + event.amount : total),
        decide: () => Effect.succeed([]),
        upcasters
      })
      const store = yield* EventStore.EventStore
      const stream = StreamId.forAggregate("Wallet", "w")
      yield* store.append(stream, [
        { eventId: crypto.randomUUID(), type: "FundsAdded", schemaVersion: 1, data: { amount: 1 } },
        { eventId: crypto.randomUUID(), type: "Deposited", schemaVersion: 2, data: { amount: 10, currency: "USD" } },
        {
          eventId: crypto.randomUUID(),
          type: "Deposited",
          schemaVersion: 3,
          data: { amount: 100, currency: "EUR", note: "" }
        }
      ])
      const wallets = yield* Repository.make(Wallet)
      expect((yield* wallets.load("w")).state).toBe(111)
      const raw = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(stream)))
      expect(raw.map((e) => [e.type, e.schemaVersion])).toEqual([
        ["FundsAdded", 1],
        ["Deposited", 2],
        ["Deposited", 3]
      ])
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )
})

describe("Upcaster with projections", () => {
  it("a projection over a codec with renames also reads the old type names", () => {
    const projection = Projection.make({ name: "deposits", from: codec, handle: () => Effect.void })
    expect(projection.filter.types).toEqual(["Deposited", "Closed", "FundsAdded"])
    expect(codec.storedTypes).toEqual(["Deposited", "Closed", "FundsAdded"])
  })
})
