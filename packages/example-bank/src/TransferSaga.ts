/**
 * The Transfer saga: moves the money of a requested transfer, durably.
 *
 * 1. `assess`: whether the transfer needs an approval (above
 *    `approvalAbove` cents). A decision that depends on configuration is a
 *    step, so that a replay after a crash takes the same path.
 * 2. `withdraw` from the source (a transfer's debit). Compensated by a
 *    refund, a deposit with the reason `refund`.
 * 3. Above the threshold: wait for `TransferApproved` until the deadline;
 *    past it, the saga fails and the withdrawal is refunded.
 * 4. `deposit` to the target (a transfer's credit). A target that is closed
 *    or unknown fails for good: the withdrawal is refunded.
 * 5. `complete`: `TransferCompleted` on the transfer.
 *
 * When the saga fails (funds too low, a closed or unknown account, no
 * approval in time), `onFailure` records `TransferFailed` with the reason,
 * once every compensation took effect. Each step's command id is derived
 * from the transfer id, so a step run again after a crash is applied once.
 *
 * The use cases (`request`, `approve`, `outcome`) and the layer that
 * runs the saga on the bank's SQL store with the durable engine are here too.
 *
 * @since 0.5.0
 */
import { Repository, Saga, SagaAdmin } from "@chronicle/core"
import * as DurableSaga from "@chronicle/core/DurableSaga"
import * as SqlWorkflowEngine from "@chronicle/sql-store/SqlWorkflowEngine"
import { Config, Duration, Effect, Layer, Option, Schema } from "effect"
import * as Account from "./Account.js"
import type * as BankStore from "./BankStore.js"
import * as Transfer from "./Transfer.js"
import * as TransferRequest from "./TransferRequest.js"

/**
 * How transfers are run.
 *
 * @example
 * ```ts
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * const strict: TransferSaga.Options = { approvalAbove: 10_000, approvalDeadline: "30 minutes" }
 * const saga = TransferSaga.make(strict)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Options {
  /** Transfers above this many cents wait for an approval. */
  readonly approvalAbove: number
  /** How long a transfer waits for its approval before it fails (and is refunded). */
  readonly approvalDeadline: Duration.DurationInput
}

/**
 * The defaults: approval above 1,000.00, within 24 hours.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * TransferSaga.defaults.approvalAbove // 100000: above 1,000.00
 * const patient = TransferSaga.make({ ...TransferSaga.defaults, approvalDeadline: Duration.days(3) })
 * ```
 * @since 0.5.0
 * @category constants
 */
export const defaults: Options = {
  approvalAbove: TransferRequest.defaultApprovalAbove,
  approvalDeadline: Duration.hours(24)
}

/**
 * The options from the environment: `BANK_APPROVAL_ABOVE` (cents) and
 * `BANK_APPROVAL_DEADLINE` (a duration such as `30 minutes`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * const options = Effect.runSync(TransferSaga.config)
 * ```
 * @since 0.5.0
 * @category constants
 */
export const config: Config.Config<Options> = Config.all({
  approvalAbove: Config.integer("BANK_APPROVAL_ABOVE").pipe(
    Config.validate({ message: "BANK_APPROVAL_ABOVE must be 0 or more cents", validation: (n) => n >= 0 }),
    Config.withDefault(defaults.approvalAbove)
  ),
  approvalDeadline: Config.duration("BANK_APPROVAL_DEADLINE").pipe(Config.withDefault(defaults.approvalDeadline))
})

/**
 * The approval a large transfer waits for.
 *
 * @example
 * ```ts
 * import { Saga } from "@chronicle/core"
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * TransferSaga.Approved.types // ["TransferApproved"]
 * const waitForApproval = Saga.awaitEvent(TransferSaga.Approved, { timeout: "24 hours" })
 * ```
 * @since 0.5.0
 * @category saga
 */
export const Approved = Saga.signal("approved", {
  event: Transfer.TransferApproved,
  categories: ["Transfer"],
  id: (event) => event.transferId
})

/**
 * The Transfer saga, for the given options.
 *
 * @example
 * ```ts
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * const saga = TransferSaga.make({ approvalAbove: 50_000, approvalDeadline: "2 hours" })
 * ```
 * @since 0.5.0
 * @category saga
 */
export const make = (options: Options) =>
  Saga.make({
    name: "Transfer",
    trigger: Transfer.TransferRequested,
    categories: ["Transfer"],
    id: (event) => event.transferId,
    signals: [Approved],
    run: (event) =>
      Effect.gen(function* () {
        const accounts = yield* Repository.make(Account.Account)
        const transfers = yield* Repository.make(Transfer.Transfer)
        const needsApproval = yield* Saga.step("assess", {
          run: () => Effect.succeed(event.amount > options.approvalAbove),
          success: Schema.Boolean
        })
        yield* Saga.step("withdraw", {
          run: (step) =>
            accounts.execute(event.from, new Account.Withdraw({ amount: event.amount, reason: "transfer" }), step),
          error: Account.AccountError,
          compensate: (_, step) =>
            accounts.execute(event.from, new Account.Deposit({ amount: event.amount, reason: "refund" }), step)
        })
        if (needsApproval) yield* Saga.awaitEvent(Approved, { timeout: options.approvalDeadline })
        yield* Saga.step("deposit", {
          run: (step) =>
            accounts.execute(event.to, new Account.Deposit({ amount: event.amount, reason: "transfer" }), step),
          error: Account.AccountError
        })
        yield* Saga.step("complete", {
          run: (step) =>
            transfers.execute(event.transferId, new Transfer.CompleteTransfer({ transferId: event.transferId }), step)
        })
      }),
    onFailure: (event, failure) =>
      Effect.flatMap(Repository.make(Transfer.Transfer), (transfers) =>
        transfers.execute(
          event.transferId,
          new Transfer.FailTransfer({
            transferId: event.transferId,
            reason: failure.errorTag === "EventTimeout" ? "not approved before the deadline" : failure.reason
          }),
          failure
        )
      )
  })

/**
 * The name of the saga and of its journal.
 *
 * @example
 * ```ts
 * import { SagaAdmin } from "@chronicle/core"
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * const status = SagaAdmin.status(TransferSaga.name, "t-1")
 * ```
 * @since 0.5.0
 * @category saga
 */
export const name = "Transfer"

/**
 * Runs the Transfer saga durably on the bank's store: its trigger consumer
 * and `SqlWorkflowEngine` on the same `SqlClient` (SQLite or PostgreSQL).
 * Each process is its own runner (named after its host and pid), so that
 * two bank processes never run one transfer at once; a runner killed
 * without a goodbye hands its transfers over once its lock expires
 * (`lockExpiration`, 5 s by default here).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { BankStore, TransferSaga } from "@chronicle/example-bank"
 *
 * const App = TransferSaga.layer(TransferSaga.defaults).pipe(Layer.provideMerge(BankStore.layer({ _tag: "Memory" })))
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer = (
  options: Options,
  engine?: {
    /** `single` (default), or `socket` to share transfers with other processes (see `SqlWorkflowEngine`). */
    readonly mode?: "single" | "socket" | undefined
    readonly address?: { readonly host: string; readonly port: number } | undefined
    readonly lockExpiration?: Duration.DurationInput | undefined
  }
): Layer.Layer<never, never, BankStore.Stores> =>
  DurableSaga.layer(make(options), { pollInterval: "200 millis", leaseTtl: "5 seconds" }).pipe(
    Layer.provide(
      SqlWorkflowEngine.layer({
        mode: engine?.mode,
        address: engine?.address ?? { host: `bank-${hostname()}`, port: process.pid },
        shardingConfig: {
          shardLockExpiration: Duration.decode(engine?.lockExpiration ?? "5 seconds"),
          refreshAssignmentsInterval: Duration.millis(500)
        }
      })
    )
  )

const hostname = (): string => process.env.HOSTNAME ?? "localhost"

// ---------------------------------------------------------------------------
// Use cases
// ---------------------------------------------------------------------------

/**
 * Requests a transfer (the saga then moves the money). Requesting the same
 * transfer again (same id, accounts and amount) is a no-op; another
 * transfer with the same id is refused (`TransferExists`). Recording the
 * request does not need the saga: `Bank.seed` requests its transfers the
 * same way, without loading this module.
 *
 * @example
 * ```ts
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * const requested = TransferSaga.request({ transferId: "t-1", from: "alice", to: "bob", amount: 2500 })
 * ```
 * @since 0.5.0
 * @category use cases
 */
export const request = TransferRequest.request

/**
 * Approves a transfer waiting for its approval.
 *
 * @example
 * ```ts
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * const approved = TransferSaga.approve("t-1")
 * ```
 * @since 0.5.0
 * @category use cases
 */
export const approve = Effect.fn("Bank.Transfer.approve")(function* (transferId: string) {
  const transfers = yield* Repository.make(Transfer.Transfer)
  return yield* transfers.execute(transferId, new Transfer.ApproveTransfer({ transferId }, true), {
    commandId: `approve:${transferId}`
  })
})

/**
 * A transfer as `outcome` gives it: its details, and its saga's state and
 * steps.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Money, TransferSaga } from "@chronicle/example-bank"
 *
 * const line = (view: TransferSaga.TransferView) =>
 *   `${view.transferId}: ${view.from} -> ${view.to}, ${Money.format(view.amount)}, ${view.saga.state}`
 * const program = Effect.map(TransferSaga.outcome("t-1", "10 seconds"), Option.map(line))
 * ```
 * @since 0.5.0
 * @category models
 */
export interface TransferView {
  readonly transferId: string
  readonly from: string
  readonly to: string
  readonly amount: number
  readonly saga: SagaAdmin.Status
}

const viewOf = (status: SagaAdmin.Status): Option.Option<TransferView> =>
  Option.flatMap(status.trigger, (trigger) =>
    Option.map(
      Schema.decodeUnknownOption(Transfer.TransferRequested)({ ...Object(trigger.data), _tag: trigger.type }),
      (event) => ({
        transferId: status.instanceId,
        from: event.from,
        to: event.to,
        amount: event.amount,
        saga: status
      })
    )
  )

/**
 * One transfer, once its saga reached an end or (unless `toEnd`) a wait
 * for its approval, or as it is after `timeout`: `Option.none()` when the
 * saga had not started it by then.
 *
 * @example
 * ```ts
 * import { TransferSaga } from "@chronicle/example-bank"
 *
 * const settled = TransferSaga.outcome("t-1", "10 seconds")
 * ```
 * @since 0.5.0
 * @category use cases
 */
export const outcome = (transferId: string, timeout: Duration.DurationInput, options?: { readonly toEnd?: boolean }) =>
  SagaAdmin.waitFor(name, transferId, {
    timeout,
    until: (s) =>
      s.state !== "running" && s.state !== "compensating" && (options?.toEnd !== true || s.state !== "waiting")
  }).pipe(
    Effect.map(Option.some),
    Effect.catchTag("SagaWaitTimeout", () => SagaAdmin.status(name, transferId)),
    Effect.map(Option.flatMap(viewOf))
  )
