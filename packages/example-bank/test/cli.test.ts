/**
 * The `pnpm bank` CLI as a user runs it: a real subprocess (through `tsx`)
 * against a temporary SQLite file. Each spawn costs about a second, so these
 * are few.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"

const root = join(import.meta.dirname, "..", "..", "..")
const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-cli-"))
const bankDb = join(dir, "bank.db")

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const bank = (...args: ReadonlyArray<string>) => {
  const env: NodeJS.ProcessEnv = { ...process.env, BANK_DB: bankDb, NO_COLOR: "1" }
  delete env.DATABASE_URL
  const result = spawnSync(join(root, "node_modules", ".bin", "tsx"), ["packages/example-bank/src/cli.ts", ...args], {
    cwd: root,
    env,
    encoding: "utf8"
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("pnpm bank", () => {
  it("demo prints a statement with the rejected command, and exits 0", () => {
    const run = bank("demo")
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("Statement")
    expect(run.stdout).toMatch(/MoneyDeposited\s+\+100\.00\s+100\.00/)
    expect(run.stdout).toContain("Withdraw 200.00 -> InsufficientFunds")
  })

  it("invalid input prints the problem and the usage, and exits 2", () => {
    const run = bank("deposit", "acc-1", "abc")
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(
      '<cents> must be a positive whole number of cents, at most 1000000000000, e.g. 1250 for 12.50 (got "abc")'
    )
    expect(run.stderr).toContain("Usage:\n  pnpm bank open <accountId> --owner <name>")
    expect(run.stdout).toBe("")
    expect(bank("frobnicate").code).toBe(2)
  })

  it("a domain error prints one line naming it, and exits 1", () => {
    const run = bank("withdraw", "nobody", "500")
    expect(run.code).toBe(1)
    expect(run.stderr).toBe("AccountNotOpen: account nobody: no account has been opened with this id\n")
    expect(run.stdout).toBe("")
  })
})
