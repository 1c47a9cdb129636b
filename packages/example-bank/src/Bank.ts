/**
 * The bank's use cases, one function per CLI command: open, deposit,
 * withdraw, close, balance (now or in the past), events, history and the
 * scripted demo. Each runs through a Chronicle `Repository` over whatever
 * `EventStore` is provided, and returns plain data for the renderer
 * (`Render`).
 *
 * When a `SnapshotStore` is provided as well, the repository reads the newest
 * snapshot of an account and writes a new one every {@link snapshotEvery}
 * events; without one, every load folds the whole stream.
 *
 * @since 0.1.0
 */
import { Aggregate, EventStore, ExpectedVersion, Repository, SnapshotStore, type TimeTravel } from "@chronicle/core"
import { Chunk, DateTime, Effect, Either, Option, Random, Schema, Stream } from "effect"
import * as Account from "./Account.js"
import * as Money from "./Money.js"
import * as TransferRequest from "./TransferRequest.js"

/**
 * What a command did: the account, the events it recorded, and the state
 * and stream version after it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const summary = (executed: Bank.Executed) =>
 *   executed.duplicate ? `${executed.commandId}: already done` : `${executed.accountId} at version ${executed.version}`
 * const program = Bank.deposit("alice", 500).pipe(Effect.map(summary))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Executed {
  readonly accountId: string
  readonly events: ReadonlyArray<Account.AccountEvent>
  readonly state: Account.AccountState
  readonly version: number
  /** The command's id: the one given in {@link CommandOptions}, or a generated one. */
  readonly commandId: string
  /** `true` when this command id had been executed already: nothing new was written. */
  readonly duplicate: boolean
}

/**
 * Options of the commands that write (`open`, `deposit`, `withdraw`,
 * `close`).
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * const options: Bank.CommandOptions = { commandId: "payroll-2025-06-alice" }
 * const program = Bank.deposit("alice", 250_000, "EUR", options) // retried, it deposits once
 * ```
 * @since 0.4.0
 * @category models
 */
export interface CommandOptions {
  /**
   * Identifies the command: executing the same command id again on the same
   * account writes nothing new and returns the first result (`duplicate`).
   * Give one whenever a command may be retried, in particular after an
   * `UnknownOutcomeError`. Defaults to a new random id.
   */
  readonly commandId?: string | undefined
}

/**
 * An account's current state and stream version (what `balance` shows).
 * Renamed from `Snapshot` in 0.2.0, now that a snapshot is a Chronicle
 * concept.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Money, Bank } from "@chronicle/example-bank"
 *
 * const line = ({ accountId, state, version }: Bank.CurrentBalance) =>
 *   `${accountId} (${state.owner}): ${Money.format(state.balance)} at version ${version}`
 * const program = Bank.balance("alice").pipe(Effect.map(line))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface CurrentBalance {
  readonly accountId: string
  readonly state: Exclude<Account.AccountState, { readonly _tag: "Unopened" }>
  readonly version: number
}

/**
 * What the bank's use cases need: an event store and the accounts
 * repository (`Accounts.layer` builds it over the event store). A
 * `SnapshotStore` is used when provided, and optional.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const requirements: Layer.Layer<Bank.Requirements> = Bank.Accounts.layer.pipe(Layer.provideMerge(EventStore.layerMemory()))
 * const report = Bank.demo.pipe(Effect.provide(requirements))
 * ```
 * @since 0.1.0
 * @category models
 */
export type Requirements = EventStore.EventStore | Accounts

/**
 * How often the bank snapshots an account: after every this many events
 * since the last snapshot (when a `SnapshotStore` is provided). Snapshots are
 * written inline, before the command returns, because a CLI process ends
 * right after its command and would cut a background write short.
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * Bank.snapshotEvery // 5: a snapshot after every 5 events, when a SnapshotStore is provided
 * ```
 * @since 0.2.0
 * @category constants
 */
export const snapshotEvery = 5

/**
 * The bank's one repository of accounts, as a service: every use case runs
 * through it, so one state cache serves them all. Snapshots are written
 * inline every {@link snapshotEvery} events when a `SnapshotStore` is
 * provided.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const balance = Effect.flatMap(Bank.Accounts, (accounts) => accounts.load("alice")).pipe(
 *   Effect.provide(Bank.Accounts.layer),
 *   Effect.provide(EventStore.layerMemory())
 * )
 * ```
 * @since 0.6.0
 * @category services
 */
export class Accounts extends Repository.Tag<Accounts>()("@chronicle/example-bank/Accounts", Account.Account, {
  snapshots: { strategy: SnapshotStore.every(snapshotEvery), mode: "inline" }
}) {}

const run = (accountId: string, command: Account.AccountCommand, options: CommandOptions | undefined) =>
  Effect.gen(function* () {
    const repo = yield* Accounts
    const result = yield* repo.execute(accountId, command, { commandId: options?.commandId })
    return {
      accountId,
      events: result.events,
      state: result.state,
      version: result.version,
      commandId: result.commandId,
      duplicate: result.duplicate
    } satisfies Executed
  })

// Commands are built without the constructor's validation: the repository
// validates every field and fails with a typed `InvalidCommandError` (say,
// for an owner name of 201 characters) instead of a constructor's throw.
const unchecked = true

/**
 * Opens an account. An owner name that `Account.Owner` refuses (empty,
 * padded, longer than 200 characters, or holding control characters) or a
 * negative limit is a typed `InvalidCommandError`, never a defect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * Bank.open("alice", { owner: "Alice", overdraftLimit: 0 }).pipe(Effect.provide(Bank.Accounts.layer), Effect.provide(EventStore.layerMemory()))
 * Bank.open("bob", { owner: "Bob", overdraftLimit: 0 }, { commandId: "signup-7" })
 * ```
 * @since 0.1.0
 * @category commands
 */
export const open = Effect.fn("Bank.open")(function* (
  accountId: string,
  account: { readonly owner: string; readonly overdraftLimit: number },
  options?: CommandOptions
) {
  return yield* run(accountId, new Account.OpenAccount(account, unchecked), options)
})

/**
 * Deposits `amount` cents, in EUR unless another currency is named (the
 * account then rejects it with `CurrencyMismatch`).
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * const program = Bank.deposit("alice", 500)
 * const inEuros = Bank.deposit("alice", 500, "EUR")
 * // safe to retry: the same command id deposits once
 * const retryable = Bank.deposit("alice", 500, "EUR", { commandId: "transfer-2025-0042" })
 * ```
 * @since 0.1.0
 * @category commands
 */
export const deposit = Effect.fn("Bank.deposit")(function* (
  accountId: string,
  amount: number,
  currency?: Money.Currency,
  options?: CommandOptions
) {
  return yield* run(
    accountId,
    new Account.Deposit({ amount, currency: currency ?? Money.defaultCurrency }, unchecked),
    options
  )
})

/**
 * Withdraws `amount` cents, within the overdraft limit.
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * const program = Bank.withdraw("alice", 200)
 * ```
 * @since 0.1.0
 * @category commands
 */
export const withdraw = Effect.fn("Bank.withdraw")(function* (
  accountId: string,
  amount: number,
  options?: CommandOptions
) {
  return yield* run(accountId, new Account.Withdraw({ amount }, unchecked), options)
})

/**
 * Closes an account at zero balance.
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * const program = Bank.close("alice")
 * ```
 * @since 0.1.0
 * @category commands
 */
export const close = Effect.fn("Bank.close")(function* (accountId: string, options?: CommandOptions) {
  return yield* run(accountId, new Account.CloseAccount(), options)
})

/**
 * The current state of an account that exists (open or closed). An account
 * never opened fails with `AccountNotOpen`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Account, Bank } from "@chronicle/example-bank"
 *
 * const balance = Bank.balance("alice").pipe(Effect.map(({ state }) => Account.balanceOf(state)))
 * ```
 * @since 0.1.0
 * @category queries
 */
export const balance = Effect.fn("Bank.balance")(function* (accountId: string) {
  const repo = yield* Accounts
  const { state, version } = yield* repo.load(accountId)
  if (state._tag === "Unopened") return yield* new Account.AccountNotOpen()
  return { accountId, state, version } satisfies CurrentBalance
})

/**
 * Every recorded event of an account, in version order. An account never
 * opened fails with `AccountNotOpen`.
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * const program = Bank.events("alice")
 * ```
 * @since 0.1.0
 * @category queries
 */
export const events = Effect.fn("Bank.events")(function* (accountId: string) {
  const repo = yield* Accounts
  const recorded = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.events(accountId)))
  if (recorded.length === 0) return yield* new Account.AccountNotOpen()
  return recorded
})

// ---------------------------------------------------------------------------
// The past
// ---------------------------------------------------------------------------

/**
 * A point in an account's past: an instant (each event's `recordedAt`), or
 * a stream version (after its n-th event; 0 is before the first).
 *
 * @example
 * ```ts
 * import { DateTime } from "effect"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const points: ReadonlyArray<Bank.PointInTime> = [{ at: DateTime.unsafeMake("2025-01-01T00:00:00Z") }, { version: 3 }]
 * const balances = points.map((point) => Bank.balanceAt("alice", point))
 * ```
 * @since 0.2.0
 * @category models
 */
export type PointInTime = { readonly at: DateTime.Utc } | { readonly version: number }

/**
 * The answer of {@link balanceAt}: the account as it was then, or the fact
 * that it did not exist yet (with the time it was opened).
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import { Money, Bank } from "@chronicle/example-bank"
 *
 * const describe = (past: Bank.PastBalance): string =>
 *   past._tag === "Existed"
 *     ? `${past.state.owner}: ${Money.format(past.state.balance)}`
 *     : `not open yet (opened ${DateTime.formatIso(past.openedAt)})`
 * const program = Bank.balanceAt("alice", { version: 3 }).pipe(Effect.map(describe))
 * ```
 * @since 0.2.0
 * @category models
 */
export type PastBalance =
  | {
      readonly _tag: "Existed"
      readonly accountId: string
      readonly point: PointInTime
      readonly state: Exclude<Account.AccountState, { readonly _tag: "Unopened" }>
      /** How many events the account had then. */
      readonly version: number
    }
  | {
      readonly _tag: "NotYetOpen"
      readonly accountId: string
      readonly point: PointInTime
      readonly openedAt: DateTime.Utc
    }

/**
 * The account as it was at a point in its past, through
 * `Repository.loadAt` (which uses a snapshot only if it is not newer than the
 * point). An account never opened fails with `AccountNotOpen`; a version past
 * the end of the stream, or negative or fractional, fails with the
 * repository's `TemporalQueryError`.
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const newYear = Bank.balanceAt("alice", { at: DateTime.unsafeMake("2025-01-01T00:00:00Z") })
 * const afterThird = Bank.balanceAt("alice", { version: 3 })
 * ```
 * @since 0.2.0
 * @category queries
 */
export const balanceAt = Effect.fn("Bank.balanceAt")(function* (accountId: string, point: PointInTime) {
  const repo = yield* Accounts
  const first = yield* Stream.runHead(repo.history(accountId))
  if (Option.isNone(first)) return yield* new Account.AccountNotOpen()
  const { state, version } = yield* repo.loadAt(accountId, point)
  if (state._tag === "Unopened") {
    return { _tag: "NotYetOpen", accountId, point, openedAt: first.value.recordedAt } satisfies PastBalance
  }
  return { _tag: "Existed", accountId, point, state, version } satisfies PastBalance
})

/**
 * One step of an account's history: the recorded event (with its stored
 * schema version, time, correlation and causation ids) and the state after
 * it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Account, Bank } from "@chronicle/example-bank"
 *
 * const line = (entry: Bank.HistoryEntry) => `v${entry.version} ${entry.event._tag}: ${Account.balanceOf(entry.stateAfter)}`
 * const trail = Bank.history("alice").pipe(Effect.map((entries) => entries.map(line)))
 * ```
 * @since 0.2.0
 * @category models
 */
export type HistoryEntry = TimeTravel.HistoryEntry<Account.AccountState, Account.AccountEvent>

/**
 * Every event of an account with the state right after it: the audit trail.
 * An account never opened fails with `AccountNotOpen`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Account, Bank } from "@chronicle/example-bank"
 *
 * const balances = Bank.history("alice").pipe(
 *   Effect.map((entries) => entries.map((entry) => Account.balanceOf(entry.stateAfter)))
 * )
 * ```
 * @since 0.2.0
 * @category queries
 */
export const history = Effect.fn("Bank.history")(function* (accountId: string) {
  const repo = yield* Accounts
  const entries: ReadonlyArray<HistoryEntry> = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.history(accountId)))
  if (entries.length === 0) return yield* new Account.AccountNotOpen()
  return entries
})

/**
 * Checks an account's stream: folds every event and compares the result with
 * the version the store reports and with every stored snapshot of the
 * account (through `Repository.verify`). A snapshot's content is trusted as
 * a cache when an account is loaded; this is how to find one that was
 * tampered with. An account with no events, no version and no snapshot fails
 * with `AccountNotOpen`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const healthy = Bank.verify("alice").pipe(Effect.map((report) => report.consistent))
 * ```
 * @since 0.4.0
 * @category queries
 */
export const verify = Effect.fn("Bank.verify")(function* (accountId: string) {
  const repo = yield* Accounts
  const report = yield* repo.verify(accountId)
  if (report.events === 0 && report.streamVersion === 0 && report.snapshots.length === 0) {
    return yield* new Account.AccountNotOpen()
  }
  return report
})

/**
 * Appends a deposit exactly as releases before 0.2.0 stored it: a
 * `MoneyDeposited` at schema version 1 with the payload `{ amount }`, through
 * the public `EventStore` service (no command, no rule is checked). The
 * current code reads it back as a version 2 deposit in EUR. Used by the demo
 * to show old and new events side by side; returns the event's stream
 * version.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const program = Effect.gen(function* () {
 *   yield* Bank.open("alice", { owner: "Alice", overdraftLimit: 0 })
 *   yield* Bank.appendLegacyDeposit("alice", 500)
 *   return yield* Bank.balance("alice") // balance 500, read through the upcaster
 * }).pipe(Effect.provide(Bank.Accounts.layer), Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.2.0
 * @category versioning
 */
export const appendLegacyDeposit = Effect.fn("Bank.appendLegacyDeposit")(function* (accountId: string, amount: number) {
  const repo = yield* Accounts
  const store = yield* EventStore.EventStore
  const { version } = yield* repo.load(accountId) // also checks the id
  const appended = yield* store.append(
    Aggregate.streamId(Account.Account, accountId),
    [{ eventId: crypto.randomUUID(), type: "MoneyDeposited", schemaVersion: 1, data: { amount } }],
    { expectedVersion: ExpectedVersion.exact(version) }
  )
  return appended.nextExpectedVersion
})

// ---------------------------------------------------------------------------
// Demo
// ---------------------------------------------------------------------------

/**
 * A step of the demo that is not a command: a deposit written the way
 * releases before 0.2.0 stored it (see {@link appendLegacyDeposit}).
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * const legacy: Bank.LegacyDeposit = { _tag: "LegacyDeposit", amount: 10_000 }
 * ```
 * @since 0.2.0
 * @category demo
 */
export interface LegacyDeposit {
  readonly _tag: "LegacyDeposit"
  readonly amount: number
}

/**
 * One step of the demo's script: a command, or a legacy event.
 *
 * @example
 * ```ts
 * import { Account, Bank } from "@chronicle/example-bank"
 *
 * const script: ReadonlyArray<Bank.DemoAction> = [
 *   new Account.OpenAccount({ owner: "Alice", overdraftLimit: 0 }),
 *   { _tag: "LegacyDeposit", amount: 10_000 },
 *   new Account.Withdraw({ amount: 3_000 })
 * ]
 * ```
 * @since 0.2.0
 * @category demo
 */
export type DemoAction = Account.AccountCommand | LegacyDeposit

/**
 * One step of the demo and how it ended: a command with the events it
 * recorded or the domain error that rejected it, or a legacy event with the
 * stream version it was stored at.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import type { Bank } from "@chronicle/example-bank"
 *
 * const describe = (step: Bank.DemoStep): string =>
 *   step._tag === "Legacy"
 *     ? `legacy deposit stored at version ${step.version}`
 *     : Either.match(step.outcome, {
 *         onLeft: (error) => `${step.command._tag} rejected: ${error.message}`,
 *         onRight: (events) => `${step.command._tag}: ${events.length} event(s)`
 *       })
 * ```
 * @since 0.1.0
 * @category demo
 */
export type DemoStep =
  | {
      readonly _tag: "Command"
      readonly command: Account.AccountCommand
      readonly outcome: Either.Either<ReadonlyArray<Account.AccountEvent>, Account.AccountError>
    }
  | { readonly _tag: "Legacy"; readonly action: LegacyDeposit; readonly version: number }

/**
 * What the demo did: the account it used, each step, and the account's
 * history afterwards (every event with the state after it).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const rejected = Bank.demo.pipe(
 *   Effect.map((report: Bank.DemoReport) =>
 *     report.steps.filter((step) => step._tag === "Command" && step.outcome._tag === "Left").length
 *   )
 * ) // 1: the withdrawal beyond the overdraft
 * ```
 * @since 0.1.0
 * @category demo
 */
export interface DemoReport {
  readonly accountId: string
  readonly steps: ReadonlyArray<DemoStep>
  readonly history: ReadonlyArray<HistoryEntry>
}

/**
 * The demo's script: open with a 50.00 overdraft, a deposit stored the way
 * an older release did (`MoneyDeposited` v1), withdraw, one withdrawal too
 * many (rejected), use the overdraft, pay it back with a current (v2)
 * deposit, close.
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * Bank.demoScript.map((action) => action._tag)
 * // ["OpenAccount", "LegacyDeposit", "Withdraw", "Withdraw", "Withdraw", "Deposit", "CloseAccount"]
 * ```
 * @since 0.1.0
 * @category demo
 */
export const demoScript: ReadonlyArray<DemoAction> = [
  new Account.OpenAccount({ owner: "Alice", overdraftLimit: 5_000 }),
  { _tag: "LegacyDeposit", amount: 10_000 },
  new Account.Withdraw({ amount: 3_000 }),
  new Account.Withdraw({ amount: 20_000 }),
  new Account.Withdraw({ amount: 10_000 }),
  new Account.Deposit({ amount: 3_000 }),
  new Account.CloseAccount()
]

/**
 * A fresh demo account id that no stream uses yet, such as
 * `demo-alice-m6x1c2-4k9f`: runs on a persistent store never collide.
 */
const freshDemoId = Effect.gen(function* () {
  const repo = yield* Accounts
  for (;;) {
    const now = yield* DateTime.now
    const random = yield* Random.nextIntBetween(0, 36 ** 4)
    const id = `demo-alice-${DateTime.toEpochMillis(now).toString(36)}-${random.toString(36).padStart(4, "0")}`
    const { version } = yield* repo.load(id)
    if (version === 0) return id
  }
})

/**
 * Runs the scripted demo on a fresh account and reports every step. A
 * rejected command is part of the report, not a failure.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const report = Bank.demo.pipe(Effect.provide(Bank.Accounts.layer), Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.1.0
 * @category demo
 */
export const demo: Effect.Effect<DemoReport, Repository.ExecuteError, Requirements> = Effect.gen(function* () {
  const repo = yield* Accounts
  const accountId = yield* freshDemoId
  const steps = yield* Effect.forEach(demoScript, (action) =>
    action._tag === "LegacyDeposit"
      ? Effect.map(
          appendLegacyDeposit(accountId, action.amount),
          (version): DemoStep => ({
            _tag: "Legacy",
            action,
            version
          })
        )
      : repo.execute(accountId, action).pipe(
          Effect.map((result) => result.events),
          Effect.either,
          Effect.flatMap(
            Either.match({
              onRight: (events) =>
                Effect.succeed<DemoStep>({ _tag: "Command", command: action, outcome: Either.right(events) }),
              onLeft: (error) =>
                isAccountError(error)
                  ? Effect.succeed<DemoStep>({ _tag: "Command", command: action, outcome: Either.left(error) })
                  : Effect.fail(error)
            })
          )
        )
  )
  const entries = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.history(accountId)))
  return { accountId, steps, history: entries }
}).pipe(Effect.withSpan("Bank.demo"))

/**
 * Whether an error is one of the account's domain errors (as opposed to a
 * storage or input error).
 *
 * @example
 * ```ts
 * import { Account, Bank } from "@chronicle/example-bank"
 *
 * Bank.isAccountError(new Account.AccountIsClosed()) // true
 * ```
 * @since 0.1.0
 * @category guards
 */
export const isAccountError: (error: unknown) => error is Account.AccountError = Schema.is(Account.AccountError)

// ---------------------------------------------------------------------------
// Seed
// ---------------------------------------------------------------------------

const firstNames = [
  "Ada",
  "Alan",
  "Barbara",
  "Charles",
  "Dennis",
  "Donald",
  "Edsger",
  "Frances",
  "Grace",
  "Hedy",
  "John",
  "Karen",
  "Ken",
  "Leslie",
  "Linus",
  "Margaret",
  "Niklaus",
  "Radia",
  "Robin",
  "Tim"
] as const
const lastNames = [
  "Allen",
  "Backus",
  "Cerf",
  "Dijkstra",
  "Engelbart",
  "Floyd",
  "Goldberg",
  "Hamilton",
  "Hopper",
  "Knuth",
  "Lamport",
  "Liskov",
  "Lovelace",
  "McCarthy",
  "Milner",
  "Perlman",
  "Ritchie",
  "Sammet",
  "Thompson",
  "Wirth"
] as const

/**
 * What {@link seed} did.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const summary = ({ accounts, events, refused, transfers }: Bank.SeedReport) =>
 *   `${accounts} accounts, ${events} events (${refused} refused), ${transfers} transfers requested`
 * const program = Bank.seed(20).pipe(Effect.map(summary))
 * ```
 * @since 0.5.0
 * @category seed
 */
export interface SeedReport {
  readonly accounts: number
  /** Events recorded: the accounts' and the transfer requests'. */
  readonly events: number
  /** Commands the bank refused (withdrawals beyond the overdraft): part of a realistic mix, nothing was written. */
  readonly refused: number
  readonly closed: number
  /**
   * Transfers requested between the seeded accounts (one `TransferRequested`
   * each). The seed does not move their money: the Transfer saga does,
   * wherever it runs (`pnpm bank serve`, the CLI's transfer commands).
   *
   * @since 0.7.0
   */
  readonly transfers: number
}

/**
 * Options of {@link seed}.
 *
 * @example
 * ```ts
 * import { Console } from "effect"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const options: Bank.SeedOptions = {
 *   concurrency: 8,
 *   onProgress: (done, total, phase) => Console.log(`${phase}: ${done}/${total}`)
 * }
 * const program = Bank.seed(1_000, options)
 * ```
 * @since 0.5.0
 * @category seed
 */
export interface SeedOptions {
  /**
   * Called after each account is done (phase `accounts`), then after each
   * transfer is requested (phase `transfers`), with what is done so far of
   * that phase and its total.
   */
  readonly onProgress?: ((done: number, total: number, phase: SeedPhase) => Effect.Effect<void>) | undefined
  /** Accounts seeded, and then transfers requested, at once (default 4). */
  readonly concurrency?: number | undefined
}

/**
 * The two phases of {@link seed}, as its progress reports them: the
 * accounts with their events, then the transfer requests between them.
 *
 * @example
 * ```ts
 * import type { Bank } from "@chronicle/example-bank"
 *
 * const phase: Bank.SeedPhase = "transfers"
 * ```
 * @since 0.7.0
 * @category seed
 */
export type SeedPhase = "accounts" | "transfers"

/** A seeded account as the account phase left it. */
interface SeededAccount {
  readonly accountId: string
  readonly state: Account.AccountState
}

/** What the seed can move from an account: its balance and its overdraft. */
const available = (state: Account.AccountState): number =>
  state._tag === "Open" ? Math.max(0, state.balance + state.overdraftLimit) : 0

/**
 * Fills the bank with `count` accounts and a realistic mix of events: owners
 * with overdraft limits or none, salaries and small deposits, withdrawals
 * (some refused for insufficient funds, as in life), and a few accounts
 * emptied and closed. Account ids are `<first>-<last>-<random>`, so seeding
 * twice adds accounts rather than colliding. Every command goes through the
 * `Account` aggregate, like any other.
 *
 * Once the accounts exist, it requests about one transfer per two accounts
 * (at least one from two accounts on), between accounts it opened, as
 * `TransferSaga.request` does (`RequestTransfer` on the `Transfer`
 * aggregate, ids `seed-<random>`): most small and covered by the source, a
 * few above the default approval threshold (they will wait for an
 * approval), a few the source cannot cover (they will fail), and now and
 * then one to an account it closed (refunded, failed). It only records the
 * requests: the Transfer saga moves the money when it runs (`pnpm bank
 * serve`, a CLI transfer command). Each source sends one transfer and
 * receives none, so each one's outcome is as its kind says, in whatever
 * order the saga runs them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const report = Bank.seed(20).pipe(Effect.provide(Bank.Accounts.layer), Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.5.0
 * @category seed
 */
export const seed = Effect.fn("Bank.seed")(function* (count: number, options?: SeedOptions) {
  if (!Number.isSafeInteger(count) || count < 0) return yield* Effect.dieMessage(`seed: ${count} is not a count`)
  const repo = yield* Accounts
  const concurrency = options?.concurrency ?? 4
  const pick = <A>(items: ReadonlyArray<A>) =>
    Effect.map(Random.nextIntBetween(0, items.length), (i) => items[i] ?? items[0])
  const between = (low: number, high: number) => Random.nextIntBetween(low, high + 1)
  const seeded: Array<SeededAccount> = []
  let done = 0
  let events = 0
  let refused = 0
  let closed = 0
  const one = Effect.gen(function* () {
    const first = (yield* pick(firstNames)) ?? "Ada"
    const last = (yield* pick(lastNames)) ?? "Lovelace"
    const suffix = (yield* Random.nextIntBetween(0, 36 ** 5)).toString(36).padStart(5, "0")
    const accountId = `${first}-${last}-${suffix}`.toLowerCase()
    const overdraftLimit = (yield* pick([0, 0, 0, 5_000, 10_000, 50_000])) ?? 0
    let state: Account.AccountState = Account.initialState
    const execute = (command: Account.AccountCommand) =>
      repo.execute(accountId, command).pipe(
        Effect.map((result) => {
          events += result.events.length
          state = result.state
          return true
        }),
        Effect.catchIf(isAccountError, () =>
          Effect.sync(() => {
            refused++
            return false
          })
        )
      )
    // an id taken already (by an earlier seed, say) is not this seed's account
    const opened = yield* execute(new Account.OpenAccount({ owner: `${first} ${last}`, overdraftLimit }))
    const operations = yield* between(2, 14)
    for (let n = 0; n < operations; n++) {
      const kind = yield* between(1, 10)
      if (kind <= 2) yield* execute(new Account.Deposit({ amount: 100 * (yield* between(1_500, 4_200)) }))
      else if (kind <= 5) yield* execute(new Account.Deposit({ amount: yield* between(500, 25_000) }))
      else yield* execute(new Account.Withdraw({ amount: yield* between(300, 90_000) }))
    }
    if ((yield* between(1, 20)) === 1) {
      const balance = Account.balanceOf(state)
      if (balance > 0) yield* execute(new Account.Withdraw({ amount: balance }))
      if (balance < 0) yield* execute(new Account.Deposit({ amount: -balance }))
      if (yield* execute(new Account.CloseAccount())) closed++
    }
    if (opened) seeded.push({ accountId, state })
    done++
    if (options?.onProgress !== undefined) yield* options.onProgress(done, count, "accounts")
  })
  yield* Effect.forEach(Array.from({ length: count }), () => one, { concurrency, discard: true })

  // Transfers, between the accounts just seeded: each source sends one and receives none, so
  // that what the saga will do with each is known now (the other transfers change no source).
  // Sources are open accounts, leaving one open target at least unless every other one is
  // closed; only when all are closed is the source a closed account (that transfer will fail).
  const open = Chunk.toReadonlyArray(yield* Random.shuffle(seeded.filter((a) => a.state._tag === "Open")))
  const closedOnes = seeded.filter((a) => a.state._tag === "Closed")
  const wanted = seeded.length < 2 ? 0 : Math.max(1, Math.floor(seeded.length / 2))
  const sources =
    open.length >= 2
      ? open.slice(0, Math.min(wanted, open.length - 1))
      : open.length === 1
        ? open.slice(0, Math.min(wanted, closedOnes.length))
        : closedOnes.slice(0, Math.min(wanted, 1))
  const targets = open.slice(sources.length)
  let requested = 0
  const requestOne = (source: SeededAccount) =>
    Effect.gen(function* () {
      const kind = yield* between(1, 20)
      const closedTargets = closedOnes.filter((a) => a !== source)
      const toClosed = closedTargets.length > 0 && (kind === 1 || targets.length === 0)
      const target = (yield* pick(toClosed ? closedTargets : targets)) ?? source
      const covered = available(source.state)
      const threshold = TransferRequest.defaultApprovalAbove
      // small: covered by the source, unless it has less than 5.00 to spare
      const small = between(500, Math.max(500, Math.min(covered, 50_000)))
      // kind 1: to a closed account (when there is one); up to 3: more than the source can cover;
      // up to 5: above the approval threshold (when the source covers that much); else small
      const amount = toClosed
        ? yield* small
        : kind <= 3
          ? covered + (yield* between(100, 50_000))
          : kind <= 5 && covered > threshold
            ? yield* between(threshold + 1, Math.min(covered, 3 * threshold))
            : yield* small
      for (;;) {
        const transferId = `seed-${(yield* Random.nextIntBetween(0, 36 ** 8)).toString(36).padStart(8, "0")}`
        const result = yield* TransferRequest.request({
          transferId,
          from: source.accountId,
          to: target.accountId,
          amount
        }).pipe(
          Effect.catchTags({
            TransferExists: () => Effect.succeed(undefined),
            // a request of two seeded accounts, distinct by construction, is refused for nothing else
            SameAccount: Effect.die,
            TransferNotFound: Effect.die,
            TransferSettled: Effect.die
          })
        )
        // an id some other transfer took (of this seed or an earlier one): draw another
        if (result === undefined || result.duplicate || result.events.length === 0) continue
        events += result.events.length
        requested++
        if (options?.onProgress !== undefined) yield* options.onProgress(requested, sources.length, "transfers")
        return
      }
    })
  yield* Effect.forEach(sources, requestOne, { concurrency, discard: true })
  const report: SeedReport = { accounts: count, events, refused, closed, transfers: sources.length }
  return report
})
