import { EventStore, SnapshotStore, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect, Either, Layer, Option, Redacted, Schema, TestClock } from "effect"
import { Account, Bank, BankCli, BankStore, Money, Render, Table } from "../src/index.js"

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
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )

  it.effect("an account never opened has no balance and no events", () =>
    Effect.gen(function* () {
      expect((yield* Effect.flip(Bank.balance("nobody")))._tag).toBe("AccountNotOpen")
      expect((yield* Effect.flip(Bank.events("nobody")))._tag).toBe("AccountNotOpen")
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )

  it.effect("the demo rejects exactly one command and ends with a closed account at zero", () =>
    Effect.gen(function* () {
      const report = yield* Bank.demo
      const rejected = report.steps.flatMap((step) =>
        step._tag === "Command" && Either.isLeft(step.outcome) ? [step.command._tag] : []
      )
      expect(rejected).toEqual(["Withdraw"])
      expect(report.history).toHaveLength(Bank.demoScript.length - 1)
      expect(report.history.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6])
      const text = Render.demo(report, "in memory")
      expect(text).toContain(`Account: ${report.accountId}`)
      expect(text).toContain("Withdraw 200.00 -> InsufficientFunds: cannot withdraw 200.00")
      expect(text).toMatch(/AccountClosed\s+v1\s+0\.00$/m)
      // A second run on the same store uses a fresh account.
      const again = yield* Bank.demo
      expect(again.accountId).not.toBe(report.accountId)
      expect(again.history).toHaveLength(6)
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )

  it.effect("the demo reads a deposit stored as v1 by an older release next to a v2 one", () =>
    Effect.gen(function* () {
      const report = yield* Bank.demo
      const deposits = report.history.filter((entry) => entry.type === "MoneyDeposited")
      expect(deposits.map((entry) => [entry.version, entry.schemaVersion, entry.event])).toEqual([
        [2, 1, new Account.MoneyDeposited({ amount: 10_000, currency: "EUR" })],
        [5, 2, new Account.MoneyDeposited({ amount: 3_000, currency: "EUR" })]
      ])
      const text = Render.demo(report, "in memory")
      expect(text).toMatch(/^\s+2 .*MoneyDeposited\s+v1\s+\+100\.00 EUR\s+100\.00$/m)
      expect(text).toMatch(/^\s+5 .*MoneyDeposited\s+v2\s+\+30\.00 EUR\s+0\.00$/m)
      expect(text).toContain("Version 2 was written\nby an older release as MoneyDeposited v1 { amount }")
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )

  it("tells domain errors from other errors", () => {
    expect(Bank.isAccountError(new Account.NonZeroBalance({ balance: 1 }))).toBe(true)
    expect(Bank.isAccountError(new BankStore.BankStoreError({ reason: "x" }))).toBe(false)
    expect(Bank.isAccountError({ _tag: "AccountNotOpen" })).toBe(false)
  })
})

describe("Render", () => {
  it.effect("a history shows the balance after each event, and its ids", () =>
    Effect.gen(function* () {
      yield* Bank.open("bob", { owner: "Bob", overdraftLimit: 0 })
      const deposit = yield* Bank.deposit("bob", 123_456)
      yield* Bank.withdraw("bob", 100_000)
      const lines = Render.history(yield* Bank.history("bob")).split("\n")
      expect(lines[0]).toMatch(
        /^Version\s+Recorded at\s+Event\s+Stored\s+Amount\s+Balance after\s+Correlation id\s+Causation id$/
      )
      expect(lines[2]).toMatch(/AccountOpened\s+v1\s+0\.00\s+\S+\s+\S+$/)
      expect(lines[3]).toMatch(/MoneyDeposited\s+v2\s+\+1,234\.56 EUR\s+1,234\.56\s+\S+\s+\S+$/)
      expect(lines[4]).toMatch(/MoneyWithdrawn\s+v1\s+-1,000\.00 EUR\s+234\.56\s+\S+\s+\S+$/)
      expect(lines[3]).toContain(`${deposit.version}`)
      const short = Render.history(yield* Bank.history("bob"), { ids: false }).split("\n")
      expect(short[0]).toMatch(/Balance after$/)
      const events = Render.events(yield* Bank.events("bob")).split("\n")
      expect(events[0]).toMatch(/^Version\s+Position\s+Type\s+Stored\s+Data\s+Recorded at$/)
      expect(events[3]).toContain('v2      {"amount":123456,"currency":"EUR"}')
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
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

describe("the past", () => {
  // The stores stamp recordedAt from the Clock: under it.effect that is the TestClock.
  const at = (millis: number) => DateTime.unsafeMake(millis)
  const aliceAtKnownTimes = Effect.gen(function* () {
    yield* TestClock.setTime(1_000)
    yield* Bank.open("alice", { owner: "Alice", overdraftLimit: 0 })
    yield* TestClock.setTime(2_000)
    yield* Bank.deposit("alice", 5_000)
    yield* TestClock.setTime(3_000)
    yield* Bank.withdraw("alice", 2_000)
  })
  const balanceAt = (point: Bank.PointInTime) =>
    Effect.map(Bank.balanceAt("alice", point), (past) =>
      past._tag === "Existed" ? [past.version, Account.balanceOf(past.state)] : past._tag
    )

  it.effect("balance as of an instant: before, at, between and after the events", () =>
    Effect.gen(function* () {
      yield* aliceAtKnownTimes
      expect(yield* balanceAt({ at: at(999) })).toBe("NotYetOpen")
      expect(yield* balanceAt({ at: at(1_000) })).toEqual([1, 0])
      expect(yield* balanceAt({ at: at(2_500) })).toEqual([2, 5_000])
      expect(yield* balanceAt({ at: at(3_000) })).toEqual([3, 3_000])
      expect(yield* balanceAt({ at: at(9_999_999) })).toEqual([3, 3_000])
      const before = yield* Bank.balanceAt("alice", { at: at(0) })
      expect(Render.pastBalance(before)).toBe(
        "alice did not exist as of 1970-01-01T00:00:00.000Z: it was opened at 1970-01-01T00:00:01.000Z."
      )
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )

  it.effect("balance after the n-th event; a version out of range is a typed error", () =>
    Effect.gen(function* () {
      yield* aliceAtKnownTimes
      expect(yield* balanceAt({ version: 0 })).toBe("NotYetOpen")
      expect(yield* balanceAt({ version: 2 })).toEqual([2, 5_000])
      expect(yield* balanceAt({ version: 3 })).toEqual([3, 3_000])
      for (const version of [4, -1, 1.5]) {
        const error = yield* Effect.flip(Bank.balanceAt("alice", { version }))
        expect(error._tag).toBe("TemporalQueryError")
      }
      expect((yield* Effect.flip(Bank.balanceAt("nobody", { version: 0 })))._tag).toBe("AccountNotOpen")
      expect((yield* Effect.flip(Bank.balanceAt("nobody", { at: at(5_000) })))._tag).toBe("AccountNotOpen")
      expect(Render.pastBalance(yield* Bank.balanceAt("alice", { version: 2 }))).toBe(
        "alice (Alice) at version 2: balance 50.00, overdraft limit 0.00, 2 events"
      )
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )

  it.effect("history carries each event's time, ids and the state after it", () =>
    Effect.gen(function* () {
      yield* aliceAtKnownTimes
      const entries = yield* Bank.history("alice")
      expect(
        entries.map((e) => [e.version, DateTime.toEpochMillis(e.recordedAt), Account.balanceOf(e.stateAfter)])
      ).toEqual([
        [1, 1_000, 0],
        [2, 2_000, 5_000],
        [3, 3_000, 3_000]
      ])
      for (const entry of entries) {
        expect(entry.metadata.causationId).not.toBeNull()
        expect(entry.metadata.correlationId).toBe(entry.metadata.causationId)
      }
    }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))))
  )
})

describe("snapshots", () => {
  it.effect(
    `with a SnapshotStore, the bank snapshots every ${Bank.snapshotEvery} events and loads the same state`,
    () =>
      Effect.gen(function* () {
        yield* Bank.open("carol", { owner: "Carol", overdraftLimit: 0 })
        for (let i = 1; i <= 11; i++) yield* Bank.deposit("carol", i * 100)
        const snapshots = yield* SnapshotStore.SnapshotStore
        const newest = yield* snapshots.load(StreamId.forAggregate("Account", "carol"))
        expect(Option.map(newest, (s) => [s.version, s.stateVersion, s.state])).toEqual(
          Option.some([10, 1, { _tag: "Open", owner: "Carol", overdraftLimit: 0, balance: 4_500 }])
        )
        const entries = yield* Bank.history("carol")
        const now = yield* Bank.balance("carol")
        expect(now.state).toEqual(entries[entries.length - 1]?.stateAfter)
        expect(now.version).toBe(12)
        // In the past too, whether the point is before or after a snapshot.
        for (const version of [3, 5, 7, 10, 12]) {
          const past = yield* Bank.balanceAt("carol", { version })
          expect(past._tag === "Existed" && past.state).toEqual(entries[version - 1]?.stateAfter)
        }
      }).pipe(
        Effect.provide(
          Bank.Accounts.layer.pipe(Layer.provideMerge(Layer.merge(EventStore.layerMemory(), SnapshotStore.layerMemory)))
        )
      )
  )
})

describe("BankCli.Instant (--as-of)", () => {
  const parse = (text: string) =>
    Either.map(Schema.decodeUnknownEither(BankCli.Instant)(text), (utc) => DateTime.formatIso(utc))

  it("takes ISO-8601 times with a zone, and dates (midnight UTC)", () => {
    expect(parse("2025-03-01T12:00:00Z")).toEqual(Either.right("2025-03-01T12:00:00.000Z"))
    expect(parse("2025-03-01T13:00:00.250+01:00")).toEqual(Either.right("2025-03-01T12:00:00.250Z"))
    expect(parse("2025-03-01T12:00Z")).toEqual(Either.right("2025-03-01T12:00:00.000Z"))
    expect(parse("2024-02-29")).toEqual(Either.right("2024-02-29T00:00:00.000Z"))
  })

  it("refuses anything else, with a message that shows the expected shape", () => {
    for (const text of [
      "yesterday",
      "2025-03-01T12:00:00",
      "2025-02-30",
      "2025-13-01",
      "2025-03-01T24:00Z",
      "1/3/2025",
      ""
    ]) {
      const result = Schema.decodeUnknownEither(BankCli.Instant)(text)
      expect(Either.isLeft(result), text).toBe(true)
      if (Either.isLeft(result)) expect(result.left.message).toContain("--as-of must be an ISO-8601 time with a zone")
    }
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
