/**
 * `Bank.seed`: the accounts it opens, the events it records (every command
 * through the aggregate, so no balance ever goes below its overdraft limit),
 * and its report, which must match what the store holds.
 */
import { Aggregate, EventStore, Repository } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { Account, Bank } from "../src/index.js"

describe("Bank.seed", () => {
  it.effect("opens the accounts asked for, with events that obey every rule, and reports them truly", () =>
    Effect.gen(function* () {
      const progress: Array<number> = []
      const report = yield* Bank.seed(25, { onProgress: (done) => Effect.sync(() => progress.push(done)) })
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(EventStore.readAll()))
      const opened = events.filter((e) => e.type === "AccountOpened")
      expect(report.accounts).toBe(25)
      expect(opened).toHaveLength(25)
      expect(report.events).toBe(events.length)
      expect(events.length).toBeGreaterThan(25)
      expect(progress).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
      const accounts = yield* Repository.make(Account.Account)
      let closed = 0
      for (const event of opened) {
        const id = event.streamId.slice(`${Account.Account.name}-`.length)
        expect(Aggregate.streamId(Account.Account, id)).toBe(event.streamId)
        const { state } = yield* accounts.load(id)
        if (state._tag === "Unopened") throw new Error(`${id} is not open`)
        expect(state.balance).toBeGreaterThanOrEqual(-state.overdraftLimit)
        if (state._tag === "Closed") {
          closed++
          expect(state.balance).toBe(0)
        }
      }
      expect(closed).toBe(report.closed)
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )

  it.effect("seeds nothing for 0, and refuses a count that is not one", () =>
    Effect.gen(function* () {
      expect(yield* Bank.seed(0)).toEqual({ accounts: 0, events: 0, refused: 0, closed: 0 })
      const bad = yield* Effect.exit(Bank.seed(-1))
      expect(bad._tag).toBe("Failure")
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )
})
