/**
 * The bank's Transfer aggregate: a request to move money from one account
 * to another, and how it ended. The money itself moves on the accounts,
 * driven by the Transfer saga (`TransferSaga`); this aggregate records the
 * request, the approval of a large transfer, and the outcome.
 *
 * Rules:
 * - a transfer is requested once, between two different accounts, for a
 *   positive whole number of cents; its id names its stream
 *   (`Transfer-<transferId>`);
 * - an approval is recorded only for a transfer that is still pending;
 *   approving it twice records it once;
 * - a transfer ends once: `TransferCompleted`, or `TransferFailed` with the
 *   reason; recording the same end again does nothing.
 *
 * @since 0.5.0
 */
import { Aggregate } from "@chronicle/core"
import { Effect, Schema } from "effect"
import * as Account from "./Account.js"
import * as Money from "./Money.js"

/**
 * A transfer id: 1 to 100 letters, digits, `.`, `_` or `-`, starting with a
 * letter or digit.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Transfer } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Transfer.TransferId)("t-2025-0042") // "t-2025-0042"
 * ```
 * @since 0.5.0
 * @category schemas
 */
export const TransferId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, {
    message: () => "a transfer id is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
  })
).annotations({ identifier: "TransferId" })

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/**
 * Asks to move `amount` cents from `from` to `to`.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const request = new Transfer.RequestTransfer({ transferId: "t-1", from: "alice", to: "bob", amount: 2500 })
 * ```
 * @since 0.5.0
 * @category commands
 */
export class RequestTransfer extends Schema.TaggedClass<RequestTransfer>()("RequestTransfer", {
  transferId: TransferId,
  from: Account.AccountId,
  to: Account.AccountId,
  amount: Money.Cents
}) {}

/**
 * Approves a pending transfer (one above the approval threshold waits for it).
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const approve = new Transfer.ApproveTransfer({ transferId: "t-1" })
 * ```
 * @since 0.5.0
 * @category commands
 */
export class ApproveTransfer extends Schema.TaggedClass<ApproveTransfer>()("ApproveTransfer", {
  transferId: TransferId
}) {}

/**
 * Records that the money arrived (sent by the saga).
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const complete = new Transfer.CompleteTransfer({ transferId: "t-1" })
 * ```
 * @since 0.5.0
 * @category commands
 */
export class CompleteTransfer extends Schema.TaggedClass<CompleteTransfer>()("CompleteTransfer", {
  transferId: TransferId
}) {}

/**
 * Records that the transfer failed, and why (sent by the saga once the
 * withdrawal, if any, was refunded).
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const fail = new Transfer.FailTransfer({ transferId: "t-1", reason: "the account is closed" })
 * ```
 * @since 0.5.0
 * @category commands
 */
export class FailTransfer extends Schema.TaggedClass<FailTransfer>()("FailTransfer", {
  transferId: TransferId,
  reason: Schema.String
}) {}

/**
 * Every transfer command.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Transfer } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Transfer.TransferCommand)({ _tag: "ApproveTransfer", transferId: "t-1" })
 * // ApproveTransfer { transferId: "t-1" }
 * ```
 * @since 0.5.0
 * @category commands
 */
export const TransferCommand = Schema.Union(RequestTransfer, ApproveTransfer, CompleteTransfer, FailTransfer)

/**
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const commands: ReadonlyArray<Transfer.TransferCommand> = [
 *   new Transfer.RequestTransfer({ transferId: "t-1", from: "alice", to: "bob", amount: 2500 }),
 *   new Transfer.CompleteTransfer({ transferId: "t-1" })
 * ]
 * ```
 * @since 0.5.0
 * @category commands
 */
export type TransferCommand = typeof TransferCommand.Type

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/**
 * A transfer was requested: the trigger of the Transfer saga.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const requested = new Transfer.TransferRequested({ transferId: "t-1", from: "alice", to: "bob", amount: 2500 })
 * ```
 * @since 0.5.0
 * @category events
 */
export class TransferRequested extends Schema.TaggedClass<TransferRequested>()("TransferRequested", {
  transferId: Schema.String,
  from: Schema.String,
  to: Schema.String,
  amount: Money.Cents
}) {}

/**
 * A pending transfer was approved: the saga waiting for it goes on.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const approved = new Transfer.TransferApproved({ transferId: "t-1" })
 * ```
 * @since 0.5.0
 * @category events
 */
export class TransferApproved extends Schema.TaggedClass<TransferApproved>()("TransferApproved", {
  transferId: Schema.String
}) {}

/**
 * The money arrived on the target account.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const completed = new Transfer.TransferCompleted({ transferId: "t-1" })
 * ```
 * @since 0.5.0
 * @category events
 */
export class TransferCompleted extends Schema.TaggedClass<TransferCompleted>()("TransferCompleted", {
  transferId: Schema.String
}) {}

/**
 * The transfer failed; nothing stays debited.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const failed = new Transfer.TransferFailed({ transferId: "t-1", reason: "the account is closed" })
 * ```
 * @since 0.5.0
 * @category events
 */
export class TransferFailed extends Schema.TaggedClass<TransferFailed>()("TransferFailed", {
  transferId: Schema.String,
  reason: Schema.String
}) {}

/**
 * Every transfer event.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Transfer } from "@chronicle/example-bank"
 *
 * Schema.encodeSync(Transfer.TransferEvent)(new Transfer.TransferCompleted({ transferId: "t-1" }))
 * // { _tag: "TransferCompleted", transferId: "t-1" }
 * ```
 * @since 0.5.0
 * @category events
 */
export const TransferEvent = Schema.Union(TransferRequested, TransferApproved, TransferCompleted, TransferFailed)

/**
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const events: ReadonlyArray<Transfer.TransferEvent> = [
 *   new Transfer.TransferRequested({ transferId: "t-1", from: "alice", to: "bob", amount: 2500 }),
 *   new Transfer.TransferCompleted({ transferId: "t-1" })
 * ]
 * events.reduce(Transfer.evolve, Transfer.initialState).status // "completed"
 * ```
 * @since 0.5.0
 * @category events
 */
export type TransferEvent = typeof TransferEvent.Type

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * A transfer from an account to itself.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * new Transfer.SameAccount({ accountId: "alice" }).message
 * // "a transfer needs two different accounts (got alice twice)"
 * ```
 * @since 0.5.0
 * @category errors
 */
export class SameAccount extends Schema.TaggedError<SameAccount>()("SameAccount", { accountId: Schema.String }) {
  override get message(): string {
    return `a transfer needs two different accounts (got ${this.accountId} twice)`
  }
}

/**
 * `RequestTransfer` with the id of another transfer.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * new Transfer.TransferExists({ transferId: "t-1" }).message
 * // "transfer t-1 exists already, with other details; choose another id"
 * ```
 * @since 0.5.0
 * @category errors
 */
export class TransferExists extends Schema.TaggedError<TransferExists>()("TransferExists", {
  transferId: Schema.String
}) {
  override get message(): string {
    return `transfer ${this.transferId} exists already, with other details; choose another id`
  }
}

/**
 * A command on a transfer that was never requested.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * new Transfer.TransferNotFound({ transferId: "t-1" }).message // "no transfer t-1 was requested"
 * ```
 * @since 0.5.0
 * @category errors
 */
export class TransferNotFound extends Schema.TaggedError<TransferNotFound>()("TransferNotFound", {
  transferId: Schema.String
}) {
  override get message(): string {
    return `no transfer ${this.transferId} was requested`
  }
}

/**
 * `ApproveTransfer` on a transfer that already ended.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * new Transfer.TransferSettled({ transferId: "t-1", outcome: "completed" }).message
 * // "transfer t-1 has completed already"
 * ```
 * @since 0.5.0
 * @category errors
 */
export class TransferSettled extends Schema.TaggedError<TransferSettled>()("TransferSettled", {
  transferId: Schema.String,
  outcome: Schema.Literal("completed", "failed")
}) {
  override get message(): string {
    return `transfer ${this.transferId} has ${this.outcome} already`
  }
}

/**
 * Every domain error of a transfer command.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Transfer } from "@chronicle/example-bank"
 *
 * Schema.is(Transfer.TransferError)(new Transfer.TransferNotFound({ transferId: "t-1" })) // true
 * ```
 * @since 0.5.0
 * @category errors
 */
export const TransferError = Schema.Union(SameAccount, TransferExists, TransferNotFound, TransferSettled)

/**
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const explain = (error: Transfer.TransferError): string => `${error._tag}: ${error.message}`
 * Effect.runSync(
 *   Transfer.decide(new Transfer.ApproveTransfer({ transferId: "t-1" }), Transfer.initialState).pipe(
 *     Effect.catchAll((error) => Effect.succeed(explain(error)))
 *   )
 * )
 * // "TransferNotFound: no transfer t-1 was requested"
 * ```
 * @since 0.5.0
 * @category errors
 */
export type TransferError = typeof TransferError.Type

// ---------------------------------------------------------------------------
// State, evolve, decide
// ---------------------------------------------------------------------------

/**
 * What a transfer is: never requested, or its details and where it stands.
 *
 * @example
 * ```ts
 * import { Money, Transfer } from "@chronicle/example-bank"
 *
 * const describe = (state: Transfer.TransferState): string =>
 *   state.status === "none"
 *     ? "never requested"
 *     : `${state.from} -> ${state.to}, ${Money.format(state.amount)}: ${state.status}${state.reason === undefined ? "" : ` (${state.reason})`}`
 * ```
 * @since 0.5.0
 * @category state
 */
export type TransferState =
  | { readonly status: "none" }
  | {
      readonly status: "pending" | "approved" | "completed" | "failed"
      readonly from: string
      readonly to: string
      readonly amount: number
      readonly reason?: string | undefined
    }

/**
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * Transfer.initialState.status // "none"
 * ```
 * @since 0.5.0
 * @category state
 */
export const initialState: TransferState = { status: "none" }

/**
 * Folds one event into the state. Pure and total.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 *
 * Transfer.evolve(Transfer.initialState, new Transfer.TransferRequested({ transferId: "t", from: "a", to: "b", amount: 5 }))
 * ```
 * @since 0.5.0
 * @category state
 */
export const evolve = (state: TransferState, event: TransferEvent): TransferState => {
  switch (event._tag) {
    case "TransferRequested":
      return { status: "pending", from: event.from, to: event.to, amount: event.amount }
    case "TransferApproved":
      return state.status === "pending" ? { ...state, status: "approved" } : state
    case "TransferCompleted":
      return state.status === "none" ? state : { ...state, status: "completed" }
    case "TransferFailed":
      return state.status === "none" ? state : { ...state, status: "failed", reason: event.reason }
  }
}

/**
 * Decides what a transfer command does. Pure.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Transfer } from "@chronicle/example-bank"
 *
 * Effect.runSync(Transfer.decide(new Transfer.RequestTransfer({ transferId: "t", from: "a", to: "b", amount: 5 }), Transfer.initialState))
 * ```
 * @since 0.5.0
 * @category decide
 */
export const decide = (
  command: TransferCommand,
  state: TransferState
): Effect.Effect<ReadonlyArray<TransferEvent>, TransferError> => {
  const { transferId } = command
  switch (command._tag) {
    case "RequestTransfer": {
      if (command.from === command.to) return Effect.fail(new SameAccount({ accountId: command.from }))
      if (state.status === "none") {
        return Effect.succeed([
          new TransferRequested({ transferId, from: command.from, to: command.to, amount: command.amount })
        ])
      }
      // the same request again (say, a retried CLI command) is not a new transfer
      const same = state.from === command.from && state.to === command.to && state.amount === command.amount
      return same ? Effect.succeed([]) : Effect.fail(new TransferExists({ transferId }))
    }
    case "ApproveTransfer":
      if (state.status === "none") return Effect.fail(new TransferNotFound({ transferId }))
      if (state.status === "completed" || state.status === "failed") {
        return Effect.fail(new TransferSettled({ transferId, outcome: state.status }))
      }
      return Effect.succeed(state.status === "pending" ? [new TransferApproved({ transferId })] : [])
    case "CompleteTransfer":
      if (state.status === "none") return Effect.fail(new TransferNotFound({ transferId }))
      return Effect.succeed(state.status === "completed" ? [] : [new TransferCompleted({ transferId })])
    case "FailTransfer":
      if (state.status === "none") return Effect.fail(new TransferNotFound({ transferId }))
      return Effect.succeed(
        state.status === "failed" ? [] : [new TransferFailed({ transferId, reason: command.reason })]
      )
  }
}

/**
 * The Transfer aggregate: stream category `Transfer`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Repository, EventStore } from "@chronicle/core"
 * import { Transfer } from "@chronicle/example-bank"
 *
 * const requested = Effect.gen(function* () {
 *   const transfers = yield* Repository.make(Transfer.Transfer)
 *   return yield* transfers.execute("t-1", new Transfer.RequestTransfer({ transferId: "t-1", from: "a", to: "b", amount: 500 }))
 * }).pipe(Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.5.0
 * @category aggregate
 */
export const Transfer = Aggregate.make({
  name: "Transfer",
  events: TransferEvent,
  commands: TransferCommand,
  initialState,
  evolve,
  decide
})
