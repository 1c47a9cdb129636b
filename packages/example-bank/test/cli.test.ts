/**
 * The `pnpm bank` CLI as a user runs it: a real subprocess running the
 * bundled CLI (`scripts/bank.mjs` runs the same file, rebuilt first when a
 * source changed) on a temporary SQLite file (`BANK_DB`). Each spawn costs
 * about a second (far more on a loaded machine, hence the long timeouts; one
 * through `tsx` on source cost 5–7 times as much), so there are few, and
 * independent scenarios run concurrently, each on its own file. Edge
 * cases of the same commands run in process, in `BankCli.test.ts`.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ensureFresh, programs } from "../../../scripts/bundle.mjs"
import * as Postgres from "./support/postgres.js"

const root = join(import.meta.dirname, "..", "..", "..")
const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-cli-"))

let cli = ""

beforeAll(async () => {
  cli = await ensureFresh(programs.bank)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const bankWith =
  (settings: { readonly BANK_DB?: string; readonly DATABASE_URL?: string }) =>
  (...args: ReadonlyArray<string>): Promise<Run> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
      delete env.DATABASE_URL
      delete env.BANK_DB
      Object.assign(env, settings)
      const child = spawn(process.execPath, [cli, ...args], {
        cwd: root,
        env,
        // standard input closed, as in a script or a service
        stdio: ["ignore", "pipe", "pipe"]
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

const bankOn = (database: string) => bankWith({ BANK_DB: join(dir, database) })

/** A TCP port nothing listens on (taken from the OS, then released). */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(address)))
    })
  })

/** One line on stderr, nothing on stdout, no stack trace. */
const oneLine = (run: Run) => {
  expect(run.stdout).toBe("")
  expect(run.stderr.endsWith("\n")).toBe(true)
  expect(run.stderr.trimEnd().split("\n")).toHaveLength(1)
  expect(run.stderr).not.toMatch(/Unexpected failure|\s+at \S+ \(|node_modules/)
}

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
    expect(rebuilt.stdout).toMatch(/^statements v2 \[#+\] 100% {2}1 event, checkpoint 1, lag 0$/m)
    expect(rebuilt.stdout).toMatch(/^Rebuilt statements v2 from the first event: 1 event in .*lag 0: caught up\.$/m)
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
      'unknown projection "nope": the projections are balances, statements, daily-totals, transfers'
    )
    expect(existsSync(join(dir, "untouched.db"))).toBe(false)
  })

  it("a store that cannot be opened prints one line naming the cause, and exits 1", { timeout: 180_000 }, async () => {
    const folder = join(dir, "a-folder")
    mkdirSync(folder)
    const notSqlite = join(dir, "notes.txt")
    writeFileSync(notSqlite, "these are not the tables you are looking for\n")
    const port = await closedPort()
    const [directory, garbage, refused] = await Promise.all([
      bankWith({ BANK_DB: folder })("balance", "acc-1"),
      bankWith({ BANK_DB: notSqlite })("deposit", "acc-1", "100"),
      bankWith({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/bank` })("balance", "acc-1")
    ])
    for (const run of [directory, garbage, refused]) {
      expect(run.code).toBe(1)
      oneLine(run)
    }
    expect(directory.stderr).toBe(
      `BankStoreError: cannot open the bank's store: ${folder} is a directory, not a SQLite file (set BANK_DB to a file path)\n`
    )
    expect(garbage.stderr).toBe(`BankStoreError: cannot open the bank's store: ${notSqlite} is not a SQLite database\n`)
    expect(refused.stderr).toMatch(
      new RegExp(
        `^BankStoreError: cannot open the bank's store: PostgreSQL postgres://postgres@127\\.0\\.0\\.1:${port}/bank: connection refused .*ECONNREFUSED`
      )
    )
  })

  it.skipIf(!Postgres.available)(
    "PostgreSQL: a missing database and an unknown role are told apart from a server that is down",
    { timeout: 180_000 },
    async () => {
      const url = new URL(Postgres.databaseUrl)
      const missing = new URL(url)
      missing.pathname = `/chronicle_missing_${crypto.randomUUID().slice(0, 8)}`
      const stranger = new URL(url)
      stranger.username = `chronicle_nobody_${crypto.randomUUID().slice(0, 8)}`
      const [noDatabase, noRole] = await Promise.all([
        bankWith({ DATABASE_URL: missing.toString() })("accounts"),
        bankWith({ DATABASE_URL: stranger.toString() })("accounts")
      ])
      for (const run of [noDatabase, noRole]) {
        expect(run.code).toBe(1)
        oneLine(run)
      }
      expect(noDatabase.stderr).toContain(
        `the database does not exist: PgClient: Failed to connect: database "${missing.pathname.slice(1)}" does not exist`
      )
      expect(noRole.stderr).toMatch(
        /authentication failed: .*role "chronicle_nobody_\w+" does not exist|authentication failed: .*password authentication failed/
      )
    }
  )

  it("an owner name over 200 characters is invalid input: one message, the usage, exit 2", {
    timeout: 180_000
  }, async () => {
    const bank = bankOn("owners.db")
    const run = await bank("open", "acc-1", "--owner", "x".repeat(201))
    expect(run.code).toBe(2)
    expect(run.stdout).toBe("")
    expect(run.stderr).toMatch(/^an owner name is at most 200 characters \(got 201\)\n\nUsage:\n/)
    expect(run.stderr).not.toMatch(/Unexpected failure|ParseError|\s+at \S+ \(/)
  })

  it("--wizard with standard input closed fails at once with exit 2", { timeout: 180_000 }, async () => {
    const run = await bankOn("wizard.db")("--wizard")
    expect(run.code).toBe(2)
    expect(run.stdout).toBe("")
    expect(run.stderr).toMatch(/^--wizard is interactive: it needs a terminal on standard input/)
    expect(existsSync(join(dir, "wizard.db"))).toBe(false)
  })

  it("--command-id: the same deposit sent twice with one id is recorded once", { timeout: 180_000 }, async () => {
    const bank = bankOn("idempotent.db")
    expect((await bank("open", "acc-1", "--owner", "Ida")).code).toBe(0)
    const first = await bank("deposit", "acc-1", "2500", "--command-id", "transfer-42")
    expect(first).toMatchObject({ code: 0, stdout: "Deposited 25.00 EUR into acc-1. Balance: 25.00\n", stderr: "" })
    const again = await bank("deposit", "acc-1", "2500", "--command-id", "transfer-42")
    expect(again).toMatchObject({
      code: 0,
      stdout:
        "Already done: command id transfer-42 was executed before; nothing new was written.\nDeposited 25.00 EUR into acc-1. Balance: 25.00\n",
      stderr: ""
    })
    expect((await bank("balance", "acc-1")).stdout).toBe("acc-1 (Ida): balance 25.00, overdraft limit 0.00, 2 events\n")
  })
})
