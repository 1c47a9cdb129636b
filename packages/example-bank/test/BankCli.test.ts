/**
 * The CLI in process: `BankCli.main` with its output captured and the store
 * chosen through a `ConfigProvider` (a temporary SQLite file), so edge cases
 * cost no subprocess. `cli.test.ts` runs the real `pnpm bank` for the main
 * paths.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ProjectionStore } from "@chronicle/core"
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Console, Duration, Effect } from "effect"
import { BankCli, BankStore } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-cli-inprocess-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const capturing = (out: Array<string>, err: Array<string>): Console.Console => {
  const ignore = () => Effect.void
  const print =
    (into: Array<string>) =>
    (...args: ReadonlyArray<unknown>) =>
      Effect.sync(() => {
        into.push(`${args.map(String).join(" ")}\n`)
      })
  return {
    [Console.TypeId]: Console.TypeId,
    assert: ignore,
    clear: Effect.void,
    count: ignore,
    countReset: ignore,
    debug: ignore,
    dir: ignore,
    dirxml: ignore,
    error: print(err),
    group: ignore,
    groupEnd: Effect.void,
    info: print(out),
    log: print(out),
    table: ignore,
    time: ignore,
    timeEnd: ignore,
    timeLog: ignore,
    trace: ignore,
    warn: print(err),
    unsafe: globalThis.console
  }
}

const bankOn =
  (database: string) =>
  (...args: ReadonlyArray<string>): Effect.Effect<Run> =>
    Effect.gen(function* () {
      const out: Array<string> = []
      const err: Array<string> = []
      const code = yield* BankCli.main(["node", "bank", ...args]).pipe(
        Effect.withConsole(capturing(out, err)),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["BANK_DB", join(dir, database)]]))),
        Effect.provide(NodeContext.layer)
      )
      return { code, stdout: out.join(""), stderr: err.join("") }
    })

describe("BankCli in process", () => {
  it.live("points in time: as of an event's own time, conflicting and malformed options", () =>
    Effect.gen(function* () {
      const bank = bankOn("time.db")
      expect((yield* bank("open", "t-1", "--owner", "Tia")).code).toBe(0)
      expect((yield* bank("deposit", "t-1", "5000")).code).toBe(0)
      expect((yield* bank("withdraw", "t-1", "2000")).code).toBe(0)
      const history = yield* bank("history", "t-1")
      const depositedAt =
        history.stdout
          .split("\n")[3]
          ?.trim()
          .split(/\s{2,}/)[1] ?? ""
      expect(depositedAt).toMatch(/Z$/)

      // Exactly at an event's recordedAt, the event is included.
      expect((yield* bank("balance", "t-1", "--as-of", depositedAt)).stdout).toBe(
        `t-1 (Tia) as of ${depositedAt}: balance 50.00, overdraft limit 0.00, 2 events\n`
      )
      expect((yield* bank("balance", "t-1", "--at-version", "0")).stdout).toMatch(
        /^t-1 did not exist at version 0: it was opened at /
      )
      expect((yield* bank("balance", "t-1", "--as-of", "2999-01-01")).stdout).toBe(
        "t-1 (Tia) as of 2999-01-01T00:00:00.000Z: balance 30.00, overdraft limit 0.00, 3 events\n"
      )

      for (const [args, message] of [
        [["--at-version", "1.5"], '--at-version must be a whole number of events, 0 or more (got "1.5")'],
        [["--at-version=-1"], '--at-version must be a whole number of events, 0 or more (got "-1")'],
        [["--at-version", "9"], "version 9 is past the end of the stream (3 events)"],
        [["--as-of", "2025-03-01T12:00:00"], '(got "2025-03-01T12:00:00")'],
        [["--as-of", depositedAt, "--at-version", "1"], "--as-of and --at-version cannot be used together"]
      ] as const) {
        const run = yield* bank("balance", "t-1", ...args)
        expect(run.code, args.join(" ")).toBe(2)
        expect(run.stdout).toBe("")
        expect(run.stderr).toContain(message)
        expect(run.stderr).toContain("Usage:")
      }
    })
  )

  it.live("deposit --currency: EUR is the default and the only currency an account holds", () =>
    Effect.gen(function* () {
      const bank = bankOn("currency.db")
      yield* bank("open", "c-1", "--owner", "Cem")
      expect((yield* bank("deposit", "c-1", "100", "--currency", "EUR")).stdout).toBe(
        "Deposited 1.00 EUR into c-1. Balance: 1.00\n"
      )
      expect(yield* bank("deposit", "c-1", "100", "--currency", "USD")).toEqual({
        code: 1,
        stdout: "",
        stderr:
          "CurrencyMismatch: account c-1: cannot deposit USD: the account holds EUR, and the bank does no exchange\n"
      })
      const unknown = yield* bank("deposit", "c-1", "100", "--currency", "XYZ")
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain("Usage:")
      expect((yield* bank("balance", "c-1")).stdout).toBe("c-1 (Cem): balance 1.00, overdraft limit 0.00, 2 events\n")
    })
  )

  it.live("CQRS: accounts reads the caught-up read model, projections shows the lag, rebuild shows progress", () =>
    Effect.gen(function* () {
      const bank = bankOn("cqrs.db")
      yield* bank("open", "q-1", "--owner", "Quinn")
      yield* bank("deposit", "q-1", "5000")
      yield* bank("open", "q-2", "--owner", "Rosa", "--overdraft", "1000")
      yield* bank("withdraw", "q-2", "250")

      // Nothing has read the events yet: every projection lags.
      const before = yield* bank("projections")
      expect(before.code).toBe(0)
      expect(before.stdout).toMatch(/^balances\s+1\s+no\s+never run\s+-\s+4\s+0\s+-$/m)

      const accounts = yield* bank("accounts")
      expect(accounts).toEqual({
        code: 0,
        stderr: "",
        stdout: [
          "Read model balances v1: caught up 4 events (checkpoint 4).",
          "",
          "Account  Owner  Status  Balance  Overdraft limit  Events",
          "───────  ─────  ──────  ───────  ───────────────  ──────",
          "q-1      Quinn  open      50.00             0.00       2",
          "q-2      Rosa   open      -2.50            10.00       2",
          "",
          "2 accounts, total balance 47.50 EUR.",
          ""
        ].join("\n")
      })
      expect((yield* bank("projections")).stdout).toMatch(/^balances\s+1\s+yes\s+caught-up\s+4\s+0\s+0\s+-$/m)
      // A write leaves the read model behind until the next catch-up.
      yield* bank("deposit", "q-1", "100")
      expect((yield* bank("projections")).stdout).toMatch(/^balances\s+1\s+yes\s+caught-up\s+4\s+1\s+0\s+-$/m)
      expect((yield* bank("accounts")).stdout).toMatch(
        /caught up 1 event \(checkpoint 5\)[\s\S]*q-1\s+Quinn\s+open\s+51\.00/
      )

      const rebuilt = yield* bank("rebuild", "balances")
      expect(rebuilt.code).toBe(0)
      expect(rebuilt.stdout.split("\n")).toEqual([
        "balances v1 [....................]   0%  0 events, checkpoint 0, lag 5",
        "balances v1 [####################] 100%  5 events, checkpoint 5, lag 0",
        expect.stringMatching(
          /^Rebuilt balances v1 from the first event: 5 events in [\d.]+ m?s.*Checkpoint 5, lag 0: caught up\.$/
        ),
        ""
      ])
      expect((yield* bank("projections")).stdout).toMatch(/^balances\s+1\s+yes\s+caught-up\s+5\s+0\s+0\s+-$/m)

      const statement = yield* bank("statement", "q-1")
      expect(statement.stdout).toMatch(/^\s+3\s+\S+Z\s+MoneyDeposited\s+\+1\.00 EUR\s+51\.00$/m)
      expect((yield* bank("statement", "nobody")).code).toBe(1)
      expect((yield* bank("totals")).stdout).toMatch(/^\d{4}-\d\d-\d\d\s+51\.00\s+2\.50\s+\+48\.50\s+3$/m)
    })
  )

  it.live("rebuild: an unknown projection is invalid input; one another process runs is ProjectionBusy", () =>
    Effect.gen(function* () {
      const bank = bankOn("busy.db")
      const unknown = yield* bank("rebuild", "balance")
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain(
        'unknown projection "balance": the projections are balances, statements, daily-totals'
      )
      expect(unknown.stderr).toContain("Usage:")

      yield* bank("open", "b-1", "--owner", "Bo")
      yield* bank("accounts")
      // Another process holds the lease of balances v1.
      const key = { name: "balances", version: 1 }
      const held = Effect.flatMap(ProjectionStore.ProjectionStore, (store) =>
        Effect.acquireRelease(store.acquireLease(key, "another-process", Duration.minutes(1)), () =>
          Effect.orDie(store.releaseLease(key, "another-process"))
        )
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          expect(yield* held).toBe(true)
          expect(yield* bank("rebuild", "balances")).toEqual({
            code: 1,
            stdout: "",
            stderr: "ProjectionBusy: Projection balances v1 is being processed by another instance\n"
          })
        })
      ).pipe(Effect.provide(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "busy.db") })))
      expect((yield* bank("rebuild", "balances")).code).toBe(0)
    })
  )
})
