/**
 * Inline projections on the SQL store: the handler's writes and the events
 * commit in one transaction, and a failing handler rolls the append back.
 */
import { InlineProjection, Projection, Repository } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { SqlEventStore } from "../src/index.js"
import { backends } from "./support/backends.js"
import * as ReadModel from "./support/readModel.js"
import { Deposit, Open, Wallet } from "./support/Wallet.js"

const Noop = Projection.make({
  name: "noop",
  events: Schema.TaggedStruct("NeverWritten", {}),
  handle: () => Effect.void
})

for (const backend of backends) {
  if (backend.dialect === "sqlite" && backend.name.includes("file")) continue
  describe.skipIf(backend.skip)(`SqlEventStore with inline projections (${backend.name})`, () => {
    EventStoreConformance.suite(
      `SqlEventStore with an inline projection (${backend.name})`,
      SqlEventStore.layer({ onAppend: InlineProjection.hook([Noop]) }).pipe(Layer.provide(backend.sql)),
      { writers: 8, eventsPerWriter: 5 }
    )

    // the store runs the projection's setup (its tables) when it builds
    const withReadModel = (failOn?: (amount: number) => boolean) =>
      ReadModel.make(failOn === undefined ? { name: "inline" } : { name: "inline", failOn })

    it.effect("the store's layer runs the inline projections' setup, and refuses a name given twice", () =>
      Effect.gen(function* () {
        const { projection } = yield* withReadModel()
        yield* Effect.gen(function* () {
          const wallets = yield* Repository.make(Wallet)
          yield* wallets.execute("w0", new Open({ owner: "ann" }))
          expect((yield* ReadModel.totals("inline", 1)).get("Wallet-w0")).toEqual([0, 1])
        }).pipe(Effect.provide(SqlEventStore.layer({ onAppend: InlineProjection.hook([projection]) })))
        const twice = yield* Effect.flip(
          Layer.build(SqlEventStore.layer({ onAppend: InlineProjection.hook([projection, projection]) })).pipe(
            Effect.scoped
          )
        )
        expect(twice).toMatchObject({ _tag: "StoreError", reason: "misconfigured", retryable: false })
        expect(twice.message).toMatch(/inline projections registered more than once: inline/)
      }).pipe(Effect.provide(backend.sql))
    )

    it.effect("the read model is written in the append's transaction", () =>
      Effect.gen(function* () {
        const { projection } = yield* withReadModel()
        yield* Effect.gen(function* () {
          const wallets = yield* Repository.make(Wallet)
          yield* wallets.execute("w1", new Open({ owner: "ann" }))
          yield* wallets.execute("w1", new Deposit({ amount: 40, currency: "EUR" }))
          expect((yield* ReadModel.totals("inline", 1)).get("Wallet-w1")).toEqual([40, 2])
          yield* wallets.execute("w1", new Deposit({ amount: 2, currency: "EUR" }))
          expect((yield* ReadModel.totals("inline", 1)).get("Wallet-w1")).toEqual([42, 3])
        }).pipe(Effect.provide(SqlEventStore.layer({ onAppend: InlineProjection.hook([projection]) })))
      }).pipe(Effect.provide(backend.sql))
    )

    it.effect("a failing handler rolls back the events and its own writes", () =>
      Effect.gen(function* () {
        const { projection } = yield* withReadModel((amount) => amount === 13)
        yield* Effect.gen(function* () {
          const wallets = yield* Repository.make(Wallet)
          yield* wallets.execute("w2", new Open({ owner: "bob" }))
          const error = yield* Effect.flip(wallets.execute("w2", new Deposit({ amount: 13, currency: "EUR" })))
          expect(error).toMatchObject({ _tag: "StoreError", operation: "inline projection inline" })
          // the handler's own error is the cause
          expect(error._tag === "StoreError" ? error.cause : undefined).toBe("cannot apply 13")
          expect((yield* wallets.load("w2")).version).toBe(1)
          // the handler inserted into the applied table before failing: rolled back too
          const applied = yield* ReadModel.applied("inline", 1)
          expect(applied).toHaveLength(1)
          yield* wallets.execute("w2", new Deposit({ amount: 5, currency: "EUR" }))
          expect((yield* ReadModel.totals("inline", 1)).get("Wallet-w2")).toEqual([5, 2])
        }).pipe(Effect.provide(SqlEventStore.layer({ onAppend: InlineProjection.hook([projection]) })))
      }).pipe(Effect.provide(backend.sql))
    )
  })
}
