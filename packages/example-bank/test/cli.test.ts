/**
 * The `pnpm bank` CLI as a user runs it: a real subprocess (through `tsx`)
 * on a temporary SQLite file (`BANK_DB`). Each spawn costs a second or two,
 * so there are few, and independent scenarios run concurrently, each on its
 * own file.
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

const accountOf = (demo: Run): string => {
  const id = /^Account: (\S+)$/m.exec(demo.stdout)?.[1]
  if (id === undefined) throw new Error(`no account id in the demo's output:\n${demo.stdout}`)
  return id
}

describe.concurrent("pnpm bank", () => {
  it("demo prints a statement with the rejected command, persists, and runs again on a fresh account", async () => {
    const bank = bankOn("demo.db")
    const first = await bank("demo")
    expect(first.stderr).toBe("")
    expect(first.code).toBe(0)
    expect(first.stdout).toContain(`Store: SQLite file ${join(dir, "demo.db")}`)
    expect(first.stdout).toMatch(/MoneyDeposited\s+\+100\.00\s+100\.00/)
    expect(first.stdout).toMatch(/AccountClosed\s+0\.00/)
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

  it("a domain error prints one line naming it, exits 1, and writes nothing", async () => {
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

  it("invalid input prints the problem and the usage, exits 2, and does not even open the store", async () => {
    const bank = bankOn("untouched.db")
    const [notANumber, missing, unknown] = await Promise.all([
      bank("deposit", "acc-1", "abc"),
      bank("withdraw", "acc-1"),
      bank("frobnicate")
    ])
    for (const run of [notANumber, missing, unknown]) {
      expect(run.code).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toContain("Usage:\n  pnpm bank open <accountId> --owner <name> [--overdraft <cents>]")
    }
    expect(notANumber.stderr).toContain(
      '<cents> must be a positive whole number of cents, at most 1000000000000, e.g. 1250 for 12.50 (got "abc")'
    )
    expect(missing.stderr).toContain("Missing argument <cents>")
    expect(unknown.stderr).toContain("Invalid subcommand")
    expect(existsSync(join(dir, "untouched.db"))).toBe(false)
  })
})
