import { InMemoryEventStore } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import { Account, Bank, BankStore, Money, Render, Table } from "../src/index.js"

describe("Bank", () => {
  it.effect("runs the account's life through the use cases", () =>
    Effect.gen(function* () {
      yield* Bank.open("alice", { owner: "Alice", overdraftLimit: 1_000 })
      yield* Bank.deposit("alice", 5_000)
      const withdrawn = yield* Bank.withdraw("alice", 5_500)
      expect(Render.executed(withdrawn)).toBe("Withdrew 55.00 from alice. Balance: -5.00")
      const snapshot = yield* Bank.balance("alice")
      expect(Render.balance(snapshot)).toBe("alice (Alice): balance -5.00, overdraft limit 10.00, 3 events")
      const rejected = yield* Effect.flip(Bank.withdraw("alice", 1_000))
      expect(rejected._tag).toBe("InsufficientFunds")
      expect((yield* Bank.events("alice")).map((r) => r.type)).toEqual([
        "AccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn"
      ])
    }).pipe(Effect.provide(InMemoryEventStore.layer))
  )

  it.effect("an account never opened has no balance and no events", () =>
    Effect.gen(function* () {
      expect((yield* Effect.flip(Bank.balance("nobody")))._tag).toBe("AccountNotOpen")
      expect((yield* Effect.flip(Bank.events("nobody")))._tag).toBe("AccountNotOpen")
    }).pipe(Effect.provide(InMemoryEventStore.layer))
  )

  it.effect("the demo rejects exactly one command and ends with a closed account at zero", () =>
    Effect.gen(function* () {
      const report = yield* Bank.demo
      const rejected = report.steps.filter((step) => Either.isLeft(step.outcome))
      expect(rejected.map((step) => step.command._tag)).toEqual(["Withdraw"])
      expect(report.recorded).toHaveLength(Bank.demoScript.length - 1)
      expect(report.recorded.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6])
      const text = Render.demo(report, "in memory")
      expect(text).toContain(`Account: ${report.accountId}`)
      expect(text).toContain("Withdraw 200.00 -> InsufficientFunds: cannot withdraw 200.00")
      expect(text).toMatch(/AccountClosed\s+0\.00$/m)
      // A second run on the same store uses a fresh account.
      const again = yield* Bank.demo
      expect(again.accountId).not.toBe(report.accountId)
      expect(again.recorded).toHaveLength(6)
    }).pipe(Effect.provide(InMemoryEventStore.layer))
  )

  it("tells domain errors from other errors", () => {
    expect(Bank.isAccountError(new Account.NonZeroBalance({ balance: 1 }))).toBe(true)
    expect(Bank.isAccountError(new BankStore.BankStoreError({ reason: "x" }))).toBe(false)
    expect(Bank.isAccountError({ _tag: "AccountNotOpen" })).toBe(false)
  })
})

describe("Render", () => {
  it.effect("a statement shows the balance after each event", () =>
    Effect.gen(function* () {
      yield* Bank.open("bob", { owner: "Bob", overdraftLimit: 0 })
      yield* Bank.deposit("bob", 123_456)
      yield* Bank.withdraw("bob", 100_000)
      const lines = Render.statement(yield* Bank.events("bob")).split("\n")
      expect(lines[0]).toMatch(/^Version\s+Recorded at\s+Event\s+Amount\s+Balance$/)
      expect(lines[2]).toMatch(/AccountOpened\s+0\.00$/)
      expect(lines[3]).toMatch(/MoneyDeposited\s+\+1,234\.56\s+1,234\.56$/)
      expect(lines[4]).toMatch(/MoneyWithdrawn\s+-1,000\.00\s+234\.56$/)
      const events = Render.events(yield* Bank.events("bob")).split("\n")
      expect(events[0]).toMatch(/^Version\s+Position\s+Type\s+Data\s+Recorded at$/)
      expect(events[3]).toContain('{"amount":123456}')
    }).pipe(Effect.provide(InMemoryEventStore.layer))
  )

  it("names the error and the account in one line", () => {
    const line = Render.rejected(
      "alice",
      new Account.InsufficientFunds({ balance: 0, requested: 1, overdraftLimit: 0 })
    )
    expect(line).toBe(
      "InsufficientFunds: account alice: cannot withdraw 0.01: the balance is 0.00 and the overdraft limit 0.00, so at most 0.00 is available"
    )
    expect(line).not.toContain("\n")
  })
})

describe("Money", () => {
  it("formats cents", () => {
    expect(Money.format(0)).toBe("0.00")
    expect(Money.format(5)).toBe("0.05")
    expect(Money.format(-3_000)).toBe("-30.00")
    expect(Money.format(123_456_789)).toBe("1,234,567.89")
    expect(Money.formatSigned(100)).toBe("+1.00")
  })
})

describe("Table", () => {
  it("aligns columns and trims trailing spaces", () => {
    const text = Table.render<{ readonly name: string; readonly n: number }>(
      [
        { header: "Name", cell: (row) => row.name },
        { header: "N", align: "right", cell: (row) => `${row.n}` }
      ],
      [
        { name: "a", n: 10 },
        { name: "bb", n: 2 }
      ]
    )
    expect(text).toBe(["Name   N", "────  ──", "a     10", "bb     2"].join("\n"))
  })
})

describe("BankStore", () => {
  const chooseWith = (env: ReadonlyArray<readonly [string, string]>) =>
    BankStore.choose.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env))))

  it.effect("uses PostgreSQL when DATABASE_URL is set", () =>
    Effect.gen(function* () {
      const choice = yield* chooseWith([
        ["DATABASE_URL", "postgres://bank:secret@db:5432/bank"],
        ["BANK_DB", "ignored.db"]
      ])
      expect(choice._tag).toBe("Postgres")
      if (choice._tag === "Postgres") expect(Redacted.value(choice.url)).toBe("postgres://bank:secret@db:5432/bank")
      expect(BankStore.describe(choice)).not.toContain("secret")
    })
  )

  it.effect("otherwise a SQLite file: BANK_DB, relative to where the user ran the command", () =>
    Effect.gen(function* () {
      expect(
        yield* chooseWith([
          ["BANK_DB", "my.db"],
          ["INIT_CWD", "/home/u/project"]
        ])
      ).toEqual({
        _tag: "Sqlite",
        filename: "/home/u/project/my.db"
      })
      expect(yield* chooseWith([["INIT_CWD", "/home/u/project"]])).toEqual({
        _tag: "Sqlite",
        filename: "/home/u/project/.chronicle/bank.db"
      })
      expect(yield* chooseWith([["BANK_DB", ":memory:"]])).toEqual({ _tag: "Memory" })
    })
  )
})
