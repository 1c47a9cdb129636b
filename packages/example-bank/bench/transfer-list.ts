/**
 * The cost of one page of the transfer list, before and after the
 * `transfers` read model, on one SQLite file with N transfers requested (no
 * saga run, so the saga's journal category is empty: the "before" cost is
 * the fold of the Transfer category alone, a lower bound of what it was).
 *
 * - before: what `GET /api/transfers` did per call: fold every Transfer
 *   event of the store and `SagaAdmin.list("Transfer")`, then take 50;
 * - after: `TransferList.page({ limit: 50 })`, the first page and a page
 *   from the middle (`after` the transfer N/2).
 *
 * Client CPU per call (`process.cpuUsage`, user + system), the passes
 * interleaved (A, B, B, A, ...). Not a test. Run:
 * `pnpm tsx --conditions=@chronicle/source packages/example-bank/bench/transfer-list.ts 1000 5000`
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventStore, ProjectionAdmin, Repository, SagaAdmin } from "@chronicle/core"
import { Effect, Stream } from "effect"
import { TransferList } from "../src/http/index.js"
import { BankStore, Projections, Transfer } from "../src/index.js"

const limit = 50
const rounds = 6

const before = Effect.gen(function* () {
  const store = yield* EventStore.EventStore
  yield* SagaAdmin.list("Transfer")
  const states = new Map<string, Transfer.TransferState>()
  yield* store.readAll({ categories: ["Transfer"], types: Transfer.Transfer.codec.storedTypes }).pipe(
    Stream.mapEffect((stored) => Transfer.Transfer.codec.decode(stored)),
    Stream.runForEach(({ event }) =>
      Effect.sync(() => {
        states.set(event.transferId, Transfer.evolve(states.get(event.transferId) ?? Transfer.initialState, event))
      })
    )
  )
  return [...states.keys()].slice(0, limit).length
})

const cpuMs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const start = process.cpuUsage()
    yield* effect
    const used = process.cpuUsage(start)
    return (used.user + used.system) / 1000
  })

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const run = (n: number) =>
  Effect.gen(function* () {
    const transfers = yield* Repository.make(Transfer.Transfer, { cache: false })
    for (let i = 0; i < n; i++) {
      const transferId = `t-${String(i).padStart(6, "0")}`
      yield* transfers.execute(
        transferId,
        new Transfer.RequestTransfer({ transferId, from: "alice", to: "bob", amount: 100 + i })
      )
      if (i % 3 === 0) yield* transfers.execute(transferId, new Transfer.CompleteTransfer({ transferId }))
    }
    yield* ProjectionAdmin.catchUp(Projections.Transfers, { batchSize: 500 }).pipe(Stream.runDrain)
    const middle = `t-${String(Math.floor(n / 2)).padStart(6, "0")}`
    const samples = { before: [] as Array<number>, first: [] as Array<number>, middle: [] as Array<number> }
    // warm-up
    yield* before
    yield* TransferList.page({ limit })
    for (let round = 0; round < rounds; round++) {
      const after = [
        Effect.map(cpuMs(TransferList.page({ limit })), (ms) => samples.first.push(ms)),
        Effect.map(cpuMs(TransferList.page({ after: middle, limit })), (ms) => samples.middle.push(ms))
      ]
      const old = Effect.map(cpuMs(before), (ms) => samples.before.push(ms))
      yield* Effect.all(round % 2 === 0 ? [old, ...after] : [...after, old], { discard: true })
    }
    yield* Effect.log(
      `N=${n}: before ${median(samples.before).toFixed(1)} ms CPU/call; after: first page ${median(samples.first).toFixed(1)} ms, middle page ${median(samples.middle).toFixed(1)} ms (medians of ${rounds})`
    )
  })

const sizes = process.argv.slice(2).map(Number)
for (const n of sizes.length === 0 ? [1_000] : sizes) {
  const dir = mkdtempSync(join(tmpdir(), "chronicle-transfer-list-"))
  await Effect.runPromise(
    run(n).pipe(Effect.provide(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "bank.db") })))
  )
  rmSync(dir, { recursive: true, force: true })
}
