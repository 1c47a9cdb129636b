/**
 * The shapes of the bank's transfer routes, as Schemas: the body that starts
 * a transfer, a command's result, a transfer with its steps (the Transfer
 * saga's journal and the transfer's own events), and a page of transfers.
 *
 * A transfer's `status` on the wire joins the transfer's stream and its
 * saga's journal:
 *
 * - `requested`: recorded, not yet picked up by the saga;
 * - `running`, `compensating`, `completed`, `failed`, `compensation-failed`:
 *   the saga's state (so `completed` once the saga has recorded its end);
 * - `awaiting-approval`: the saga waits for `POST .../approve`.
 *
 * @since 0.5.0
 */
import type { Repository, SagaAdmin } from "@chronicle/core"
import { Option, Schema } from "effect"
import * as Account from "../Account.js"
import * as Money from "../Money.js"
import * as Transfer from "../Transfer.js"
import * as ApiModels from "./ApiModels.js"

/**
 * The body of `POST /api/transfers`. Without a `transferId`, the transfer's
 * id is derived from the `Idempotency-Key` (so a replay names the same
 * transfer), or is a new one when there is no key either.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(TransferModels.StartTransferBody)({ from: "alice", to: "bob", amount: 2500 })
 * ```
 * @since 0.5.0
 * @category requests
 */
export const StartTransferBody = Schema.Struct({
  transferId: Schema.optionalWith(Transfer.TransferId, { exact: true }),
  from: Account.AccountId,
  to: Account.AccountId,
  amount: Money.Cents
}).annotations({ identifier: "StartTransferBody" })

/**
 * The headers a transfer command takes: the `Idempotency-Key` (the command
 * id) and the correlation id (read by the middleware, echoed back).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(TransferModels.TransferCommandHeaders)({ "idempotency-key": "pay-rent-2025-03" })
 * ```
 * @since 0.5.0
 * @category headers
 */
export const TransferCommandHeaders = Schema.Struct({
  "idempotency-key": Schema.optionalWith(ApiModels.IdempotencyKey, { exact: true }),
  "x-correlation-id": Schema.optionalWith(ApiModels.CorrelationId, { exact: true })
})

/**
 * Where a transfer stands (see the module's header).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(TransferModels.TransferStatus)("awaiting-approval")
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const TransferStatus = Schema.Literal(
  "requested",
  "running",
  "awaiting-approval",
  "compensating",
  "completed",
  "failed",
  "compensation-failed"
).annotations({ identifier: "TransferStatus" })

/**
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * const settled = (status: TransferModels.TransferStatus): boolean => status === "completed" || status === "failed"
 * settled(TransferModels.statusOf("completed", Option.none())) // true
 * ```
 * @since 0.5.0
 * @category transfers
 */
export type TransferStatus = typeof TransferStatus.Type

/**
 * The result of a transfer command (`POST /api/transfers`, `.../approve`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(TransferModels.TransferCommandResult)
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const TransferCommandResult = Schema.Struct({
  transferId: Schema.String,
  commandId: Schema.String,
  correlationId: Schema.String,
  /** `true` when nothing new was written: the `Idempotency-Key` was used before, or the same request was made. */
  duplicate: Schema.Boolean,
  version: Schema.Int,
  /** The position of the last event recorded; null when nothing was appended. */
  position: Schema.NullOr(ApiModels.PositionText),
  events: Schema.Array(Transfer.TransferEvent)
}).annotations({ identifier: "TransferCommandResult" })

/**
 * The API form of a transfer command's result.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Repository } from "@chronicle/core"
 * import { Transfer } from "@chronicle/example-bank"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * const requested = Effect.gen(function* () {
 *   const transfers = yield* Repository.make(Transfer.Transfer)
 *   const result = yield* transfers.execute("t-1", new Transfer.RequestTransfer({ transferId: "t-1", from: "a", to: "b", amount: 5 }))
 *   return TransferModels.commandResult("t-1", result)
 * })
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const commandResult = (
  transferId: string,
  result: Repository.ExecuteResult<Transfer.TransferState, Transfer.TransferEvent>
): typeof TransferCommandResult.Type => ({
  transferId,
  commandId: result.commandId,
  correlationId: result.correlationId,
  duplicate: result.duplicate || result.events.length === 0,
  version: result.version,
  position: Option.match(result.position, { onNone: () => null, onSome: ApiModels.positionText }),
  events: result.events
})

/**
 * The Transfer saga's run of one transfer, from its journal.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(TransferModels.SagaView)({
 *   state: "waiting", run: 1, attempt: 1, steps: ["assess", "withdraw"], compensated: [],
 *   waitingFor: { for: "event:approved", until: null }, error: null, startedAt: null, updatedAt: null
 * })
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const SagaView = Schema.Struct({
  state: Schema.Literal("running", "waiting", "completed", "failed", "compensating", "compensation-failed"),
  run: Schema.Int,
  attempt: Schema.Int,
  /** The steps completed in the current run, in order. */
  steps: Schema.Array(Schema.String),
  /** The steps compensated in the current run, in the order compensated. */
  compensated: Schema.Array(Schema.String),
  waitingFor: Schema.NullOr(Schema.Struct({ for: Schema.String, until: Schema.NullOr(Schema.DateTimeUtc) })),
  error: Schema.NullOr(Schema.String),
  startedAt: Schema.NullOr(Schema.DateTimeUtc),
  updatedAt: Schema.NullOr(Schema.DateTimeUtc)
}).annotations({ identifier: "TransferSaga" })

/**
 * One transfer in a list: its details, where it stands and its saga's run.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(TransferModels.TransferSummary)({
 *   transferId: "t-1", from: "alice", to: "bob", amount: 2500, status: "requested", reason: null, saga: null
 * })
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const TransferSummary = Schema.Struct({
  transferId: Schema.String,
  from: Schema.String,
  to: Schema.String,
  amount: Schema.Int,
  status: TransferStatus,
  /** Why it failed, once it did. */
  reason: Schema.NullOr(Schema.String),
  /** Null while the saga has not picked the transfer up. */
  saga: Schema.NullOr(SagaView)
}).annotations({ identifier: "TransferSummary" })

/**
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Money } from "@chronicle/example-bank"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * const line = (transfer: TransferModels.TransferSummary) =>
 *   `${transfer.transferId}: ${Money.format(transfer.amount)} ${transfer.from} -> ${transfer.to}, ${transfer.status}`
 * line(TransferModels.summary("t-1", { status: "pending", from: "alice", to: "bob", amount: 2500 }, Option.none()))
 * // "t-1: 25.00 alice -> bob, requested"
 * ```
 * @since 0.5.0
 * @category transfers
 */
export type TransferSummary = typeof TransferSummary.Type

/**
 * A transfer with its steps: the saga's journal (`saga:Transfer-<id>`) and
 * the transfer's events (`Transfer-<id>`), as stored.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(TransferModels.TransferView)({
 *   transferId: "t-1", from: "alice", to: "bob", amount: 2500, status: "requested", reason: null, saga: null,
 *   version: 1, journal: [], events: []
 * })
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const TransferView = Schema.Struct({
  ...TransferSummary.fields,
  version: Schema.Int,
  journal: Schema.Array(ApiModels.StoredEventView),
  events: Schema.Array(ApiModels.StoredEventView)
}).annotations({ identifier: "TransferView" })

/**
 * @example
 * ```ts
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * const stepsDone = (view: TransferModels.TransferView): ReadonlyArray<string> => view.saga?.steps ?? []
 * const eventTypes = (view: TransferModels.TransferView) => view.events.map((event) => event.type)
 * ```
 * @since 0.5.0
 * @category transfers
 */
export type TransferView = typeof TransferView.Type

/**
 * A page of transfers.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(TransferModels.TransfersPage)({ items: [], next: null })
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const TransfersPage = ApiModels.Page(TransferSummary, "TransfersPage")

/**
 * The API form of a saga's status.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { SagaAdmin } from "@chronicle/core"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * const view = Effect.map(SagaAdmin.status("Transfer", "t-1"), Option.map(TransferModels.sagaView))
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const sagaView = (status: SagaAdmin.Status): typeof SagaView.Type => ({
  state: status.state,
  run: status.run,
  attempt: status.attempt,
  steps: status.steps,
  compensated: status.compensated,
  waitingFor: Option.getOrNull(
    Option.map(status.waitingFor, (w) => ({ for: w.for, until: Option.getOrNull(w.until) }))
  ),
  error: Option.getOrNull(status.error),
  startedAt: Option.getOrNull(status.startedAt),
  updatedAt: Option.getOrNull(status.updatedAt)
})

/**
 * Where a transfer stands, from its state and its saga's (none while the
 * saga has not picked it up): the saga's state once it has, so that a
 * transfer reads `completed` or `failed` once its saga has recorded every
 * step of it (the transfer's own end is recorded just before).
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * TransferModels.statusOf("pending", Option.none()) // "requested"
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const statusOf = (
  transfer: "pending" | "approved" | "completed" | "failed",
  saga: Option.Option<SagaAdmin.Status>
): TransferStatus => {
  if (Option.isNone(saga)) return transfer === "completed" || transfer === "failed" ? transfer : "requested"
  const state = saga.value.state
  return state === "waiting" ? "awaiting-approval" : state
}

/**
 * A transfer's summary, from its state and its saga's status.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { TransferModels } from "@chronicle/example-bank/http"
 *
 * TransferModels.summary("t-1", { status: "pending", from: "a", to: "b", amount: 5 }, Option.none())
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const summary = (
  transferId: string,
  state: Exclude<Transfer.TransferState, { readonly status: "none" }>,
  saga: Option.Option<SagaAdmin.Status>
): TransferSummary => ({
  transferId,
  from: state.from,
  to: state.to,
  amount: state.amount,
  status: statusOf(state.status, saga),
  reason: state.reason ?? null,
  saga: Option.getOrNull(Option.map(saga, sagaView))
})
