/**
 * The bank's Account aggregate: commands, events, domain errors, state, and
 * the pure `decide` / `evolve` functions that Chronicle runs.
 *
 * Rules:
 * - an account is opened once, with an owner (a name of at most
 *   {@link ownerMaxLength} characters, without control characters) and an
 *   overdraft limit;
 * - deposits and withdrawals are positive whole cents;
 * - no withdrawal may take the balance below minus the overdraft limit;
 * - nothing happens on an account that is not open (never opened, or closed);
 * - an account closes only at a zero balance;
 * - every account holds euros ({@link accountCurrency}): a deposit names its
 *   currency (EUR when it names none), and one in another currency is
 *   rejected with `CurrencyMismatch`, so the balance stays a single number.
 *
 * Events record facts only (who opened it, what moved); the balance is
 * derived by folding them.
 *
 * Versioning: `MoneyDeposited` is at schema version 2 (`{ amount, currency }`).
 * Releases before 0.2.0 stored it as version 1 (`{ amount }`); those stored
 * events are never rewritten, and {@link depositedV1toV2} reads them as
 * version 2 deposits in EUR ({@link Money.defaultCurrency}). Every other event is at
 * version 1. The state is snapshottable through {@link AccountStateSchema}.
 *
 * @since 0.1.0
 */
import { Aggregate, Upcaster } from "@chronicle/core"
import { Data, Effect, Schema } from "effect"
import * as Money from "./Money.js"
import * as Text from "./Text.js"

// ---------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------

/**
 * An account id: 1 to 100 letters, digits, `.`, `_` or `-`, starting with a
 * letter or digit. The account's stream is `Account-<id>`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Account.AccountId)("alice-1") // "alice-1"
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const AccountId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, {
    message: () => "an account id is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
  })
).annotations({ identifier: "AccountId" })

/**
 * The highest balance an account may hold: far above any real balance, and
 * low enough that every sum stays an exact integer.
 *
 * @example
 * ```ts
 * import { Money, Account } from "@chronicle/example-bank"
 *
 * Money.format(Account.maxBalance) // "10,000,000,000,000.00"
 * ```
 * @since 0.1.0
 * @category constants
 */
export const maxBalance = 1_000_000_000_000_000

/**
 * The currency every account holds. Deposits in any other currency are
 * rejected (`CurrencyMismatch`): the bank keeps one balance per account and
 * does no exchange.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const deposit = new Account.Deposit({ amount: 500, currency: Account.accountCurrency }) // accepted: "EUR"
 * ```
 * @since 0.2.0
 * @category constants
 */
export const accountCurrency: Money.Currency = Money.defaultCurrency

/**
 * The longest owner name an account may be opened with, in characters.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownEither(Account.Owner)("x".repeat(Account.ownerMaxLength + 1)) // Either.left(...): too long
 * ```
 * @since 0.4.0
 * @category constants
 */
export const ownerMaxLength = 200

/**
 * An owner name as `OpenAccount` takes it: 1 to {@link ownerMaxLength}
 * characters, no leading or trailing spaces, and no control characters
 * (newlines, tabs, the bell, terminal escape sequences, C1 controls), line
 * or paragraph separators, or bidirectional embeddings, overrides and
 * isolates (such as the right-to-left override), which would change how a
 * name is shown wherever it is printed. Events recorded before this rule
 * keep their names: `AccountOpened` reads any non-empty trimmed name.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Account.Owner)("Ada Lovelace") // "Ada Lovelace"
 * Schema.decodeUnknownEither(Account.Owner)("Ada\u001b[2J") // Either.left(...)
 * ```
 * @since 0.4.0
 * @category schemas
 */
export const Owner = Schema.String.pipe(
  Schema.nonEmptyString({ message: () => "an owner name must not be empty" }),
  Schema.trimmed({ message: () => "an owner name must not start or end with spaces" }),
  Schema.maxLength(ownerMaxLength, {
    message: (issue) =>
      `an owner name is at most ${ownerMaxLength} characters (got ${typeof issue.actual === "string" ? issue.actual.length : "?"})`
  }),
  Schema.filter((name) => !Text.hasControlCharacters(name), {
    message: () =>
      "an owner name must not contain control characters (newlines, tabs, terminal escapes), line separators or direction overrides"
  })
).annotations({ identifier: "Owner" })

/**
 * Why money came in, when it is not a plain deposit: the credit of a
 * transfer, or a refund (a transfer that failed gives its withdrawal back).
 * Statements show it.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Account.DepositReason)("refund") // "refund"
 * ```
 * @since 0.5.0
 * @category schemas
 */
export const DepositReason = Schema.Literal("transfer", "refund")

/**
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const credit = (amount: number, reason: Account.DepositReason) => new Account.Deposit({ amount, reason })
 * ```
 * @since 0.5.0
 * @category schemas
 */
export type DepositReason = typeof DepositReason.Type

/**
 * Why money went out, when it is not a plain withdrawal: the debit of a
 * transfer.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Account.WithdrawalReason)("transfer") // "transfer"
 * ```
 * @since 0.5.0
 * @category schemas
 */
export const WithdrawalReason = Schema.Literal("transfer")

/**
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const debit = (amount: number, reason: Account.WithdrawalReason) => new Account.Withdraw({ amount, reason })
 * ```
 * @since 0.5.0
 * @category schemas
 */
export type WithdrawalReason = typeof WithdrawalReason.Type

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/**
 * Opens an account for `owner`, allowing the balance to go down to
 * `-overdraftLimit`.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const open = new Account.OpenAccount({ owner: "Alice", overdraftLimit: 5000 })
 * ```
 * @since 0.1.0
 * @category commands
 */
export class OpenAccount extends Schema.TaggedClass<OpenAccount>()("OpenAccount", {
  owner: Owner,
  overdraftLimit: Money.NonNegativeCents
}) {}

/**
 * Puts money into an open account. The currency defaults to
 * {@link Money.defaultCurrency} (EUR), also when decoding input that names
 * none.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const deposit = new Account.Deposit({ amount: 10000 }) // 100.00 EUR
 * const dollars = new Account.Deposit({ amount: 10000, currency: "USD" }) // rejected: accounts hold EUR
 * ```
 * @since 0.1.0
 * @category commands
 */
export class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", {
  amount: Money.Cents,
  currency: Schema.optionalWith(Money.Currency, { default: () => Money.defaultCurrency }),
  /** Absent for a plain deposit. */
  reason: Schema.optionalWith(DepositReason, { exact: true })
}) {}

/**
 * Takes money out of an open account, within its overdraft limit.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const withdraw = new Account.Withdraw({ amount: 2500 }) // 25.00
 * ```
 * @since 0.1.0
 * @category commands
 */
export class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", {
  amount: Money.Cents,
  /** Absent for a plain withdrawal. */
  reason: Schema.optionalWith(WithdrawalReason, { exact: true })
}) {}

/**
 * Closes an open account whose balance is zero.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const close = new Account.CloseAccount()
 * ```
 * @since 0.1.0
 * @category commands
 */
export class CloseAccount extends Schema.TaggedClass<CloseAccount>()("CloseAccount", {}) {}

/**
 * Every account command, as one Schema (used to validate untyped input and
 * to generate random commands in property tests).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Account.AccountCommand)({ _tag: "Deposit", amount: 500 })
 * ```
 * @since 0.1.0
 * @category commands
 */
export const AccountCommand = Schema.Union(OpenAccount, Deposit, Withdraw, CloseAccount)

/**
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const commands: ReadonlyArray<Account.AccountCommand> = [
 *   new Account.OpenAccount({ owner: "Alice", overdraftLimit: 0 }),
 *   new Account.Deposit({ amount: 500 })
 * ]
 * const run = (state: Account.AccountState, command: Account.AccountCommand) => Account.decide(command, state)
 * ```
 * @since 0.1.0
 * @category commands
 */
export type AccountCommand = typeof AccountCommand.Type

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/**
 * The account was opened.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const opened = new Account.AccountOpened({ owner: "Alice", overdraftLimit: 0 })
 * ```
 * @since 0.1.0
 * @category events
 */
export class AccountOpened extends Schema.TaggedClass<AccountOpened>()("AccountOpened", {
  owner: Schema.NonEmptyTrimmedString,
  overdraftLimit: Money.NonNegativeCents
}) {}

/**
 * Money was put into the account: schema version 2, `{ amount, currency }`,
 * and since 0.5.0 an optional `reason` (a transfer's credit, a refund),
 * absent for a plain deposit and in every event stored before. Version 1
 * (`{ amount }`, stored by releases before 0.2.0) is read through
 * {@link depositedV1toV2}.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const deposited = new Account.MoneyDeposited({ amount: 500, currency: "EUR" })
 * ```
 * @since 0.1.0
 * @category events
 */
export class MoneyDeposited extends Schema.TaggedClass<MoneyDeposited>()("MoneyDeposited", {
  amount: Money.Cents,
  currency: Money.Currency,
  reason: Schema.optionalWith(DepositReason, { exact: true })
}) {}

/**
 * Money was taken out of the account; since 0.5.0 with an optional
 * `reason` (a transfer's debit), absent for a plain withdrawal.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const withdrawn = new Account.MoneyWithdrawn({ amount: 200 })
 * ```
 * @since 0.1.0
 * @category events
 */
export class MoneyWithdrawn extends Schema.TaggedClass<MoneyWithdrawn>()("MoneyWithdrawn", {
  amount: Money.Cents,
  reason: Schema.optionalWith(WithdrawalReason, { exact: true })
}) {}

/**
 * The account was closed.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const closed = new Account.AccountClosed()
 * ```
 * @since 0.1.0
 * @category events
 */
export class AccountClosed extends Schema.TaggedClass<AccountClosed>()("AccountClosed", {}) {}

/**
 * Every account event, as one Schema.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.encodeSync(Account.AccountEvent)(new Account.MoneyDeposited({ amount: 500, currency: "EUR" }))
 * // { _tag: "MoneyDeposited", amount: 500, currency: "EUR" }
 * ```
 * @since 0.1.0
 * @category events
 */
export const AccountEvent = Schema.Union(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed)

/**
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const events: ReadonlyArray<Account.AccountEvent> = [
 *   new Account.AccountOpened({ owner: "Alice", overdraftLimit: 0 }),
 *   new Account.MoneyDeposited({ amount: 500, currency: "EUR" })
 * ]
 * Account.balanceOf(events.reduce(Account.evolve, Account.initialState)) // 500
 * ```
 * @since 0.1.0
 * @category events
 */
export type AccountEvent = typeof AccountEvent.Type

// ---------------------------------------------------------------------------
// Versioning
// ---------------------------------------------------------------------------

/**
 * The payload of `MoneyDeposited` as releases before 0.2.0 stored it (schema
 * version 1): an amount, no currency.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Account.MoneyDepositedV1)({ amount: 500 }) // { amount: 500 }
 * ```
 * @since 0.2.0
 * @category versioning
 */
export const MoneyDepositedV1 = Schema.Struct({ amount: Money.Cents })

/**
 * The stored payload of `MoneyDeposited` at schema version 2.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Account.MoneyDepositedV2)({ amount: 500, currency: "EUR" }) // { amount: 500, currency: "EUR" }
 * ```
 * @since 0.2.0
 * @category versioning
 */
export const MoneyDepositedV2 = Schema.Struct({ amount: Money.Cents, currency: Money.Currency })

/**
 * The upcaster from `MoneyDeposited` v1 `{ amount }` to v2 `{ amount,
 * currency }`: a v1 deposit was made in {@link Money.defaultCurrency} (EUR),
 * the only currency the bank has ever held. It works on stored payloads; the
 * stored rows are never rewritten.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Upcaster } from "@chronicle/core"
 * import { Account } from "@chronicle/example-bank"
 *
 * const upcast = Upcaster.run([Account.depositedV1toV2], () => 2, {
 *   type: "MoneyDeposited",
 *   schemaVersion: 1,
 *   data: { amount: 500 }
 * })
 * // Either.right({ type: "MoneyDeposited", schemaVersion: 2, data: { amount: 500, currency: "EUR" } })
 * ```
 * @since 0.2.0
 * @category versioning
 */
export const depositedV1toV2: Upcaster.Upcaster = Upcaster.fromSchema({
  type: "MoneyDeposited",
  version: 1,
  schema: Schema.transform(MoneyDepositedV1, MoneyDepositedV2, {
    strict: true,
    decode: ({ amount }) => ({ amount, currency: Money.defaultCurrency }),
    encode: ({ amount }) => ({ amount })
  })
})

// ---------------------------------------------------------------------------
// Domain errors
// ---------------------------------------------------------------------------

/**
 * `OpenAccount` on an account that is already open.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * new Account.AccountAlreadyOpen({ owner: "Alice" }).message // "the account is already open (owner: Alice)"
 * ```
 * @since 0.1.0
 * @category errors
 */
export class AccountAlreadyOpen extends Schema.TaggedError<AccountAlreadyOpen>()("AccountAlreadyOpen", {
  owner: Schema.String
}) {
  override get message(): string {
    return `the account is already open (owner: ${this.owner})`
  }
}

/**
 * A command on an account that was never opened.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * new Account.AccountNotOpen().message // "no account has been opened with this id"
 * ```
 * @since 0.1.0
 * @category errors
 */
export class AccountNotOpen extends Schema.TaggedError<AccountNotOpen>()("AccountNotOpen", {}) {
  override get message(): string {
    return "no account has been opened with this id"
  }
}

/**
 * A command on an account that has been closed. (The event of closing is
 * {@link AccountClosed}; this is the error.)
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * new Account.AccountIsClosed().message // "the account is closed"
 * ```
 * @since 0.1.0
 * @category errors
 */
export class AccountIsClosed extends Schema.TaggedError<AccountIsClosed>()("AccountIsClosed", {}) {
  override get message(): string {
    return "the account is closed"
  }
}

/**
 * A withdrawal that would take the balance below `-overdraftLimit`.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * new Account.InsufficientFunds({ balance: 7000, requested: 20000, overdraftLimit: 5000 }).message
 * // "cannot withdraw 200.00: the balance is 70.00 and the overdraft limit 50.00, so at most 120.00 is available"
 * ```
 * @since 0.1.0
 * @category errors
 */
export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  balance: Schema.Int,
  requested: Schema.Int,
  overdraftLimit: Schema.Int
}) {
  override get message(): string {
    return `cannot withdraw ${Money.format(this.requested)}: the balance is ${Money.format(this.balance)} and the overdraft limit ${Money.format(this.overdraftLimit)}, so at most ${Money.format(Math.max(0, this.balance + this.overdraftLimit))} is available`
  }
}

/**
 * `CloseAccount` on an account whose balance is not zero.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * new Account.NonZeroBalance({ balance: 2000 }).message
 * // "cannot close the account: its balance is 20.00, not 0.00"
 * ```
 * @since 0.1.0
 * @category errors
 */
export class NonZeroBalance extends Schema.TaggedError<NonZeroBalance>()("NonZeroBalance", {
  balance: Schema.Int
}) {
  override get message(): string {
    return `cannot close the account: its balance is ${Money.format(this.balance)}, not 0.00`
  }
}

/**
 * A deposit that would take the balance above {@link maxBalance}. It keeps
 * every balance an exact integer.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const error = new Account.BalanceLimitExceeded({ balance: 0, requested: 1, limit: 0 })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class BalanceLimitExceeded extends Schema.TaggedError<BalanceLimitExceeded>()("BalanceLimitExceeded", {
  balance: Schema.Int,
  requested: Schema.Int,
  limit: Schema.Int
}) {
  override get message(): string {
    return `cannot deposit ${Money.format(this.requested)}: the balance ${Money.format(this.balance)} would exceed the limit of ${Money.format(this.limit)}`
  }
}

/**
 * A deposit in a currency the account does not hold (every account holds
 * {@link accountCurrency}).
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * new Account.CurrencyMismatch({ accountCurrency: "EUR", requested: "USD" }).message
 * // "cannot deposit USD: the account holds EUR, and the bank does no exchange"
 * ```
 * @since 0.2.0
 * @category errors
 */
export class CurrencyMismatch extends Schema.TaggedError<CurrencyMismatch>()("CurrencyMismatch", {
  accountCurrency: Money.Currency,
  requested: Money.Currency
}) {
  override get message(): string {
    return `cannot deposit ${this.requested}: the account holds ${this.accountCurrency}, and the bank does no exchange`
  }
}

/**
 * Every domain error an account command can fail with, as one Schema.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.is(Account.AccountError)(new Account.AccountIsClosed()) // true
 * ```
 * @since 0.1.0
 * @category errors
 */
export const AccountError = Schema.Union(
  AccountAlreadyOpen,
  AccountNotOpen,
  AccountIsClosed,
  InsufficientFunds,
  NonZeroBalance,
  BalanceLimitExceeded,
  CurrencyMismatch
)

/**
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * const explain = (error: Account.AccountError): string => `${error._tag}: ${error.message}`
 * Effect.runSync(
 *   Account.decide(new Account.CloseAccount(), Account.initialState).pipe(Effect.catchAll((e) => Effect.succeed(explain(e))))
 * )
 * // "AccountNotOpen: no account has been opened with this id"
 * ```
 * @since 0.1.0
 * @category errors
 */
export type AccountError = typeof AccountError.Type

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/**
 * The state of an account: never opened, open, or closed. Open and closed
 * accounts keep their owner, overdraft limit and balance.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const describe = (state: Account.AccountState) =>
 *   Account.AccountState.$match(state, {
 *     Unopened: () => "not opened",
 *     Open: ({ owner, balance }) => `${owner}: ${balance}`,
 *     Closed: ({ owner }) => `${owner}: closed`
 *   })
 * ```
 * @since 0.1.0
 * @category state
 */
export type AccountState = Data.TaggedEnum<{
  Unopened: {}
  Open: { readonly owner: string; readonly overdraftLimit: number; readonly balance: number }
  Closed: { readonly owner: string; readonly overdraftLimit: number; readonly balance: number }
}>

/**
 * Constructors, guards and `$match` for {@link AccountState}.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const open = Account.AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 100 })
 * ```
 * @since 0.1.0
 * @category state
 */
export const AccountState = Data.taggedEnum<AccountState>()

const accountFields = {
  owner: Schema.String,
  overdraftLimit: Schema.Int,
  balance: Schema.Int
}

const AccountStateEncoded = Schema.Union(
  Schema.TaggedStruct("Unopened", {}),
  Schema.TaggedStruct("Open", accountFields),
  Schema.TaggedStruct("Closed", accountFields)
)

const isAccountStateShape = Schema.is(AccountStateEncoded)

/**
 * The Schema of {@link AccountState}, for snapshots: it encodes to plain
 * JSON (`{ _tag: "Open", owner, overdraftLimit, balance }`) and decodes back
 * to the `AccountState` values `evolve` produces. Bump the aggregate's state
 * version when this shape changes: older snapshots are then ignored.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Schema.encodeSync(Account.AccountStateSchema)(
 *   Account.AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 500 })
 * )
 * // { _tag: "Open", owner: "Alice", overdraftLimit: 0, balance: 500 }
 * ```
 * @since 0.2.0
 * @category state
 */
export const AccountStateSchema: Schema.Schema<AccountState, typeof AccountStateEncoded.Encoded> = Schema.transform(
  AccountStateEncoded,
  Schema.declare((u): u is AccountState => isAccountStateShape(u), { identifier: "AccountState" }),
  {
    strict: true,
    decode: (shape) =>
      AccountState.$match(shape, {
        Unopened: () => AccountState.Unopened(),
        Open: ({ owner, overdraftLimit, balance }) => AccountState.Open({ owner, overdraftLimit, balance }),
        Closed: ({ owner, overdraftLimit, balance }) => AccountState.Closed({ owner, overdraftLimit, balance })
      }),
    encode: (state) => state
  }
)

/**
 * The state of an account no event has touched.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * Account.initialState._tag // "Unopened"
 * Account.balanceOf(Account.initialState) // 0
 * ```
 * @since 0.1.0
 * @category state
 */
export const initialState: AccountState = AccountState.Unopened()

/**
 * The balance of an account in cents (0 for one never opened).
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * Account.balanceOf(Account.initialState) // 0
 * ```
 * @since 0.1.0
 * @category state
 */
export const balanceOf = (state: AccountState): number => (state._tag === "Unopened" ? 0 : state.balance)

const withBalance = (state: AccountState, balance: number): AccountState =>
  AccountState.$match(state, {
    Unopened: (unopened) => unopened,
    Open: ({ owner, overdraftLimit }) => AccountState.Open({ owner, overdraftLimit, balance }),
    Closed: ({ owner, overdraftLimit }) => AccountState.Closed({ owner, overdraftLimit, balance })
  })

/**
 * Folds one event into the state. Pure and total: an event that `decide`
 * would never emit in that state (money moving on an account never opened, a
 * second opening) leaves the state unchanged, except that money moving on a
 * closed account still moves its balance, since the event is a recorded fact.
 * A deposit's currency does not change the sum: `decide` only ever records
 * deposits in {@link accountCurrency}.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 *
 * const state = Account.evolve(Account.initialState, new Account.AccountOpened({ owner: "Alice", overdraftLimit: 0 }))
 * ```
 * @since 0.1.0
 * @category state
 */
export const evolve = (state: AccountState, event: AccountEvent): AccountState => {
  switch (event._tag) {
    case "AccountOpened":
      return state._tag === "Unopened"
        ? AccountState.Open({ owner: event.owner, overdraftLimit: event.overdraftLimit, balance: 0 })
        : state
    case "MoneyDeposited":
      return withBalance(state, balanceOf(state) + event.amount)
    case "MoneyWithdrawn":
      return withBalance(state, balanceOf(state) - event.amount)
    case "AccountClosed":
      return state._tag === "Open" ? AccountState.Closed(state) : state
  }
}

// ---------------------------------------------------------------------------
// Decide
// ---------------------------------------------------------------------------

type OpenState = Extract<AccountState, { readonly _tag: "Open" }>

const requireOpen = (state: AccountState): Effect.Effect<OpenState, AccountNotOpen | AccountIsClosed> => {
  switch (state._tag) {
    case "Unopened":
      return Effect.fail(new AccountNotOpen())
    case "Closed":
      return Effect.fail(new AccountIsClosed())
    case "Open":
      return Effect.succeed(state)
  }
}

/**
 * Decides what a command does to an account: the event it causes, or the
 * domain error that rejects it. Pure: it needs no services.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Account } from "@chronicle/example-bank"
 *
 * Effect.runSync(Account.decide(new Account.OpenAccount({ owner: "Alice", overdraftLimit: 0 }), Account.initialState))
 * // AccountOpened { owner: "Alice", overdraftLimit: 0 }
 * ```
 * @since 0.1.0
 * @category decide
 */
export const decide = (command: AccountCommand, state: AccountState): Effect.Effect<AccountEvent, AccountError> => {
  switch (command._tag) {
    case "OpenAccount":
      return AccountState.$match(state, {
        Unopened: () =>
          Effect.succeed(new AccountOpened({ owner: command.owner, overdraftLimit: command.overdraftLimit })),
        Open: ({ owner }) => Effect.fail(new AccountAlreadyOpen({ owner })),
        Closed: () => Effect.fail(new AccountIsClosed())
      })
    case "Deposit":
      return Effect.flatMap(requireOpen(state), ({ balance }): Effect.Effect<MoneyDeposited, AccountError> => {
        if (command.currency !== accountCurrency) {
          return Effect.fail(new CurrencyMismatch({ accountCurrency, requested: command.currency }))
        }
        return balance + command.amount > maxBalance
          ? Effect.fail(new BalanceLimitExceeded({ balance, requested: command.amount, limit: maxBalance }))
          : Effect.succeed(
              new MoneyDeposited({
                amount: command.amount,
                currency: command.currency,
                ...(command.reason === undefined ? {} : { reason: command.reason })
              })
            )
      })
    case "Withdraw":
      return Effect.flatMap(requireOpen(state), ({ balance, overdraftLimit }) =>
        balance - command.amount < -overdraftLimit
          ? Effect.fail(new InsufficientFunds({ balance, requested: command.amount, overdraftLimit }))
          : Effect.succeed(
              new MoneyWithdrawn({
                amount: command.amount,
                ...(command.reason === undefined ? {} : { reason: command.reason })
              })
            )
      )
    case "CloseAccount":
      return Effect.flatMap(requireOpen(state), ({ balance }) =>
        balance === 0 ? Effect.succeed(new AccountClosed()) : Effect.fail(new NonZeroBalance({ balance }))
      )
  }
}

// ---------------------------------------------------------------------------
// The aggregate
// ---------------------------------------------------------------------------

/**
 * The Account aggregate. Its stream category is `Account`, so account
 * `alice` lives in the stream `Account-alice`. It reads `MoneyDeposited` v1
 * through {@link depositedV1toV2} (so it writes v2), and its state can be
 * snapshotted ({@link AccountStateSchema}, state version 1).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Repository, EventStore } from "@chronicle/core"
 * import { Account } from "@chronicle/example-bank"
 *
 * const program = Effect.gen(function* () {
 *   const accounts = yield* Repository.make(Account.Account)
 *   yield* accounts.execute("alice", new Account.OpenAccount({ owner: "Alice", overdraftLimit: 0 }))
 *   yield* accounts.execute("alice", new Account.Deposit({ amount: 500 }))
 *   const { state } = yield* accounts.load("alice")
 *   return Account.balanceOf(state) // 500
 * }).pipe(Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.1.0
 * @category aggregate
 */
export const Account = Aggregate.make({
  name: "Account",
  events: AccountEvent,
  commands: AccountCommand,
  initialState,
  evolve,
  decide,
  upcasters: [depositedV1toV2],
  state: { schema: AccountStateSchema, version: 1 }
})
