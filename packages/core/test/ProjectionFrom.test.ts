import {
  Aggregate,
  EventCodec,
  EventStore,
  Position,
  Projection,
  ProjectionAdmin,
  ProjectionStore,
  StreamId,
  Upcaster
} from "@chronicle/core"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { DateTime, Effect, Either, Layer, Ref, Schema, Stream } from "effect"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int, note: Schema.String }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Int }) {}
class Closed extends Schema.TaggedClass<Closed>()("Closed", {}) {}

const upcasters = [
  // an older release called it "FundsAdded", and had no note
  Upcaster.rename({ from: "FundsAdded", to: "Deposited", version: 1 }),
  Upcaster.make({
    type: "Deposited",
    version: 1,
    schema: Schema.Struct({ amount: Schema.Int }),
    upcast: (v1) => ({ ...v1, note: "" })
  })
]

const Wallet = Aggregate.make({
  name: "Wallet",
  events: Schema.Union(Deposited, Withdrawn, Closed),
  commands: Closed,
  initialState: 0,
  evolve: (balance: number, event) =>
    event._tag === "Deposited" ? balance + event.amount : event._tag === "Withdrawn" ? balance - event.amount : balance,
  decide: () => Effect.succeed([]),
  upcasters
})

const stores = Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory)

const append = (
  category: string,
  id: string,
  events: ReadonlyArray<{ type: string; schemaVersion: number; data: unknown }>
) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    store.append(
      StreamId.forAggregate(category, id),
      events.map((e) => ({ eventId: crypto.randomUUID(), ...e }))
    )
  )

describe("Projection.make({ from, events })", () => {
  it("narrows the handler's event type to the listed tags", () => {
    const projection = Projection.make({
      name: "deposits",
      from: Wallet,
      events: ["Deposited", "Withdrawn"],
      handle: (recorded) => {
        expectTypeOf(recorded.event).toEqualTypeOf<Deposited | Withdrawn>()
        return Effect.void
      }
    })
    expectTypeOf(projection).toEqualTypeOf<Projection.Projection<Deposited | Withdrawn, never, never>>()
    const all = Projection.make({ name: "all", from: Wallet, handle: () => Effect.void })
    expectTypeOf(all).toEqualTypeOf<Projection.Projection<Deposited | Withdrawn | Closed, never, never>>()
  })

  it("rejects a tag the aggregate does not have, at compile time and at run time", () => {
    expect(() =>
      Projection.make({
        name: "typo",
        from: Wallet,
        // @ts-expect-error: "Deposit" is not an event of Wallet
        events: ["Deposit"],
        handle: () => Effect.void
      })
    ).toThrow(/Deposit not among the events \(Deposited, Withdrawn, Closed\)/)
    expect(() => Projection.make({ name: "none", from: Wallet, events: [], handle: () => Effect.void })).toThrow(
      /the list of events is empty/
    )
  })

  it("reads the listed types, their old names, and the aggregate's category only", () => {
    const projection = Projection.make({
      name: "deposits",
      from: Wallet,
      events: ["Deposited"],
      handle: () => Effect.void
    })
    expect(projection.filter).toEqual({ categories: ["Wallet"], types: ["Deposited", "FundsAdded"] })
    const everywhere = Projection.make({
      name: "deposits-everywhere",
      from: Wallet.codec,
      events: ["Withdrawn"],
      handle: () => Effect.void
    })
    expect(everywhere.filter).toEqual({ categories: undefined, types: ["Withdrawn"] })
    const chosen = Projection.make({
      name: "chosen",
      from: Wallet,
      events: ["Closed"],
      categories: ["Archive"],
      handle: () => Effect.void
    })
    expect(chosen.filter.categories).toEqual(["Archive"])
  })

  it.effect("an old event, stored under its old name and shape, reaches the projection upcast", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<ReadonlyArray<Deposited>>([])
      const projection = Projection.make({
        name: "deposits",
        from: Wallet,
        events: ["Deposited"],
        handle: (recorded) => Ref.update(seen, (all) => [...all, recorded.event])
      })
      yield* append("Wallet", "1", [
        { type: "FundsAdded", schemaVersion: 1, data: { amount: 5 } },
        { type: "Withdrawn", schemaVersion: 1, data: { amount: 2 } },
        { type: "Deposited", schemaVersion: 2, data: { amount: 7, note: "now" } },
        { type: "Closed", schemaVersion: 1, data: {} }
      ])
      // same types in another category: not read
      yield* append("Other", "1", [{ type: "Deposited", schemaVersion: 2, data: { amount: 100, note: "elsewhere" } }])
      const last = yield* Stream.runLast(ProjectionAdmin.catchUp(projection))
      expect(yield* Ref.get(seen)).toEqual([
        new Deposited({ amount: 5, note: "" }),
        new Deposited({ amount: 7, note: "now" })
      ])
      expect(last._tag === "Some" && last.value.processed).toBe(2)
    }).pipe(Effect.provide(stores))
  )

  it("a narrowed codec reads the old names of its events only, and rejects an event of another type", () => {
    // A codec whose upcaster turns an old "Legacy" event into a Withdrawn.
    const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn), {
      upcasters: [Upcaster.rename({ from: "Legacy", to: "Withdrawn", version: 1 })]
    })
    const projection = Projection.make({ name: "d", from: codec, events: ["Deposited"], handle: () => Effect.void })
    expect(projection.filter.types).toEqual(["Deposited"])
    const withdrawn = Projection.make({ name: "w", from: codec, events: ["Withdrawn"], handle: () => Effect.void })
    expect(withdrawn.filter.types).toEqual(["Withdrawn", "Legacy"])
    const stored = {
      eventId: "e-1",
      streamId: StreamId.forAggregate("Wallet", "1"),
      version: 1,
      position: Position.make(0n, 1n),
      type: "Legacy",
      schemaVersion: 1,
      data: { amount: 3 },
      metadata: { correlationId: "c", causationId: null, user: {} },
      recordedAt: DateTime.unsafeMake(0)
    }
    expect(Either.getOrThrow(withdrawn.decode(stored)).event).toEqual(new Withdrawn({ amount: 3 }))
    const rejected = projection.decode(stored)
    expect(Either.isLeft(rejected) && rejected.left.reason).toBe("it reads as Withdrawn, not one of Deposited")
  })
})
