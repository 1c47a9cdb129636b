/**
 * The bank's read models on every backend it runs on (SQLite in memory, a
 * SQLite file, PostgreSQL), over the stores `BankStore.layer` builds: after a
 * scripted set of commands over three days (a clock the test sets gives
 * each event its time), each table equals what a fold over the events gives;
 * catching up again after more commands, rebuilding, and applying a batch a
 * second time all leave the same tables. The transfers read model, over
 * Transfer commands (no saga): its rows equal each transfer as the Transfer
 * repository loads it (state, version, first and last positions; none of the
 * read model's code), also after a replayed batch and a rebuild, and its
 * pages come in the order requested.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventStore, Position, ProjectionAdmin, Repository } from "@chronicle/core"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Array as Arr, Chunk, Clock, DateTime, Effect, Layer, Option, Order, Stream } from "effect"
import { Account, Bank, BankStore, Projections, Transfer } from "../src/index.js"
import * as Postgres from "./support/postgres.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-projections-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

type StoreLayer = Layer.Layer<BankStore.Stores, BankStore.BankStoreError>

const backends: ReadonlyArray<{ readonly name: string; readonly skip: boolean; readonly layer: () => StoreLayer }> = [
  { name: "SQLite in memory", skip: false, layer: () => BankStore.layer({ _tag: "Memory" }) },
  {
    name: "a SQLite file",
    skip: false,
    layer: () => BankStore.layer({ _tag: "Sqlite", filename: join(dir, `${crypto.randomUUID()}.db`) })
  },
  {
    name: "PostgreSQL",
    skip: !Postgres.available,
    layer: () =>
      Layer.unwrapScoped(Effect.map(Postgres.freshSchema, (url) => BankStore.layer({ _tag: "Postgres", url })))
  }
]

/**
 * A clock whose time the test sets (`at`), but whose sleeps are real: under
 * the `TestClock`, a retry's pause (a lost connection, a busy lease) would
 * wait forever.
 */
const settableClock = () => {
  const real = Clock.make()
  let now = Date.now()
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) => real.sleep(duration)
  }
  const at = (iso: string) =>
    Effect.sync(() => {
      now = DateTime.toEpochMillis(DateTime.unsafeMake(iso))
    })
  return { clock, at }
}

const { clock, at } = settableClock()

/** Commands over three UTC days (one deposit a minute before midnight), a rejected one, a v1 deposit, a closing. */
const script = Effect.gen(function* () {
  yield* at("2025-03-01T09:00:00Z")
  yield* Bank.open("alice", { owner: "Alice", overdraftLimit: 0 })
  yield* Bank.deposit("alice", 10_000)
  yield* Bank.open("bob", { owner: "Bob", overdraftLimit: 5_000 })
  yield* Bank.withdraw("bob", 2_000)
  yield* at("2025-03-01T23:59:00Z")
  yield* Bank.deposit("bob", 700)
  yield* at("2025-03-02T00:01:00Z")
  yield* Bank.appendLegacyDeposit("alice", 1_234)
  yield* Effect.flip(Bank.withdraw("bob", 100_000))
  yield* Bank.withdraw("alice", 11_234)
  yield* Bank.close("alice")
  yield* at("2025-03-04T12:00:00Z")
  yield* Bank.open("carol", { owner: "Carol", overdraftLimit: 0 })
  for (let i = 1; i <= 7; i++) yield* Bank.deposit("carol", i * 100)
})

/** More commands, after a first catch-up. */
const more = Effect.gen(function* () {
  yield* at("2025-03-04T13:00:00Z")
  yield* Bank.withdraw("carol", 800)
  yield* Bank.deposit("bob", 1_300)
  yield* at("2025-03-05T08:00:00Z")
  yield* Bank.open("dan", { owner: "Dan", overdraftLimit: 0 })
  yield* Bank.deposit("dan", 42)
})

const accountIds = ["alice", "bob", "carol", "dan"]

/** Every account event in the store, decoded through the aggregate's codec (v1 deposits upcast). */
const allEvents = Effect.gen(function* () {
  const store = yield* EventStore.EventStore
  const stored = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ categories: ["Account"] })))
  return yield* Effect.forEach(stored, (event) => Account.Account.codec.decode(event))
})

/** The three read models as a fold over the events (and the aggregate's own loads) says they must be. */
const expected = Effect.gen(function* () {
  const balances: Array<Projections.AccountBalance> = []
  const statements: Array<Projections.StatementLine> = []
  for (const id of accountIds) {
    const history = yield* Effect.either(Bank.history(id))
    if (history._tag === "Left") continue
    const now = yield* Bank.balance(id)
    balances.push({
      accountId: id,
      owner: now.state.owner,
      overdraftLimit: now.state.overdraftLimit,
      balance: now.state.balance,
      status: now.state._tag === "Open" ? "open" : "closed",
      lastVersion: now.version
    })
    for (const entry of history.right) {
      statements.push({
        accountId: id,
        version: entry.version,
        eventId: entry.eventId,
        recordedAt: entry.recordedAt,
        type: entry.event._tag,
        amount: Projections.signedAmount(entry.event),
        balanceAfter: Account.balanceOf(entry.stateAfter)
      })
    }
  }
  const days = new Map<string, Projections.DailyTotal>()
  for (const recorded of yield* allEvents) {
    const { event } = recorded
    if (event._tag !== "MoneyDeposited" && event._tag !== "MoneyWithdrawn") continue
    const day = Projections.dayOf(recorded.recordedAt)
    const total = days.get(day) ?? { day, deposits: 0, withdrawals: 0, net: 0, transactions: 0 }
    days.set(day, {
      day,
      deposits: total.deposits + (event._tag === "MoneyDeposited" ? event.amount : 0),
      withdrawals: total.withdrawals + (event._tag === "MoneyWithdrawn" ? event.amount : 0),
      net: total.net + Projections.signedAmount(event),
      transactions: total.transactions + 1
    })
  }
  return { balances, statements, totals: [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1)) }
})

const actual = Effect.gen(function* () {
  const statements: Array<Projections.StatementLine> = []
  for (const id of accountIds) statements.push(...(yield* Projections.statement(id)))
  return { balances: yield* Projections.accounts, statements, totals: yield* Projections.dailyTotals }
})

/** Catches every projection up, in small batches so that a run spans several. */
const catchUpAll = Effect.forEach(
  Projections.names,
  (name) =>
    ProjectionAdmin.catchUp(Projections.byName[name], { batchSize: 4, waitForLease: "5 seconds" }).pipe(Stream.runLast),
  { discard: true }
)

/** Transfers requested, approved, completed and failed, in an order their ids do not follow. */
const transferScript = Effect.gen(function* () {
  const transfers = yield* Repository.make(Transfer.Transfer)
  const request = (transferId: string, amount: number) =>
    transfers.execute(transferId, new Transfer.RequestTransfer({ transferId, from: "alice", to: "bob", amount }))
  yield* request("t-b", 100)
  yield* request("t-a", 200)
  yield* transfers.execute("t-b", new Transfer.ApproveTransfer({ transferId: "t-b" }))
  yield* request("t-c", 300)
  yield* transfers.execute("t-b", new Transfer.CompleteTransfer({ transferId: "t-b" }))
  yield* transfers.execute("t-a", new Transfer.FailTransfer({ transferId: "t-a", reason: "cannot withdraw 2.00" }))
  // the same request again records nothing
  yield* request("t-c", 300)
})

/** Every Transfer event in the store, decoded. */
const allTransferEvents = Effect.gen(function* () {
  const store = yield* EventStore.EventStore
  const stored = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ categories: ["Transfer"] })))
  return yield* Effect.forEach(stored, (event) => Transfer.Transfer.codec.decode(event))
})

/** The transfers the script requests, in the order it requests them. */
const transferIds = ["t-b", "t-a", "t-c"]

/**
 * What the transfers read model must hold for one transfer, from the Transfer
 * aggregate's own repository rather than from the read model's code: its
 * state and version as `load` gives them, the position of its first event
 * (`TransferRequested`) and of its last. None for a transfer never requested.
 */
const loadedTransfer = (transferId: string) =>
  Effect.gen(function* () {
    const transfers = yield* Repository.make(Transfer.Transfer)
    const { state, version, position } = yield* transfers.load(transferId)
    const first = Chunk.head(yield* Stream.runCollect(Stream.take(transfers.events(transferId), 1)))
    if (state.status === "none" || Option.isNone(first) || Option.isNone(position)) return Option.none()
    const row: Projections.TransferRow = {
      transferId,
      from: state.from,
      to: state.to,
      amount: state.amount,
      status: state.status,
      reason: Option.fromNullable(state.reason),
      requestedAt: first.value.position,
      lastVersion: version,
      lastPosition: position.value
    }
    return Option.some(row)
  })

/** Every requested transfer as the repository loads it, in the order requested (the position of its first event). */
const loadedTransfers = Effect.map(Effect.forEach(transferIds, loadedTransfer), (loaded) =>
  Arr.sort(
    Arr.getSomes(loaded),
    Order.mapInput(Position.Order, (row: Projections.TransferRow) => row.requestedAt)
  )
)

/** The fields the transfers list shows, for a comparison with what the script did. */
const shown = (rows: ReadonlyArray<Projections.TransferRow>) =>
  rows.map((row) => [row.transferId, row.from, row.to, row.amount, row.status, Option.getOrNull(row.reason)])

const allTransferRows = Projections.transferRows({ limit: 1_000 })

for (const backend of backends) {
  describe.skipIf(backend.skip)(`the bank's read models on ${backend.name}`, () => {
    it.live("equal a fold over the events, after catch-up, more commands, and a rebuild", () =>
      Effect.gen(function* () {
        yield* script
        const first = yield* Projections.catchUp("balances")
        expect(first.processed).toBe((yield* allEvents).length)
        yield* catchUpAll
        const want = yield* expected
        expect(want.totals.map((t) => t.day)).toEqual(["2025-03-01", "2025-03-02", "2025-03-04"])
        expect(yield* actual).toEqual(want)

        // Lag after writes, none after catching up.
        yield* more
        const lagging = yield* Projections.status
        expect(lagging.map((s) => [s.name, s.lag > 0])).toEqual([
          ["balances", true],
          ["daily-totals", true],
          ["statements", true],
          // no Transfer event in this script
          ["transfers", false]
        ])
        yield* catchUpAll
        expect((yield* Projections.status).map((s) => [s.name, s.state, s.lag])).toEqual([
          ["balances", "caught-up", 0],
          ["daily-totals", "caught-up", 0],
          ["statements", "caught-up", 0],
          ["transfers", "caught-up", 0]
        ])
        const after = yield* expected
        expect(after.balances.map((b) => b.accountId)).toEqual(accountIds)
        expect(yield* actual).toEqual(after)

        // A rebuild from the first event gives the same tables.
        for (const name of Projections.names) {
          const last = yield* ProjectionAdmin.rebuild(Projections.byName[name], { batchSize: 5 }).pipe(
            Stream.runCollect
          )
          const steps = Chunk.toReadonlyArray(last)
          expect(steps[0]?.processed).toBe(0)
          expect(steps[steps.length - 1]?.lag).toBe(0)
        }
        expect(yield* actual).toEqual(after)
      }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(backend.layer()))), Effect.withClock(clock))
    )

    it.live(
      "transfers: rows equal the repository's loads, by pages in the order requested, after a replay and a rebuild",
      () =>
        Effect.gen(function* () {
          yield* transferScript
          yield* ProjectionAdmin.catchUp(Projections.Transfers, { batchSize: 2, waitForLease: "5 seconds" }).pipe(
            Stream.runLast
          )
          const want = yield* loadedTransfers
          expect(shown(want)).toEqual([
            ["t-b", "alice", "bob", 100, "completed", null],
            ["t-a", "alice", "bob", 200, "failed", "cannot withdraw 2.00"],
            ["t-c", "alice", "bob", 300, "pending", null]
          ])
          expect(yield* allTransferRows).toEqual(want)
          for (const transferId of [...transferIds, "t-none"]) {
            expect(yield* Projections.transferRow(transferId)).toEqual(yield* loadedTransfer(transferId))
          }

          // Pages: after a transfer, in the order requested, optionally of some own statuses.
          const ids = (rows: ReadonlyArray<Projections.TransferRow>) => rows.map((row) => row.transferId)
          expect(ids(yield* Projections.transferRows({ limit: 1 }))).toEqual(["t-b"])
          expect(ids(yield* Projections.transferRows({ after: "t-b", limit: 1 }))).toEqual(["t-a"])
          expect(ids(yield* Projections.transferRows({ after: "t-a", limit: 5 }))).toEqual(["t-c"])
          expect(ids(yield* Projections.transferRows({ after: "t-c", limit: 5 }))).toEqual([])
          expect(ids(yield* Projections.transferRows({ after: "t-none", limit: 5 }))).toEqual([])
          expect(
            ids(yield* Projections.transferRows({ after: "t-b", statuses: ["pending", "approved"], limit: 5 }))
          ).toEqual(["t-c"])

          // A batch applied again changes nothing; a rebuild gives the same rows.
          const events = yield* allTransferEvents
          yield* Projections.Transfers.handleBatch(events, Projections.Transfers)
          yield* Projections.Transfers.handleBatch(events.slice(1, 4), Projections.Transfers)
          expect(yield* allTransferRows).toEqual(want)
          const steps = Chunk.toReadonlyArray(
            yield* ProjectionAdmin.rebuild(Projections.Transfers, { batchSize: 3 }).pipe(Stream.runCollect)
          )
          expect(steps[steps.length - 1]?.lag).toBe(0)
          expect(yield* allTransferRows).toEqual(want)

          // More events after the rebuild: the row moves on, its place in the order stays.
          const transfers = yield* Repository.make(Transfer.Transfer)
          yield* transfers.execute("t-c", new Transfer.FailTransfer({ transferId: "t-c", reason: "not approved" }))
          yield* Projections.catchUp("transfers")
          const moved = yield* loadedTransfers
          expect(shown(moved)[2]).toEqual(["t-c", "alice", "bob", 300, "failed", "not approved"])
          expect(yield* allTransferRows).toEqual(moved)
          expect(ids(yield* Projections.transferRows({ statuses: ["failed"], limit: 5 }))).toEqual(["t-a", "t-c"])
        }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(backend.layer()))))
    )

    it.live("applying batches a second time changes nothing (the handlers are idempotent)", () =>
      Effect.gen(function* () {
        yield* script
        yield* catchUpAll
        const before = yield* actual
        const events = yield* allEvents
        // Replay everything, whole and in overlapping pieces, straight into the handlers.
        for (const batch of [events, events.slice(3, 9), events.slice(0, 1), events.slice(-4)]) {
          yield* Projections.Balances.handleBatch(batch, Projections.Balances)
          yield* Projections.Statements.handleBatch(batch, Projections.Statements)
          const moved = batch.flatMap((recorded) =>
            recorded.event._tag === "MoneyDeposited" || recorded.event._tag === "MoneyWithdrawn"
              ? [{ ...recorded, event: recorded.event }]
              : []
          )
          yield* Projections.DailyTotals.handleBatch(moved, Projections.DailyTotals)
        }
        expect(yield* actual).toEqual(before)
        expect(yield* actual).toEqual(yield* expected)
      }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(backend.layer()))), Effect.withClock(clock))
    )
  })
}
