/**
 * Transfers: the aggregate's rules, the Transfer saga on the bank's store
 * (SQLite in memory, with the durable SQL engine), and a property test on
 * random transfers (in memory, with the memory engine).
 */
import { EventStore, ProjectionStore, Repository, SagaAdmin, StreamId } from "@chronicle/core"
import * as DurableSaga from "@chronicle/core/DurableSaga"
import { DeciderSpec } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { WorkflowEngine } from "@effect/workflow"
import { Chunk, Effect, FastCheck, Layer, Option, Stream } from "effect"
import { Account, Bank, BankStore, Projections, Render, Transfer, TransferSaga } from "../src/index.js"

const spec = DeciderSpec.make(Transfer.Transfer)
const requested = new Transfer.TransferRequested({ transferId: "t", from: "a", to: "b", amount: 500 })

describe("Transfer (aggregate)", () => {
  it.effect("is requested once between two accounts; the same request again is a no-op", () =>
    Effect.gen(function* () {
      yield* spec
        .given()
        .when(new Transfer.RequestTransfer({ transferId: "t", from: "a", to: "b", amount: 500 }))
        .thenEmits(requested)
      yield* spec
        .given(requested)
        .when(new Transfer.RequestTransfer({ transferId: "t", from: "a", to: "b", amount: 500 }))
        .thenEmits()
      yield* spec
        .given(requested)
        .when(new Transfer.RequestTransfer({ transferId: "t", from: "a", to: "c", amount: 500 }))
        .thenFails("TransferExists")
      yield* spec
        .given()
        .when(new Transfer.RequestTransfer({ transferId: "t", from: "a", to: "a", amount: 500 }))
        .thenFails("SameAccount")
    })
  )

  it.effect("is approved while pending only, and ends once", () =>
    Effect.gen(function* () {
      const approve = new Transfer.ApproveTransfer({ transferId: "t" })
      yield* spec.given().when(approve).thenFails("TransferNotFound")
      yield* spec
        .given(requested)
        .when(approve)
        .thenEmits(new Transfer.TransferApproved({ transferId: "t" }))
      yield* spec
        .given(requested, new Transfer.TransferApproved({ transferId: "t" }))
        .when(approve)
        .thenEmits()
      const failed = new Transfer.TransferFailed({ transferId: "t", reason: "no" })
      yield* spec.given(requested, failed).when(approve).thenFails("TransferSettled")
      yield* spec
        .given(requested, failed)
        .when(new Transfer.FailTransfer({ transferId: "t", reason: "no" }))
        .thenEmits()
      yield* spec
        .given(requested)
        .when(new Transfer.CompleteTransfer({ transferId: "t" }))
        .thenEmits(new Transfer.TransferCompleted({ transferId: "t" }))
    })
  )
})

const options: TransferSaga.Options = { approvalAbove: 10_000, approvalDeadline: "1500 millis" }

const onBankStore = Effect.provide(
  TransferSaga.layer(options).pipe(
    Layer.provideMerge(Bank.Accounts.layer.pipe(Layer.provideMerge(BankStore.layer({ _tag: "Memory" }))))
  )
)

const events = (stream: string) =>
  Effect.map(Stream.runCollect(EventStore.read(StreamId.StreamId.make(stream))), Chunk.toReadonlyArray)

const balance = (id: string) => Effect.map(Bank.balance(id), (b) => b.state.balance)

const outcome = (transferId: string) => Effect.map(TransferSaga.outcome(transferId, "20 seconds"), Option.getOrThrow)

describe("Transfer saga (durable, on the bank's SQL store)", () => {
  it.live(
    "moves money, refunds on a closed or unknown target, waits for approvals, and fails past the deadline",
    () =>
      Effect.gen(function* () {
        yield* Bank.open("alice", { owner: "Alice", overdraftLimit: 0 })
        yield* Bank.open("bob", { owner: "Bob", overdraftLimit: 0 })
        yield* Bank.open("carol", { owner: "Carol", overdraftLimit: 0 })
        yield* Bank.deposit("alice", 100_000)
        yield* Bank.close("carol")

        yield* TransferSaga.request({ transferId: "t1", from: "alice", to: "bob", amount: 2_500 })
        const done = yield* outcome("t1")
        expect(done.saga.state).toBe("completed")
        expect(done.saga.steps).toEqual(["assess", "withdraw", "deposit", "complete"])

        yield* TransferSaga.request({ transferId: "t2", from: "alice", to: "carol", amount: 1_000 })
        yield* TransferSaga.request({ transferId: "t3", from: "alice", to: "nobody", amount: 1_000 })
        yield* TransferSaga.request({ transferId: "t4", from: "bob", to: "alice", amount: 999_999 })
        for (const [id, reason] of [
          ["t2", "the account is closed"],
          ["t3", "no account has been opened with this id"],
          ["t4", "cannot withdraw"]
        ] as const) {
          const failed = yield* outcome(id)
          expect(failed.saga.state).toBe("failed")
          expect(Option.getOrThrow(failed.saga.error)).toContain(reason)
          const transfer = yield* events(`Transfer-${id}`)
          expect(transfer.map((e) => e.type)).toEqual(["TransferRequested", "TransferFailed"])
          expect(transfer[1]?.data).toMatchObject({ reason: expect.stringContaining(reason) })
        }
        expect(yield* balance("alice")).toBe(97_500)
        expect(yield* balance("bob")).toBe(2_500)

        // large transfers wait for an approval
        yield* TransferSaga.request({ transferId: "t5", from: "alice", to: "bob", amount: 20_000 })
        const waiting = yield* outcome("t5")
        expect(waiting.saga.state).toBe("waiting")
        expect(yield* balance("alice")).toBe(77_500)
        yield* TransferSaga.approve("t5")
        expect(yield* Effect.map(SagaAdmin.waitFor("Transfer", "t5", { timeout: "20 seconds" }), (s) => s.state)).toBe(
          "completed"
        )

        // unapproved past the deadline: failed, and nothing stays debited
        yield* TransferSaga.request({ transferId: "t6", from: "alice", to: "bob", amount: 30_000 })
        const late = yield* SagaAdmin.waitFor("Transfer", "t6", { timeout: "20 seconds" })
        expect(late.state).toBe("failed")
        expect(Option.getOrThrow(late.error)).toContain("no approved event within")
        expect((yield* events("Transfer-t6"))[1]?.data).toMatchObject({ reason: "not approved before the deadline" })
        expect(yield* balance("alice")).toBe(77_500)
        expect(yield* balance("bob")).toBe(22_500)
        expect(yield* Effect.flip(TransferSaga.approve("t6"))).toMatchObject({ _tag: "TransferSettled" })

        // statements show the transfers and the refunds
        yield* Projections.refresh("statements")
        const statement = Render.statement(yield* Projections.statement("alice"))
        expect(statement).toMatch(/MoneyWithdrawn \(transfer\)\s+-10\.00 EUR/)
        expect(statement).toMatch(/MoneyDeposited \(refund\)\s+\+10\.00 EUR/)
        expect(statement).toMatch(/MoneyDeposited \(refund\)\s+\+300\.00 EUR/)
        const sagas = yield* SagaAdmin.list(TransferSaga.name)
        expect(sagas.map((s) => [s.instanceId, s.state])).toEqual([
          ["t1", "completed"],
          ["t2", "failed"],
          ["t3", "failed"],
          ["t4", "failed"],
          ["t5", "completed"],
          ["t6", "failed"]
        ])
      }).pipe(onBankStore),
    60_000
  )
})

// ---------------------------------------------------------------------------
// Property: random transfers keep the books balanced
// ---------------------------------------------------------------------------

const accountIds = ["a0", "a1", "a2", "a3"] as const
const TransferCase = FastCheck.record({
  from: FastCheck.constantFrom(...accountIds, "ghost"),
  to: FastCheck.constantFrom(...accountIds, "ghost"),
  amount: FastCheck.integer({ min: 1, max: 3_000 })
})

const inMemory = Layer.mergeAll(EventStore.layerMemory(), ProjectionStore.layerMemory, WorkflowEngine.layerMemory)

describe("Transfer saga (property)", () => {
  it.live.prop(
    "random transfers: the sum of balances is unchanged, each ends completed or failed, no refund without its withdrawal",
    {
      balances: FastCheck.tuple(...accountIds.map(() => FastCheck.integer({ min: 0, max: 5_000 }))),
      closed: FastCheck.subarray([...accountIds]),
      transfers: FastCheck.array(TransferCase, { minLength: 1, maxLength: 8 })
    },
    ({ balances, closed, transfers }) =>
      Effect.gen(function* () {
        const accounts = yield* Repository.make(Account.Account)
        for (const [i, id] of accountIds.entries()) {
          yield* accounts.execute(id, new Account.OpenAccount({ owner: id, overdraftLimit: 0 }))
          const start = balances[i] ?? 0
          if (start > 0) yield* accounts.execute(id, new Account.Deposit({ amount: start }))
        }
        // a closed account must be at zero: empty it first (into the bank, outside the books)
        for (const id of closed) {
          const { state } = yield* accounts.load(id)
          const left = Account.balanceOf(state)
          if (left > 0) yield* accounts.execute(id, new Account.Withdraw({ amount: left }))
          yield* accounts.execute(id, new Account.CloseAccount())
        }
        const sumOf = Effect.map(
          Effect.forEach(accountIds, (id) => Effect.map(accounts.load(id), (l) => Account.balanceOf(l.state))),
          (all) => all.reduce((a, b) => a + b, 0)
        )
        const before = yield* sumOf
        const ids = transfers.map((_, i) => `p${i}`)
        yield* Effect.forEach(transfers, (t, i) =>
          t.from === t.to ? Effect.void : TransferSaga.request({ transferId: `p${i}`, ...t }).pipe(Effect.ignore)
        )
        const started = ids.filter((_, i) => transfers[i]?.from !== transfers[i]?.to)
        for (const id of started) {
          const end = yield* SagaAdmin.waitFor("Transfer", id, { timeout: "30 seconds" })
          expect(["completed", "failed"]).toContain(end.state)
        }
        expect(yield* sumOf).toBe(before)
        // every refund matches a withdrawal of the same transfer, amount and account
        for (const id of accountIds) {
          const recorded = yield* Stream.runCollect(accounts.events(id))
          const moves = Chunk.toReadonlyArray(recorded)
          for (const refund of moves.filter((e) => e.event._tag === "MoneyDeposited" && e.event.reason === "refund")) {
            const instance = refund.metadata.user.sagaInstance
            const withdrawal = moves.find(
              (e) =>
                e.event._tag === "MoneyWithdrawn" &&
                e.event.reason === "transfer" &&
                e.metadata.user.sagaInstance === instance &&
                e.event.amount === (refund.event._tag === "MoneyDeposited" ? refund.event.amount : -1)
            )
            expect(withdrawal).toBeDefined()
          }
        }
      }).pipe(
        Effect.provide(
          DurableSaga.layer(TransferSaga.make({ approvalAbove: 1_000_000, approvalDeadline: "1 hour" }), {
            pollInterval: "10 millis"
          }).pipe(Layer.provideMerge(inMemory))
        )
      ),
    { fastCheck: { numRuns: 12 }, timeout: 120_000 }
  )
})
