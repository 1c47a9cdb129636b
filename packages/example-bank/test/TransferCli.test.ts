/**
 * `pnpm bank transfer`, `approve` and `transfers`, run in process through
 * `BankCli.main` (as in `BankCli.test.ts`), on a SQLite file and on
 * PostgreSQL: the outcomes, the exit codes, the list by pages (from the
 * transfers read model), and the statements afterwards.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Cli from "./support/cli.js"
import * as Database from "./support/database.js"
import * as Postgres from "./support/postgres.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-transfers-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The bank CLI with these environment variables. */
const bankWith =
  (env: ReadonlyArray<readonly [string, string]>) =>
  (...args: ReadonlyArray<string>): Effect.Effect<Cli.Run> =>
    Cli.run(args, [["BANK_APPROVAL_ABOVE", "50000"], ["BANK_APPROVAL_DEADLINE", "2 seconds"], ...env])

const scenario = (bank: (...args: ReadonlyArray<string>) => Effect.Effect<Cli.Run>) =>
  Effect.gen(function* () {
    for (const args of [
      ["open", "alice", "--owner", "Alice"],
      ["open", "bob", "--owner", "Bob"],
      ["open", "carol", "--owner", "Carol"],
      ["deposit", "alice", "200000"],
      ["close", "carol"]
    ]) {
      expect((yield* bank(...args)).code).toBe(0)
    }

    const done = yield* bank("transfer", "alice", "bob", "2500", "--id", "t1")
    expect(done).toEqual({ code: 0, stdout: "Transfer t1 of 25.00 from alice to bob: done.\n", stderr: "" })
    // the same transfer again: requested once, done once
    expect(yield* bank("transfer", "alice", "bob", "2500", "--id", "t1")).toEqual(done)
    expect((yield* bank("balance", "bob")).stdout).toContain("balance 25.00")

    const refused = yield* bank("transfer", "alice", "carol", "1000", "--id", "t2")
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe("")
    expect(refused.stderr).toBe(
      "Transfer t2 of 10.00 from alice to carol failed: the account is closed. Nothing stays debited.\n"
    )
    const funds = yield* bank("transfer", "bob", "alice", "999999", "--id", "t3")
    expect(funds.code).toBe(1)
    expect(funds.stderr).toMatch(/^Transfer t3 of 9,999\.99 from bob to alice failed: cannot withdraw 9,999\.99/)

    // large transfers wait for an approval
    const big = yield* bank("transfer", "alice", "bob", "60000", "--id", "t4")
    expect(big.code).toBe(0)
    expect(big.stdout).toMatch(
      /^Transfer t4 of 600\.00 from alice to bob waits for an approval until \S+Z; the amount is withdrawn and held/
    )
    expect(big.stdout).toContain("pnpm bank approve t4")
    const approved = yield* bank("approve", "t4")
    expect(approved).toMatchObject({ code: 0, stdout: "Transfer t4 of 600.00 from alice to bob: done.\n" })
    // approving again is safe: recorded once, the outcome printed again
    expect(yield* bank("approve", "t4")).toEqual(approved)

    // not approved in time: failed, refunded
    expect((yield* bank("transfer", "alice", "bob", "70000", "--id", "t5")).code).toBe(0)
    yield* Effect.sleep("2500 millis")
    // Each run of `transfers` gives a due saga up to 3 s to take its deadline (then lists it as it
    // is); on a loaded machine a new process's engine can need longer to pick the timer up, so
    // list again, as a user would, until the refund shows (bounded).
    let list = yield* bank("transfers")
    for (let i = 0; i < 10 && !/^t5\s.*\bfailed\b/m.test(list.stdout); i++) list = yield* bank("transfers")
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^t1\s+alice\s+bob\s+25\.00\s+completed\s+assess, withdraw, deposit, complete/m)
    expect(list.stdout).toMatch(/^t2\s+alice\s+carol\s+10\.00\s+failed\s+assess, withdraw\s+the account is closed/m)
    expect(list.stdout).toMatch(/^t5\s+alice\s+bob\s+700\.00\s+failed\s+assess, withdraw\s+.*no approved event/m)
    expect(list.stdout).toMatch(/^Read model transfers v1: /)
    expect(list.stdout).not.toContain("More:")

    // by pages, from the transfers read model, in the order requested
    const firstPage = yield* bank("transfers", "--limit", "2")
    expect(firstPage.stdout).toMatch(/^t1\s+alice\s+bob\s+25\.00\s+completed/m)
    expect(firstPage.stdout).toMatch(/^t2\s+alice\s+carol/m)
    expect(firstPage.stdout).not.toMatch(/^t3\s/m)
    expect(firstPage.stdout).toMatch(/More: pnpm bank transfers --after t2\n$/)
    const secondPage = yield* bank("transfers", "--after", "t2", "--limit", "2")
    expect(secondPage.stdout).not.toMatch(/^t[12]\s/m)
    expect(secondPage.stdout).toMatch(/^t3\s+bob\s+alice\s+9,999\.99\s+failed/m)
    expect(secondPage.stdout).toMatch(/^t4\s+alice\s+bob\s+600\.00\s+completed/m)
    expect(secondPage.stdout).toMatch(/More: pnpm bank transfers --after t4\n$/)
    const lastPage = yield* bank("transfers", "--after", "t4")
    expect(lastPage.stdout).toMatch(/^t5\s/m)
    expect(lastPage.stdout).not.toMatch(/^t[1-4]\s/m)
    expect(lastPage.stdout).not.toContain("More:")
    // by status: the failed ones only (t2, t3, t5), by pages that keep the filter
    const failedPage = yield* bank("transfers", "--status", "failed", "--limit", "2")
    expect(failedPage.code).toBe(0)
    expect(failedPage.stdout).toMatch(/^t2\s+alice\s+carol/m)
    expect(failedPage.stdout).toMatch(/^t3\s+bob\s+alice/m)
    expect(failedPage.stdout).not.toMatch(/^t[145]\s/m)
    expect(failedPage.stdout).toMatch(/More: pnpm bank transfers --status failed --after t3\n$/)
    const failedRest = yield* bank("transfers", "--status", "failed", "--after", "t3", "--limit", "2")
    expect(failedRest.stdout).toMatch(/^t5\s+alice\s+bob\s+700\.00\s+failed/m)
    expect(failedRest.stdout).not.toMatch(/^t[1-4]\s/m)
    expect(failedRest.stdout).not.toContain("More:")
    const none = yield* bank("transfers", "--status", "awaiting-approval")
    expect(none.code).toBe(0)
    expect(none.stdout).toContain("No transfer awaiting-approval.")
    const badStatus = yield* bank("transfers", "--status", "lost")
    expect(badStatus.code).toBe(2)
    expect(badStatus.stderr).toContain(
      '--status must be one of requested, running, awaiting-approval, compensating, completed, failed, compensation-failed (got "lost")'
    )
    const unknownCursor = yield* bank("transfers", "--after", "nope")
    expect(unknownCursor.code).toBe(2)
    expect(unknownCursor.stderr).toContain("--after: no transfer nope")
    expect((yield* bank("transfers", "--limit", "0")).code).toBe(2)

    const late = yield* bank("approve", "t5")
    expect(late.code).toBe(1)
    expect(late.stderr).toContain("transfer t5 has failed already")

    const statement = (yield* bank("statement", "alice")).stdout
    expect(statement).toMatch(/MoneyWithdrawn \(transfer\)\s+-10\.00 EUR/)
    expect(statement).toMatch(/MoneyDeposited \(refund\)\s+\+10\.00 EUR/)
    expect(statement).toMatch(/MoneyDeposited \(refund\)\s+\+700\.00 EUR/)
    expect((yield* bank("balance", "alice")).stdout).toContain("balance 1,375.00")

    // invalid input: exit 2, the usage, nothing requested
    const bad = yield* bank("transfer", "alice", "bob", "12.50")
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("pnpm bank transfer <from> <to> <cents> [--id <transferId>]")
    expect((yield* bank("transfer", "alice", "alice", "100")).stderr).toContain(
      "a transfer needs two different accounts"
    )
    expect((yield* bank("approve", "nope")).code).toBe(1)
  })

describe("pnpm bank transfer / approve / transfers", () => {
  it.live("on SQLite", () => scenario(bankWith([["BANK_DB", join(dir, "transfers.db")]])), 120_000)

  it.live.skipIf(!Postgres.available)(
    "on PostgreSQL",
    () =>
      Effect.gen(function* () {
        const url = yield* Database.fresh
        yield* scenario(bankWith([["DATABASE_URL", url]]))
      }).pipe(Effect.scoped),
    120_000
  )
})
