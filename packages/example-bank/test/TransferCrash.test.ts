/**
 * The Transfer saga across crashes, with real OS processes
 * (`support/transfer-worker.ts`) killed with SIGKILL, on SQLite and on
 * PostgreSQL:
 *
 * - killed after the withdrawal completed, before the deposit: the process
 *   started again resumes the transfer; the withdrawal is not applied again;
 * - killed in the middle of compensating (just after the refund was
 *   written): started again, the saga fails again and compensates again,
 *   and the refund takes effect once;
 * - killed after the engine recorded the withdrawal, before the journal
 *   did (a durable instance journals a step's completion when it moves
 *   on): started again, the replay journals it, and the transfer completes;
 * - (PostgreSQL) two processes share the transfers; the one running a
 *   transfer is killed, the other finishes it.
 *
 * Each effect is checked in the accounts' events: exactly once.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SagaAdmin } from "@chronicle/core"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schedule } from "effect"
import { ensureFresh } from "../../../scripts/bundle.mjs"
import { Account, Bank, BankStore, TransferSaga } from "../src/index.js"
import * as Database from "./support/database.js"
import * as Postgres from "./support/postgres.js"

// The worker bundled as the CLI is (rebuilt when a source changed): a process
// started from one file, not from hundreds of modules compiled by tsx, starts
// in about a second instead of several, and this file starts a dozen.
let script = ""
beforeAll(async () => {
  script = await ensureFresh({
    platform: "node",
    entry: "packages/example-bank/test/support/transfer-worker.ts",
    outfile: "packages/example-bank/dist/test/transfer-worker.js",
    sources: [
      "packages/core/src",
      "packages/sql-store/src",
      "packages/example-bank/src",
      "packages/example-bank/test/support"
    ]
  })
})
const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-crash-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Worker {
  readonly child: ChildProcess
  readonly output: () => string
}

/** A worker process, killed when the scope closes (also if the test fails). */
const worker = (
  store: string,
  options: { readonly mode?: string; readonly port?: number; readonly crash?: string; readonly marker?: string }
) =>
  Effect.acquireRelease(
    Effect.sync((): Worker => {
      const env: NodeJS.ProcessEnv = { ...process.env }
      delete env.CRASH
      delete env.CRASH_MARKER
      if (options.crash !== undefined) env.CRASH = options.crash
      if (options.marker !== undefined) env.CRASH_MARKER = options.marker
      const child = spawn(process.execPath, [script, store, options.mode ?? "single", `${options.port ?? 1}`], {
        stdio: ["pipe", "pipe", "pipe"],
        env
      })
      let output = ""
      child.stdout?.on("data", (chunk) => {
        output += String(chunk)
      })
      child.stderr?.on("data", (chunk) => {
        output += String(chunk)
      })
      return { child, output: () => output }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

const ready = (w: Worker) =>
  Effect.suspend(() => (w.output().includes("ready") ? Effect.void : Effect.fail(w.output()))).pipe(
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("60 seconds")))
  )

/** Waits until the worker died of SIGKILL (it crashed itself where it was told to). */
const killed = (w: Worker) =>
  Effect.suspend(() => (w.child.signalCode === "SIGKILL" ? Effect.void : Effect.fail(w.output()))).pipe(
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("60 seconds")))
  )

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(address)))
    })
  })

const seed = Effect.gen(function* () {
  yield* Bank.open("alice", { owner: "Alice", overdraftLimit: 0 })
  yield* Bank.open("bob", { owner: "Bob", overdraftLimit: 0 })
  yield* Bank.open("carol", { owner: "Carol", overdraftLimit: 0 })
  yield* Bank.deposit("alice", 100_000)
  yield* Bank.close("carol")
})

/** The transfer events of an account, for one transfer: [type, reason] pairs. */
const movesOf = (accountId: string, transferId: string) =>
  Effect.gen(function* () {
    const recorded = yield* Bank.events(accountId)
    return recorded
      .filter((e) => e.metadata.user.sagaInstance === transferId)
      .map((e) => [
        e.type,
        e.event._tag === "AccountOpened" || e.event._tag === "AccountClosed" ? "" : (e.event.reason ?? "")
      ])
  })

const settled = (transferId: string) =>
  SagaAdmin.waitFor(TransferSaga.name, transferId, { timeout: "60 seconds", interval: "100 millis" })

const steps = (transferId: string) =>
  Effect.map(
    SagaAdmin.status(TransferSaga.name, transferId),
    Option.map((s) => [s.state, s.steps] as const)
  )

const scenarios = (store: string, choice: BankStore.StoreChoice) =>
  Effect.gen(function* () {
    yield* seed.pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(BankStore.layer(choice)))))
    const onStore = <A, E>(effect: Effect.Effect<A, E, BankStore.Stores | Bank.Accounts>) =>
      effect.pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(BankStore.layer(choice)))))

    // 1. killed after the withdrawal, before the deposit
    const first = yield* worker(store, { crash: "deposit:x1" })
    yield* ready(first)
    yield* onStore(TransferSaga.request({ transferId: "x1", from: "alice", to: "bob", amount: 1_000 }))
    yield* killed(first)
    expect(first.output()).toContain("crashing at deposit of x1")
    expect(yield* onStore(steps("x1"))).toEqual(Option.some(["running", ["assess", "withdraw"]]))
    expect(yield* onStore(movesOf("alice", "x1"))).toEqual([["MoneyWithdrawn", "transfer"]])
    expect(yield* onStore(movesOf("bob", "x1"))).toEqual([])

    const second = yield* worker(store, { crash: "refund:x2" })
    yield* ready(second)
    const x1 = yield* onStore(settled("x1"))
    expect(x1.state).toBe("completed")
    expect(yield* onStore(movesOf("alice", "x1"))).toEqual([["MoneyWithdrawn", "transfer"]])
    expect(yield* onStore(movesOf("bob", "x1"))).toEqual([["MoneyDeposited", "transfer"]])

    // 2. killed in the middle of compensating, right after the refund was written
    yield* onStore(TransferSaga.request({ transferId: "x2", from: "alice", to: "carol", amount: 2_000 }))
    yield* killed(second)
    expect(second.output()).toContain("crashing at refund of x2")
    expect(yield* onStore(movesOf("alice", "x2"))).toEqual([
      ["MoneyWithdrawn", "transfer"],
      ["MoneyDeposited", "refund"]
    ])
    const third = yield* worker(store, { crash: "journal:x3" })
    yield* ready(third)
    const x2 = yield* onStore(settled("x2"))
    expect(x2.state).toBe("failed")
    expect(x2.compensated).toEqual(["withdraw"])
    expect(yield* onStore(movesOf("alice", "x2"))).toEqual([
      ["MoneyWithdrawn", "transfer"],
      ["MoneyDeposited", "refund"]
    ])

    // 3. killed after the engine recorded the withdrawal, before the journal did
    yield* onStore(TransferSaga.request({ transferId: "x3", from: "alice", to: "bob", amount: 500 }))
    yield* killed(third)
    expect(third.output()).toContain("crashing at journal of x3")
    expect(yield* onStore(steps("x3"))).toEqual(Option.some(["running", ["assess"]]))
    expect(yield* onStore(movesOf("alice", "x3"))).toEqual([["MoneyWithdrawn", "transfer"]])
    const fourth = yield* worker(store, {})
    yield* ready(fourth)
    const x3 = yield* onStore(settled("x3"))
    expect(x3.state).toBe("completed")
    expect(x3.steps).toEqual(["assess", "withdraw", "deposit", "complete"])
    expect(yield* onStore(movesOf("alice", "x3"))).toEqual([["MoneyWithdrawn", "transfer"]])
    expect(yield* onStore(movesOf("bob", "x3"))).toEqual([["MoneyDeposited", "transfer"]])

    expect(yield* onStore(Effect.map(Bank.balance("alice"), (b) => Account.balanceOf(b.state)))).toBe(98_500)
    expect(yield* onStore(Effect.map(Bank.balance("bob"), (b) => Account.balanceOf(b.state)))).toBe(1_500)
  }).pipe(Effect.scoped)

describe("Transfer saga across crashes (real processes)", () => {
  it.live(
    "SQLite: resumes after a kill between two steps; a refund interrupted by a kill takes effect once",
    () => {
      const file = join(dir, "crash.db")
      return scenarios(file, { _tag: "Sqlite", filename: file })
    },
    120_000
  )

  it.live.skipIf(!Postgres.available)(
    "PostgreSQL: resumes after a kill between two steps; a refund interrupted by a kill takes effect once",
    () =>
      Effect.gen(function* () {
        const url = yield* Database.fresh
        yield* scenarios(url, { _tag: "Postgres", url: Redacted.make(url) })
      }).pipe(Effect.scoped),
    120_000
  )

  it.live.skipIf(!Postgres.available)(
    "PostgreSQL, two processes: the one running a transfer is killed, the other finishes it, nothing twice",
    () =>
      Effect.gen(function* () {
        const url = yield* Database.fresh
        const choice: BankStore.StoreChoice = { _tag: "Postgres", url: Redacted.make(url) }
        const onStore = <A, E>(effect: Effect.Effect<A, E, BankStore.Stores | Bank.Accounts>) =>
          effect.pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(BankStore.layer(choice)))))
        yield* onStore(seed)
        const marker = join(dir, `failover-${crypto.randomUUID()}`)
        const ports = [yield* Effect.promise(freePort), yield* Effect.promise(freePort)]
        // one after the other: two first starts at once race on the engine's migrations
        const workers = yield* Effect.forEach(ports, (port) =>
          Effect.tap(worker(url, { mode: "socket", port, crash: "deposit:y1", marker }), ready)
        )
        yield* onStore(TransferSaga.request({ transferId: "y1", from: "alice", to: "bob", amount: 500 }))
        // on a timeout, the workers' output says why
        const y1 = yield* onStore(settled("y1")).pipe(
          Effect.tapError(() =>
            Effect.forEach(workers, (w, i) => Effect.log(`worker ${i} (${w.child.signalCode}):\n${w.output()}`))
          )
        )
        expect({ state: y1.state, error: y1.error }).toEqual({ state: "completed", error: Option.none() })
        const dead = workers.filter((w) => w.child.signalCode === "SIGKILL")
        const alive = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)
        expect(dead).toHaveLength(1)
        expect(alive).toHaveLength(1)
        expect(dead[0]?.output()).toContain("crashing at deposit of y1")
        expect(yield* onStore(movesOf("alice", "y1"))).toEqual([["MoneyWithdrawn", "transfer"]])
        expect(yield* onStore(movesOf("bob", "y1"))).toEqual([["MoneyDeposited", "transfer"]])
      }).pipe(Effect.scoped),
    120_000
  )
})
