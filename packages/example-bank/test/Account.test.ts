import { EventStore, Repository } from "@chronicle/core"
import { AggregateLaws, DeciderSpec } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, FastCheck, Schema } from "effect"
import { Account, Money, Text } from "../src/index.js"

const {
  AccountClosed,
  AccountOpened,
  AccountState,
  CloseAccount,
  Deposit,
  MoneyDeposited,
  MoneyWithdrawn,
  OpenAccount,
  Withdraw
} = Account

const spec = DeciderSpec.make(Account.Account)
const opened = new AccountOpened({ owner: "Alice", overdraftLimit: 5_000 })
const deposited = (amount: number) => new MoneyDeposited({ amount, currency: "EUR" })

describe("Account", () => {
  describe("OpenAccount", () => {
    it.effect("opens an account never opened", () =>
      spec
        .given()
        .when(new OpenAccount({ owner: "Alice", overdraftLimit: 5_000 }))
        .thenEmits(opened)
    )

    it.effect("an open account starts at a zero balance", () =>
      spec
        .given()
        .when(new OpenAccount({ owner: "Alice", overdraftLimit: 0 }))
        .thenState((state) => {
          expect(state).toEqual(AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 0 }))
        })
    )

    it.effect("cannot open an account twice", () =>
      spec
        .given(opened)
        .when(new OpenAccount({ owner: "Bob", overdraftLimit: 0 }))
        .thenFails("AccountAlreadyOpen", (error) => {
          expect(error.owner).toBe("Alice")
        })
    )

    it.effect("cannot reopen a closed account", () =>
      spec
        .given(opened, new AccountClosed())
        .when(new OpenAccount({ owner: "Alice", overdraftLimit: 0 }))
        .thenFails("AccountIsClosed")
    )

    it("rejects a blank owner and a negative overdraft limit at the schema", () => {
      const decode = Schema.decodeUnknownEither(Account.AccountCommand)
      expect(decode({ _tag: "OpenAccount", owner: "   ", overdraftLimit: 0 })._tag).toBe("Left")
      expect(decode({ _tag: "OpenAccount", owner: "Alice", overdraftLimit: -1 })._tag).toBe("Left")
      expect(decode({ _tag: "OpenAccount", owner: " Alice ", overdraftLimit: 0 })._tag).toBe("Left")
    })
  })

  describe("Deposit", () => {
    it.effect("deposits into an open account", () =>
      spec
        .given(opened)
        .when(new Deposit({ amount: 500 }))
        .thenEmits(deposited(500))
    )

    it.effect("cannot deposit into an account never opened", () =>
      spec
        .given()
        .when(new Deposit({ amount: 500 }))
        .thenFails("AccountNotOpen")
    )

    it.effect("cannot deposit into a closed account", () =>
      spec
        .given(opened, new AccountClosed())
        .when(new Deposit({ amount: 500 }))
        .thenFails("AccountIsClosed")
    )

    it.effect("records the deposit's currency, EUR when the command names none", () =>
      spec
        .given(opened)
        .when(Schema.decodeUnknownSync(Account.AccountCommand)({ _tag: "Deposit", amount: 500 }))
        .thenEmits(new MoneyDeposited({ amount: 500, currency: "EUR" }))
    )

    it.effect("cannot deposit in a currency the account does not hold", () =>
      spec
        .given(opened)
        .when(new Deposit({ amount: 500, currency: "USD" }))
        .thenFails("CurrencyMismatch", (error) => {
          expect(error).toMatchObject({ accountCurrency: "EUR", requested: "USD" })
        })
    )

    it.effect("cannot take the balance above the maximum", () =>
      spec
        .given(opened, ...Array.from({ length: 1_000 }, () => deposited(1_000_000_000_000)))
        .when(new Deposit({ amount: 1 }))
        .thenFails("BalanceLimitExceeded", (error) => {
          expect(error.balance).toBe(Account.maxBalance)
        })
    )
  })

  describe("Withdraw", () => {
    it.effect("withdraws within the balance", () =>
      spec
        .given(opened, deposited(10_000))
        .when(new Withdraw({ amount: 3_000 }))
        .thenEmits(new MoneyWithdrawn({ amount: 3_000 }))
    )

    it.effect("withdraws into the overdraft, down to exactly the limit", () =>
      spec
        .given(opened, deposited(1_000))
        .when(new Withdraw({ amount: 6_000 }))
        .thenState((state) => {
          expect(Account.balanceOf(state)).toBe(-5_000)
        })
    )

    it.effect("cannot withdraw past the overdraft limit", () =>
      spec
        .given(opened, deposited(1_000))
        .when(new Withdraw({ amount: 6_001 }))
        .thenFails("InsufficientFunds", (error) => {
          expect(error).toMatchObject({ balance: 1_000, requested: 6_001, overdraftLimit: 5_000 })
          expect(error.message).toContain("at most 60.00 is available")
        })
    )

    it.effect("cannot withdraw anything without an overdraft and a balance", () =>
      spec
        .given(new AccountOpened({ owner: "Bob", overdraftLimit: 0 }))
        .when(new Withdraw({ amount: 1 }))
        .thenFails("InsufficientFunds")
    )

    it.effect("cannot withdraw from an account never opened", () =>
      spec
        .given()
        .when(new Withdraw({ amount: 1 }))
        .thenFails("AccountNotOpen")
    )

    it.effect("cannot withdraw from a closed account", () =>
      spec
        .given(opened, new AccountClosed())
        .when(new Withdraw({ amount: 1 }))
        .thenFails("AccountIsClosed")
    )
  })

  describe("CloseAccount", () => {
    it.effect("closes an account at zero balance", () =>
      spec
        .given(opened, deposited(700), new MoneyWithdrawn({ amount: 700 }))
        .when(new CloseAccount())
        .thenEmits(new AccountClosed())
    )

    it.effect("cannot close with money in the account", () =>
      spec
        .given(opened, deposited(700))
        .when(new CloseAccount())
        .thenFails("NonZeroBalance", (error) => {
          expect(error.balance).toBe(700)
        })
    )

    it.effect("cannot close with an overdrawn balance", () =>
      spec
        .given(opened, new MoneyWithdrawn({ amount: 700 }))
        .when(new CloseAccount())
        .thenFails("NonZeroBalance", (error) => {
          expect(error.balance).toBe(-700)
        })
    )

    it.effect("cannot close an account never opened", () =>
      spec.given().when(new CloseAccount()).thenFails("AccountNotOpen")
    )

    it.effect("cannot close an account twice", () =>
      spec.given(opened, new AccountClosed()).when(new CloseAccount()).thenFails("AccountIsClosed")
    )
  })

  describe("evolve", () => {
    it("is total: events decide never emits in a state leave it unchanged", () => {
      const unopened = Account.initialState
      expect(Account.evolve(unopened, deposited(5))).toBe(unopened)
      expect(Account.evolve(unopened, new AccountClosed())).toBe(unopened)
      const open = Account.evolve(unopened, opened)
      expect(Account.evolve(open, new AccountOpened({ owner: "Mallory", overdraftLimit: 9 }))).toBe(open)
    })
  })

  describe("the state Schema (for snapshots)", () => {
    const encode = Schema.encodeSync(Account.AccountStateSchema)
    const decode = Schema.decodeUnknownSync(Account.AccountStateSchema)

    it.prop(
      "every state survives encoding, JSON and decoding",
      [
        FastCheck.constantFrom("Unopened", "Open", "Closed"),
        FastCheck.string({ minLength: 1 }),
        FastCheck.integer({ min: 0, max: 1_000_000 }),
        FastCheck.integer({ min: -1_000_000, max: Account.maxBalance })
      ],
      ([tag, owner, overdraftLimit, balance]) => {
        const fields = { owner, overdraftLimit, balance }
        const state =
          tag === "Unopened"
            ? AccountState.Unopened()
            : tag === "Open"
              ? AccountState.Open(fields)
              : AccountState.Closed(fields)
        const back = decode(JSON.parse(JSON.stringify(encode(state))))
        expect(back).toEqual(state)
        expect(Account.evolve(back, deposited(1))).toEqual(Account.evolve(state, deposited(1)))
      }
    )

    it("refuses a snapshot of another shape", () => {
      expect(Schema.decodeUnknownEither(Account.AccountStateSchema)({ _tag: "Open", owner: "A" })._tag).toBe("Left")
    })
  })

  describe("bad command input", () => {
    it.effect("an invalid payload is a typed InvalidCommandError", () =>
      Effect.gen(function* () {
        const accounts = yield* Repository.make(Account.Account)
        const error = yield* Effect.flip(accounts.decodeCommand({ _tag: "Deposit", amount: -5 }))
        expect(error._tag).toBe("InvalidCommandError")
        expect(error.reason).toContain("positive")
        const unknown = yield* Effect.flip(accounts.decodeCommand({ _tag: "Transfer", amount: 5 }))
        expect(unknown._tag).toBe("InvalidCommandError")
      }).pipe(Effect.provide(EventStore.layerMemory()))
    )

    it.effect("executing a command built without validation fails typed and writes nothing", () =>
      Effect.gen(function* () {
        const accounts = yield* Repository.make(Account.Account)
        yield* accounts.execute("alice", new OpenAccount({ owner: "Alice", overdraftLimit: 0 }))
        for (const amount of [0, -5, 1.5, Number.POSITIVE_INFINITY]) {
          // `true` disables the constructor's validation: a command forged past the types.
          const error = yield* Effect.flip(accounts.execute("alice", new Deposit({ amount }, true)))
          expect(error._tag).toBe("InvalidCommandError")
        }
        expect((yield* accounts.load("alice")).version).toBe(1)
      }).pipe(Effect.provide(EventStore.layerMemory()))
    )

    const unsafe = FastCheck.oneof(
      FastCheck.integer({ min: 0, max: 0x1f }),
      FastCheck.integer({ min: 0x7f, max: 0x9f }),
      FastCheck.constantFrom(0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069)
    )

    it.prop(
      "an owner name with a control character or a direction override anywhere is refused",
      [FastCheck.string({ maxLength: 80 }), unsafe, FastCheck.string({ maxLength: 80 })],
      ([before, code, after]) => {
        const name = `A${before}${String.fromCodePoint(code)}${after}Z`
        expect(Schema.is(Account.Owner)(name)).toBe(false)
        expect(() => new OpenAccount({ owner: name, overdraftLimit: 0 })).toThrow()
      }
    )

    const printableChar = FastCheck.constantFrom(
      "a",
      "Z",
      "é",
      "ß",
      "李",
      "ш",
      "ع",
      "👩‍💻",
      " ",
      "-",
      "'",
      ".",
      "\u200d"
    )

    it.prop(
      "an owner name of 1 to 200 printable characters without surrounding spaces is accepted",
      [FastCheck.string({ unit: printableChar, minLength: 1, maxLength: 60 })],
      ([raw]) => {
        const name = `N${raw}N`
        expect(Schema.is(Account.Owner)(name)).toBe(name.length <= Account.ownerMaxLength)
        expect(Text.hasControlCharacters(name)).toBe(false)
      }
    )

    it.effect("an owner over 200 characters or with control characters is a typed InvalidCommandError", () =>
      Effect.gen(function* () {
        const accounts = yield* Repository.make(Account.Account)
        for (const owner of ["x".repeat(201), "Eve\u001b[2J", "Ann\nBob", "evil\u202etxt"]) {
          const error = yield* Effect.flip(accounts.execute("o-1", new OpenAccount({ owner, overdraftLimit: 0 }, true)))
          expect(error._tag).toBe("InvalidCommandError")
        }
        expect((yield* accounts.load("o-1")).version).toBe(0)
        // an event recorded before the rule still reads
        expect(new AccountOpened({ owner: "Old\u0007name", overdraftLimit: 0 }).owner).toBe("Old\u0007name")
      }).pipe(Effect.provide(EventStore.layerMemory()))
    )
  })
})

// ---------------------------------------------------------------------------
// Laws
// ---------------------------------------------------------------------------

const balanceFromHistory = (history: ReadonlyArray<Account.AccountEvent>): number =>
  history.reduce(
    (sum, event) =>
      event._tag === "MoneyDeposited" ? sum + event.amount : event._tag === "MoneyWithdrawn" ? sum - event.amount : sum,
    0
  )

/**
 * Schema-generated commands explore the edges (huge amounts, odd owners);
 * small round amounts make overdrafts, exact-zero balances and closing
 * reachable often.
 */
const smallAmount = FastCheck.integer({ min: 1, max: 6 }).map((n) => n * 1_000)
const commands: FastCheck.Arbitrary<Account.AccountCommand> = FastCheck.oneof(
  Arbitrary.make(Account.AccountCommand),
  FastCheck.integer({ min: 0, max: 3 }).map((n) => new OpenAccount({ owner: "Alice", overdraftLimit: n * 1_000 })),
  smallAmount.map((amount) => new Deposit({ amount })),
  FastCheck.constantFrom(...Money.currencies).map((currency) => new Deposit({ amount: 1_000, currency })),
  smallAmount.map((amount) => new Withdraw({ amount })),
  FastCheck.constant(new CloseAccount())
)

AggregateLaws.describe(Account.Account, {
  commands,
  invariants: {
    "balance = deposits - withdrawals": (state, history) => Account.balanceOf(state) === balanceFromHistory(history),
    "balance >= -overdraftLimit": (state) => state._tag === "Unopened" || state.balance >= -state.overdraftLimit,
    "a closed account has a zero balance": (state) => state._tag !== "Closed" || state.balance === 0,
    "the balance stays an exact integer within the limit": (state) =>
      Number.isSafeInteger(Account.balanceOf(state)) && Account.balanceOf(state) <= Account.maxBalance,
    "an account never opened has no history": (state, history) => state._tag !== "Unopened" || history.length === 0,
    "every deposit is in the account's currency": (_state, history) =>
      history.every((event) => event._tag !== "MoneyDeposited" || event.currency === Account.accountCurrency)
  }
})
