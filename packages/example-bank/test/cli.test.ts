/**
 * The `pnpm bank` CLI as a user runs it: a real subprocess (through `tsx`)
 * on a temporary SQLite file (`BANK_DB`). Each spawn costs a second or two
 * (far more on a loaded machine, hence the long timeouts), so there are few,
 * and independent scenarios run concurrently, each on its own file. Edge
 * cases of the same commands run in process, in `BankCli.test.ts`.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"

const root = join(import.meta.dirname, "..", "..", "..")
const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-cli-"))

afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const bankOn =
  (database: string) =>
  (...args: ReadonlyArray<string>): Promise<Run> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, BANK_DB: join(dir, database), NO_COLOR: "1" }
      delete env.DATABASE_URL
      const child = spawn(join(root, "node_modules", ".bin", "tsx"), ["packages/example-bank/src/cli.ts", ...args], {
        cwd: root,
        env
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => {
        stdout += chunk
      })
      child.stderr.on("data", (chunk) => {
        stderr += chunk
      })
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const accountOf = (demo: Run): string => {
  const id = /^Account: (\S+)$/m.exec(demo.stdout)?.[1]
  if (id === undefined) throw new Error(`no account id in the demo's output:\n${demo.stdout}`)
  return id
}

describe.concurrent("pnpm bank", () => {
  it("demo prints a history with the rejected command, persists, and runs again on a fresh account", {
    timeout: 180_000
  }, async () => {
    const bank = bankOn("demo.db")
    const first = await bank("demo")
    expect(first.stderr).toBe("")
    expect(first.code).toBe(0)
    expect(first.stdout).toContain(`Store: SQLite file ${join(dir, "demo.db")}`)
    // The deposit an older release stored as v1 is read next to the current (v2) one.
    expect(first.stdout).toMatch(/MoneyDeposited\s+v1\s+\+100\.00 EUR\s+100\.00/)
    expect(first.stdout).toMatch(/MoneyDeposited\s+v2\s+\+30\.00 EUR\s+0\.00/)
    expect(first.stdout).toMatch(/AccountClosed\s+v1\s+0\.00/)
    expect(first.stdout).toContain("Withdraw 200.00 -> InsufficientFunds: cannot withdraw 200.00")

    const second = await bank("demo")
    expect(second.code).toBe(0)
    expect(accountOf(second)).not.toBe(accountOf(first))

    // The first run's account is still there, closed: a deposit is refused and writes nothing.
    const account = accountOf(first)
    const refused = await bank("deposit", account, "500")
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(`AccountIsClosed: account ${account}: the account is closed\n`)
    const events = await bank("events", account)
    expect(events.code).toBe(0)
    const rows = events.stdout.trimEnd().split("\n").slice(2)
    expect(rows.map((row) => row.trim().split(/\s+/)[2])).toEqual([
      "AccountOpened",
      "MoneyDeposited",
      "MoneyWithdrawn",
      "MoneyWithdrawn",
      "MoneyDeposited",
      "AccountClosed"
    ])
  })

  it("accounts reads the balances read model after catching it up; rebuild reports progress", {
    timeout: 180_000
  }, async () => {
    const bank = bankOn("cqrs.db")
    expect((await bank("open", "r-1", "--owner", "Rui", "--overdraft", "500")).code).toBe(0)
    const accounts = await bank("accounts")
    expect(accounts).toMatchObject({ code: 0, stderr: "" })
    expect(accounts.stdout).toMatch(/^Read model balances v1: caught up 1 event \(checkpoint 1\)\.$/m)
    expect(accounts.stdout).toMatch(/^r-1\s+Rui\s+open\s+0\.00\s+5\.00\s+1$/m)
    const rebuilt = await bank("rebuild", "statements")
    expect(rebuilt).toMatchObject({ code: 0, stderr: "" })
    expect(rebuilt.stdout).toMatch(/^statements v1 \[#+\] 100% {2}1 event, checkpoint 1, lag 0$/m)
    expect(rebuilt.stdout).toMatch(/^Rebuilt statements v1 from the first event: 1 event in .*lag 0: caught up\.$/m)
  })

  it("a domain error prints one line naming it, exits 1, and writes nothing", { timeout: 180_000 }, async () => {
    const bank = bankOn("rules.db")
    expect((await bank("open", "acc-1", "--owner", "Alice", "--overdraft", "1000")).stdout).toBe(
      "Opened account acc-1 for Alice (overdraft limit 10.00). Balance: 0.00\n"
    )
    const refused = await bank("withdraw", "acc-1", "1001")
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe("")
    expect(refused.stderr).toBe(
      "InsufficientFunds: account acc-1: cannot withdraw 10.01: the balance is 0.00 and the overdraft limit 10.00, so at most 10.00 is available\n"
    )
    const unknown = await bank("balance", "nobody")
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe("AccountNotOpen: account nobody: no account has been opened with this id\n")
    const balance = await bank("balance", "acc-1")
    expect(balance.stdout).toBe("acc-1 (Alice): balance 0.00, overdraft limit 10.00, 1 event\n")
  })

  it("balance --as-of / --at-version and history: the past, and bad points in time", { timeout: 180_000 }, async () => {
    const bank = bankOn("time.db")
    expect((await bank("open", "t-1", "--owner", "Tia")).code).toBe(0)
    expect((await bank("deposit", "t-1", "5000")).stdout).toBe("Deposited 50.00 EUR into t-1. Balance: 50.00\n")

    const history = await bank("history", "t-1")
    expect(history.code).toBe(0)
    const [header, , ...rows] = history.stdout.trimEnd().split("\n")
    expect(header).toMatch(
      /^Version\s+Recorded at\s+Event\s+Stored\s+Amount\s+Balance after\s+Correlation id\s+Causation id$/
    )
    expect(rows.map((row) => row.trim().split(/\s{2,}/))).toEqual([
      [
        "1",
        expect.stringMatching(iso),
        "AccountOpened",
        "v1",
        "0.00",
        expect.stringMatching(uuid),
        expect.stringMatching(uuid)
      ],
      [
        "2",
        expect.stringMatching(iso),
        "MoneyDeposited",
        "v2",
        "+50.00 EUR",
        "50.00",
        expect.stringMatching(uuid),
        expect.stringMatching(uuid)
      ]
    ])

    const [before, malformed, atVersion, pastEnd] = await Promise.all([
      bank("balance", "t-1", "--as-of", "2000-01-01T00:00:00Z"),
      bank("balance", "t-1", "--as-of", "2025-02-30"),
      bank("balance", "t-1", "--at-version", "1"),
      bank("balance", "t-1", "--at-version", "3")
    ])
    expect(before).toMatchObject({ code: 0, stderr: "" })
    expect(before.stdout).toMatch(
      /^t-1 did not exist as of 2000-01-01T00:00:00\.000Z: it was opened at \d{4}-\d\d-\d\dT[\d:.]+Z\.\n$/
    )
    expect(atVersion).toMatchObject({
      code: 0,
      stdout: "t-1 (Tia) at version 1: balance 0.00, overdraft limit 0.00, 1 event\n",
      stderr: ""
    })
    for (const run of [malformed, pastEnd]) {
      expect(run.code).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("Usage:")
    }
    expect(malformed.stderr).toContain("--as-of must be an ISO-8601 time with a zone, e.g. 2025-03-01T12:00:00Z")
    expect(malformed.stderr).toContain('(got "2025-02-30")')
    expect(pastEnd.stderr).toContain("version 3 is past the end of the stream (2 events)")
  })

  it("invalid input prints the problem and the usage, exits 2, and does not even open the store", {
    timeout: 180_000
  }, async () => {
    const bank = bankOn("untouched.db")
    const [notANumber, missing, unknown, unknownProjection] = await Promise.all([
      bank("deposit", "acc-1", "abc"),
      bank("withdraw", "acc-1"),
      bank("frobnicate"),
      bank("rebuild", "nope")
    ])
    for (const run of [notANumber, missing, unknown, unknownProjection]) {
      expect(run.code).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("Usage:\n  pnpm bank open <accountId> --owner <name> [--overdraft <cents>]")
    }
    expect(notANumber.stderr).toContain(
      '<cents> must be a positive whole number of cents, at most 1000000000000, e.g. 1250 for 12.50 (got "abc")'
    )
    expect(missing.stderr).toContain("Missing argument <cents>")
    expect(unknown.stderr).toContain("Invalid subcommand")
    expect(unknownProjection.stderr).toContain(
      'unknown projection "nope": the projections are balances, statements, daily-totals'
    )
    expect(existsSync(join(dir, "untouched.db"))).toBe(false)
  })
})
