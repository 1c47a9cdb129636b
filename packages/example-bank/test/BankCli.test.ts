/**
 * The CLI in process: `BankCli.main` with its output captured and the store
 * chosen through a `ConfigProvider` (a temporary SQLite file), so edge cases
 * cost no subprocess. `cli.test.ts` runs the real `pnpm bank` for the main
 * paths.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Console, Effect } from "effect"
import { BankCli } from "../src/index.js"

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
})
