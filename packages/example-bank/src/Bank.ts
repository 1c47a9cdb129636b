/**
 * The bank's use cases, one function per CLI command: open, deposit,
 * withdraw, close, balance, events and the scripted demo. Each runs through a
 * Chronicle `Repository` over whatever `EventStore` is provided, and returns
 * plain data for the renderer (`Render`).
 *
 * @since 0.1.0
 */
import { type Event, type EventStore, Repository } from "@chronicle/core"
import { Chunk, DateTime, Effect, Either, Random, Schema, Stream } from "effect"
import * as Account from "./Account.js"

/**
 * What a command did: the account, the events it recorded, and the state
 * and stream version after it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Executed {
  readonly accountId: string
  readonly events: ReadonlyArray<Account.AccountEvent>
  readonly state: Account.AccountState
  readonly version: number
}

/**
 * An account's current state and stream version.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly accountId: string
  readonly state: Exclude<Account.AccountState, { readonly _tag: "Unopened" }>
  readonly version: number
}

/**
 * What the bank's use cases need: an event store.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = EventStore.EventStore

const accounts = Repository.make(Account.Account)

const run = (accountId: string, command: Account.AccountCommand) =>
  Effect.gen(function* () {
    const repo = yield* accounts
    const result = yield* repo.execute(accountId, command)
    return { accountId, events: result.events, state: result.state, version: result.version } satisfies Executed
  })

/**
 * Opens an account.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { InMemoryEventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * Bank.open("alice", { owner: "Alice", overdraftLimit: 0 }).pipe(Effect.provide(InMemoryEventStore.layer))
 * ```
 * @since 0.1.0
 * @category commands
 */
export const open = Effect.fn("Bank.open")(function* (
  accountId: string,
  options: { readonly owner: string; readonly overdraftLimit: number }
) {
  return yield* run(accountId, new Account.OpenAccount(options))
})

/**
 * Deposits `amount` cents.
 *
 * @example
 * ```ts
 * import { Bank } from "@chronicle/example-bank"
 *
 * const program = Bank.deposit("alice", 500)
 * ```
 * @since 0.1.0
 * @category commands
 */
export const deposit = Effect.fn("Bank.deposit")(function* (accountId: string, amount: number) {
  return yield* run(accountId, new Account.Deposit({ amount }))
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
export const withdraw = Effect.fn("Bank.withdraw")(function* (accountId: string, amount: number) {
  return yield* run(accountId, new Account.Withdraw({ amount }))
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
export const close = Effect.fn("Bank.close")(function* (accountId: string) {
  return yield* run(accountId, new Account.CloseAccount())
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
  const repo = yield* accounts
  const { state, version } = yield* repo.load(accountId)
  if (state._tag === "Unopened") return yield* new Account.AccountNotOpen()
  return { accountId, state, version } satisfies Snapshot
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
  const repo = yield* accounts
  const recorded = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.events(accountId)))
  if (recorded.length === 0) return yield* new Account.AccountNotOpen()
  return recorded
})

// ---------------------------------------------------------------------------
// Demo
// ---------------------------------------------------------------------------

/**
 * One scripted command of the demo and how it ended: the events it recorded,
 * or the domain error that rejected it.
 *
 * @since 0.1.0
 * @category demo
 */
export interface DemoStep {
  readonly command: Account.AccountCommand
  readonly outcome: Either.Either<ReadonlyArray<Account.AccountEvent>, Account.AccountError>
}

/**
 * What the demo did: the account it used, each step, and the account's
 * recorded events afterwards.
 *
 * @since 0.1.0
 * @category demo
 */
export interface DemoReport {
  readonly accountId: string
  readonly steps: ReadonlyArray<DemoStep>
  readonly recorded: ReadonlyArray<Event.RecordedEvent<Account.AccountEvent>>
}

/**
 * The demo's script: open with a 50.00 overdraft, deposit, withdraw, one
 * withdrawal too many (rejected), use the overdraft, pay it back, close.
 *
 * @since 0.1.0
 * @category demo
 */
export const demoScript: ReadonlyArray<Account.AccountCommand> = [
  new Account.OpenAccount({ owner: "Alice", overdraftLimit: 5_000 }),
  new Account.Deposit({ amount: 10_000 }),
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
  const repo = yield* accounts
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
 * import { InMemoryEventStore } from "@chronicle/core"
 * import { Bank } from "@chronicle/example-bank"
 *
 * const report = Bank.demo.pipe(Effect.provide(InMemoryEventStore.layer))
 * ```
 * @since 0.1.0
 * @category demo
 */
export const demo: Effect.Effect<DemoReport, Repository.ExecuteError, EventStore.EventStore> = Effect.gen(function* () {
  const repo = yield* accounts
  const accountId = yield* freshDemoId
  const steps = yield* Effect.forEach(demoScript, (command) =>
    repo.execute(accountId, command).pipe(
      Effect.map((result) => result.events),
      Effect.either,
      Effect.flatMap(
        Either.match({
          onRight: (events) => Effect.succeed<DemoStep>({ command, outcome: Either.right(events) }),
          onLeft: (error) =>
            isAccountError(error)
              ? Effect.succeed<DemoStep>({ command, outcome: Either.left(error) })
              : Effect.fail(error)
        })
      )
    )
  )
  const recorded = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.events(accountId)))
  return { accountId, steps, recorded }
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
