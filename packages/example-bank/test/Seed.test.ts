/**
 * `Bank.seed`: the accounts it opens, the events it records (every command
 * through the aggregate, so no balance ever goes below its overdraft limit),
 * the transfers it requests between them, and its report, which must match
 * what the store holds. Then the Transfer saga (durable, memory engine) on a
 * seeded store: each seeded transfer ends as its kind says, and the money is
 * conserved.
 */
import { Aggregate, EventStore, ProjectionStore, Repository, SagaAdmin, SnapshotStore } from "@chronicle/core"
import * as DurableSaga from "@chronicle/core/DurableSaga"
import { describe, expect, it } from "@effect/vitest"
import { WorkflowEngine } from "@effect/workflow"
import { Chunk, Effect, Layer, Option, Random, Schema, Stream } from "effect"
import { Account, Bank, Render, Transfer, TransferSaga } from "../src/index.js"

const onMemory = Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory())))

const allEvents = Effect.map(Stream.runCollect(EventStore.readAll()), Chunk.toReadonlyArray)

const decodeRequested = Schema.decodeUnknownSync(Transfer.TransferRequested)

/** Every transfer stream in the store, with its events. */
const transferStreams = Effect.map(allEvents, (events) => {
  const streams = new Map<string, Array<(typeof events)[number]>>()
  for (const event of events.filter((e) => e.streamId.startsWith(`${Transfer.Transfer.name}-`))) {
    streams.set(event.streamId, [...(streams.get(event.streamId) ?? []), event])
  }
  return streams
})

/** The transfers the store holds, each from its one `TransferRequested`. */
const requestedTransfers = Effect.map(transferStreams, (streams) =>
  [...streams.entries()].map(([streamId, events]) => {
    expect(events.map((e) => e.type)).toEqual(["TransferRequested"])
    const requested = decodeRequested({ ...Object(events[0]?.data), _tag: "TransferRequested" })
    expect(streamId).toBe(Aggregate.streamId(Transfer.Transfer, requested.transferId))
    return requested
  })
)

const seededAccountIds = Effect.map(allEvents, (events) =>
  events.filter((e) => e.type === "AccountOpened").map((e) => e.streamId.slice(`${Account.Account.name}-`.length))
)

describe("Bank.seed", () => {
  it.effect("opens the accounts asked for, with events that obey every rule, and reports them truly", () =>
    Effect.gen(function* () {
      const progress: Array<string> = []
      const report = yield* Bank.seed(25, {
        onProgress: (done, total, phase) => Effect.sync(() => progress.push(`${phase} ${done}/${total}`))
      })
      const events = yield* allEvents
      const opened = events.filter((e) => e.type === "AccountOpened")
      expect(report.accounts).toBe(25)
      expect(opened).toHaveLength(25)
      expect(report.events).toBe(events.length)
      expect(events.length).toBeGreaterThan(25)
      // each account, then each transfer request, in order, each phase with its own total
      expect(report.transfers).toBeGreaterThan(0)
      expect(progress).toEqual([
        ...Array.from({ length: 25 }, (_, i) => `accounts ${i + 1}/25`),
        ...Array.from({ length: report.transfers }, (_, i) => `transfers ${i + 1}/${report.transfers}`)
      ])
      expect(Render.seedProgress(report.transfers, report.transfers, "transfers")).toBe(
        `Seeding [####################] 100%  ${report.transfers} of ${report.transfers} transfer${report.transfers === 1 ? "" : "s"}`
      )
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
    }).pipe(onMemory)
  )

  it.effect("requests about one transfer per two accounts, between two different seeded accounts", () =>
    Effect.gen(function* () {
      const report = yield* Bank.seed(25)
      const ids = new Set(yield* seededAccountIds)
      const transfers = yield* requestedTransfers
      expect(transfers).toHaveLength(report.transfers)
      // one per two accounts, fewer only when too few accounts are left open to send
      expect(report.transfers).toBeGreaterThanOrEqual(1)
      expect(report.transfers).toBeLessThanOrEqual(12)
      expect(report.transfers).toBe(Math.min(12, 25 - report.closed - 1))
      const sources = new Set<string>()
      for (const transfer of transfers) {
        expect(transfer.transferId).toMatch(/^seed-[0-9a-z]{8}$/)
        expect(ids.has(transfer.from)).toBe(true)
        expect(ids.has(transfer.to)).toBe(true)
        expect(transfer.to).not.toBe(transfer.from)
        expect(transfer.amount).toBeGreaterThan(0)
        expect(Number.isInteger(transfer.amount)).toBe(true)
        sources.add(transfer.from)
      }
      // each source sends one transfer and receives none
      expect(sources.size).toBe(transfers.length)
      for (const transfer of transfers) expect(sources.has(transfer.to)).toBe(false)
      // the same way TransferSaga.request records a request: requesting it again is a duplicate
      const first = transfers[0]
      if (first === undefined) throw new Error("no transfer")
      const again = yield* TransferSaga.request(first)
      expect(again.duplicate).toBe(true)
      expect(again.commandId).toBe(`request:${first.transferId}`)
    }).pipe(onMemory)
  )

  it.effect("requests one transfer from two accounts on, and none for 0 or 1 account", () =>
    Effect.gen(function* () {
      expect(yield* Bank.seed(0)).toEqual({ accounts: 0, events: 0, refused: 0, closed: 0, transfers: 0 })
      const single = yield* Bank.seed(1)
      expect(single.transfers).toBe(0)
      expect((yield* transferStreams).size).toBe(0)
      let total = 0
      for (let seed = 0; seed < 20; seed++) {
        const pair = yield* Effect.withRandom(Bank.seed(2), Random.make(seed))
        expect(pair.transfers).toBe(1)
        total += pair.transfers
      }
      expect((yield* requestedTransfers).length).toBe(total)
      const bad = yield* Effect.exit(Bank.seed(-1))
      expect(bad._tag).toBe("Failure")
    }).pipe(onMemory)
  )

  it.effect("gives transfers ids unique across seeds of the same store", () =>
    Effect.gen(function* () {
      const first = yield* Bank.seed(30)
      const second = yield* Bank.seed(30)
      const transfers = yield* requestedTransfers
      expect(transfers).toHaveLength(first.transfers + second.transfers)
      expect(new Set(transfers.map((t) => t.transferId)).size).toBe(transfers.length)
    }).pipe(onMemory)
  )

  it("says what it requested, and that the saga moves the money", () => {
    const base = { accounts: 12, events: 96, refused: 3, closed: 1 }
    expect(Render.seeded({ ...base, transfers: 0 }, 1200)).toBe(
      "Seeded 12 accounts: 96 events in 1.2 s (80 events/s); 3 commands refused by the bank's rules, 1 account closed."
    )
    expect(Render.seeded({ ...base, transfers: 6 }, 1200).split("\n")).toEqual([
      "Seeded 12 accounts: 96 events in 1.2 s (80 events/s); 3 commands refused by the bank's rules, 1 account closed.",
      "6 transfers requested: the Transfer saga moves the money when `pnpm bank serve` or a transfer command runs."
    ])
    expect(Render.seeded({ ...base, transfers: 1 }, 1200)).toContain("\n1 transfer requested:")
  })
})

// ---------------------------------------------------------------------------
// The seeded transfers, once the saga runs
// ---------------------------------------------------------------------------

type Expected = "completed" | "awaiting approval" | "failed: cannot withdraw" | "failed: closed"

const stores = Layer.mergeAll(
  EventStore.layerMemory(),
  SnapshotStore.layerMemory,
  ProjectionStore.layerMemory,
  WorkflowEngine.layerMemory
)

const sagaRunning = DurableSaga.layer(TransferSaga.make(TransferSaga.defaults), { pollInterval: "10 millis" })

describe("Bank.seed, then the Transfer saga", () => {
  it.live(
    "every seeded transfer ends as its kind says, and no money appears or vanishes",
    () =>
      Effect.gen(function* () {
        const report = yield* Effect.withRandom(Bank.seed(12, { concurrency: 1 }), Random.make(72))
        const accountIds = yield* seededAccountIds
        const transfers = yield* requestedTransfers
        expect(transfers).toHaveLength(report.transfers)
        // not a cached state: the saga writes through repositories of its own
        const accounts = yield* Repository.make(Account.Account, { cache: false })
        const states = yield* Effect.map(
          Effect.forEach(accountIds, (id) => Effect.map(accounts.load(id), (loaded) => [id, loaded.state] as const)),
          (entries) => new Map(entries)
        )
        const balances = new Map([...states].map(([id, state]) => [id, Account.balanceOf(state)]))
        const sum = (of: ReadonlyMap<string, number>) => [...of.values()].reduce((a, b) => a + b, 0)
        const before = sum(balances)
        const expected = new Map<string, Expected>()
        for (const t of transfers) {
          const from = states.get(t.from)
          const to = states.get(t.to)
          if (from === undefined || to === undefined) throw new Error(`${t.transferId}: an account is not seeded`)
          expected.set(
            t.transferId,
            from._tag !== "Open" || t.amount > from.balance + from.overdraftLimit
              ? from._tag === "Open"
                ? "failed: cannot withdraw"
                : "failed: closed"
              : to._tag !== "Open"
                ? "failed: closed"
                : t.amount > TransferSaga.defaults.approvalAbove
                  ? "awaiting approval"
                  : "completed"
          )
        }
        // this Random seed makes a seed that requests every kind (a fixed seed: the same every run)
        expect(new Set(expected.values())).toEqual(
          new Set(["completed", "awaiting approval", "failed: cannot withdraw", "failed: closed"])
        )

        const settled = (id: string) =>
          SagaAdmin.waitFor(TransferSaga.name, id, {
            timeout: "30 seconds",
            until: (s) => s.state !== "running" && s.state !== "compensating"
          })
        const balancesNow = Effect.map(
          Effect.forEach(accountIds, (id) =>
            Effect.map(accounts.load(id), (loaded) => [id, Account.balanceOf(loaded.state)] as const)
          ),
          (entries) => new Map(entries)
        )
        const move = (into: Map<string, number>, t: Transfer.TransferRequested, withdrawOnly = false) => {
          into.set(t.from, (into.get(t.from) ?? 0) - t.amount)
          if (!withdrawOnly) into.set(t.to, (into.get(t.to) ?? 0) + t.amount)
        }

        yield* Effect.gen(function* () {
          const moved = new Map(balances)
          for (const t of transfers) {
            const end = yield* settled(t.transferId)
            const events = (
              (yield* transferStreams).get(Aggregate.streamId(Transfer.Transfer, t.transferId)) ?? []
            ).map((e) => e.type)
            const kind = expected.get(t.transferId)
            switch (kind) {
              case "completed":
                expect({ id: t.transferId, state: end.state }).toEqual({ id: t.transferId, state: "completed" })
                expect(events).toEqual(["TransferRequested", "TransferCompleted"])
                move(moved, t)
                break
              case "awaiting approval":
                expect({ id: t.transferId, state: end.state }).toEqual({ id: t.transferId, state: "waiting" })
                expect(Option.map(end.waitingFor, (w) => w.for)).toEqual(Option.some("event:approved"))
                expect(events).toEqual(["TransferRequested"])
                move(moved, t, true) // withdrawn, in flight until approved
                break
              case "failed: cannot withdraw":
              case "failed: closed":
                expect({ id: t.transferId, state: end.state }).toEqual({ id: t.transferId, state: "failed" })
                expect(Option.getOrThrow(end.error)).toContain(
                  kind === "failed: closed" ? "the account is closed" : "cannot withdraw"
                )
                expect(events).toEqual(["TransferRequested", "TransferFailed"])
                break
              default:
                throw new Error(`${t.transferId} has no expected outcome`)
            }
          }
          expect(yield* balancesNow).toEqual(moved)
          const inFlight = transfers
            .filter((t) => expected.get(t.transferId) === "awaiting approval")
            .reduce((total, t) => total + t.amount, 0)
          expect(sum(yield* balancesNow) + inFlight).toBe(before)

          // approved, the large ones complete: every balance as the completed transfers say
          for (const t of transfers.filter((t) => expected.get(t.transferId) === "awaiting approval")) {
            yield* TransferSaga.approve(t.transferId)
            expect((yield* SagaAdmin.waitFor(TransferSaga.name, t.transferId, { timeout: "30 seconds" })).state).toBe(
              "completed"
            )
            moved.set(t.to, (moved.get(t.to) ?? 0) + t.amount)
          }
          expect(yield* balancesNow).toEqual(moved)
          expect(sum(yield* balancesNow)).toBe(before)
        }).pipe(Effect.provide(sagaRunning))
      }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(stores)))),
    60_000
  )
})
