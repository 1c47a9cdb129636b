/**
 * The errors of the bank's HTTP API, each with its status and a typed body,
 * and the mapping from Chronicle's and the bank's errors to them:
 *
 * | status | body `_tag` | when |
 * | --- | --- | --- |
 * | 400 | `HttpApiDecodeError` | the request does not match its Schema (body, path, query, headers), or is not JSON; a point in time the account never reached |
 * | 404 | `NotFound` | an unknown account (also a command on one never opened), stream, projection, rebuild or transfer (also a transfer between accounts never opened) |
 * | 409 | `VersionConflict` | `If-Match` named another version than the account's (the body has the actual one) |
 * | 409 | `ProjectionBusy` | a rebuild while another process runs the projection |
 * | 409 | `TransferConflict` | a transfer id already taken by a transfer with other details |
 * | 422 | `Refused` | a rule of the bank refused the command (e.g. `InsufficientFunds`, with its fields) |
 * | 422 | `TransferRefused` | a rule of transfers refused it (`SameAccount`, or approving a transfer that ended: `TransferSettled`) |
 * | 503 | `Unavailable` | the store failed or did not answer, or the server is starting or stopping (`operation: "start"` / `"stop"`, `ReadinessGuard`); nothing was written |
 * | 503 | `OutcomeUnknown` | the store lost the answer to a write: retry with the same `Idempotency-Key` |
 * | 503 | `ReadModelBehind` | `waitFor` timed out: the read model has not reached that position yet |
 * | 503 | `Unhealthy` | `GET /api/health` when the store does not answer (the body holds the report) |
 *
 * Input never causes a 500: a 500 is a bug, or a stored event that does not
 * decode.
 *
 * @since 0.5.0
 */
import { type ProjectionError, type Repository, StoreError, type TimeTravel } from "@chronicle/core"
import { HttpApiError, HttpApiSchema } from "@effect/platform"
import { Effect, Schema } from "effect"
import * as Account from "../Account.js"
import type * as Projections from "../Projections.js"
import * as Transfer from "../Transfer.js"
import * as ApiModels from "./ApiModels.js"

/**
 * A path or query that names nothing the bank knows.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.NotFound({ resource: "account", id: "alice", message: "no account alice" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  {
    resource: Schema.Literal("account", "stream", "projection", "rebuild", "transfer"),
    id: Schema.String,
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 404, description: "No such account, stream, projection, rebuild or transfer" })
) {}

/**
 * `If-Match` named a version the account is not at: nothing was written.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.VersionConflict({ streamId: "Account-alice", expected: "3", actual: 4, message: "reload it" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()(
  "VersionConflict",
  {
    streamId: Schema.String,
    /** The version `If-Match` named. */
    expected: Schema.String,
    /** The account's version now. */
    actual: Schema.Int,
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 409, description: "The account is not at the version If-Match named" })
) {}

/**
 * A rebuild was asked while another process holds the projection's lease.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.ProjectionBusy({ projection: "balances", message: "another process runs balances" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class ProjectionBusy extends Schema.TaggedError<ProjectionBusy>()(
  "ProjectionBusy",
  { projection: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "Another process runs this projection" })
) {}

/**
 * A rule of the bank refused the command; `error` is the domain error with
 * its fields (for `InsufficientFunds`: `balance`, `requested`,
 * `overdraftLimit`) and `message` says it in words.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * const error = new Account.InsufficientFunds({ balance: 100, requested: 500, overdraftLimit: 0 })
 * new ApiErrors.Refused({ accountId: "alice", error, message: error.message })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class Refused extends Schema.TaggedError<Refused>()(
  "Refused",
  { accountId: Schema.String, error: Account.AccountError, message: Schema.String },
  HttpApiSchema.annotations({ status: 422, description: "A rule of the bank refused the command" })
) {}

/**
 * A transfer id already names a transfer with other accounts or another
 * amount: nothing was written. Choose another id.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.TransferConflict({ transferId: "t-1", message: "transfer t-1 exists already" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class TransferConflict extends Schema.TaggedError<TransferConflict>()(
  "TransferConflict",
  { transferId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "The transfer id names another transfer" })
) {}

/**
 * A rule of transfers refused the command: `error` is the domain error
 * (`SameAccount`, or `TransferSettled` for an approval that comes after the
 * end), `message` says it in words.
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * const error = new Transfer.SameAccount({ accountId: "alice" })
 * new ApiErrors.TransferRefused({ transferId: "t-1", error, message: error.message })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class TransferRefused extends Schema.TaggedError<TransferRefused>()(
  "TransferRefused",
  {
    transferId: Schema.String,
    error: Schema.Union(Transfer.SameAccount, Transfer.TransferSettled),
    message: Schema.String
  },
  HttpApiSchema.annotations({ status: 422, description: "A rule of transfers refused the command" })
) {}

/**
 * The store failed or did not answer, or the server is starting or stopping
 * (`operation: "start"` / `"stop"`, answered by `ReadinessGuard` with
 * `Retry-After: 1`).
 * Nothing was written; the request may be retried.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.Unavailable({ operation: "append", message: "connection refused" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  { operation: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 503, description: "The store is unavailable" })
) {}

/**
 * The store lost the connection after a write was sent: it may or may not
 * have been recorded. Send it again with the same `Idempotency-Key` (it is
 * the `commandId` here): it is recorded at most once.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.OutcomeUnknown({ commandId: "pay-1", message: "send it again with the same Idempotency-Key" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()(
  "OutcomeUnknown",
  { commandId: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 503, description: "The outcome of the write is unknown: retry it" })
) {}

/**
 * A query with `waitFor` whose read model did not reach that position in
 * time.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.ReadModelBehind({ projection: "balances", position: "42", timeoutMillis: 5000, message: "not yet" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class ReadModelBehind extends Schema.TaggedError<ReadModelBehind>()(
  "ReadModelBehind",
  { projection: Schema.String, position: Schema.String, timeoutMillis: Schema.Number, message: Schema.String },
  HttpApiSchema.annotations({ status: 503, description: "The read model has not reached the position yet" })
) {}

/**
 * The store does not answer: the health report, as a 503.
 *
 * @example
 * ```ts
 * import { DateTime } from "effect"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * new ApiErrors.Unhealthy({
 *   health: {
 *     status: "down",
 *     store: { reachable: false, head: null, error: "connection refused" },
 *     feed: null,
 *     projections: [],
 *     liveClients: 0,
 *     checkedAt: DateTime.unsafeNow()
 *   },
 *   message: "the store does not answer"
 * })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class Unhealthy extends Schema.TaggedError<Unhealthy>()(
  "Unhealthy",
  { health: ApiModels.HealthView, message: Schema.String },
  HttpApiSchema.annotations({ status: 503, description: "The store does not answer" })
) {}

/**
 * A 400 with a message of our own (a point past the end of a stream, a body
 * that is not JSON), in the same shape as the 400s of Schema validation.
 *
 * @example
 * ```ts
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * ApiErrors.badRequest("the body is not valid JSON").message // "the body is not valid JSON"
 * ```
 * @since 0.5.0
 * @category errors
 */
export const badRequest = (message: string): HttpApiError.HttpApiDecodeError =>
  new HttpApiError.HttpApiDecodeError({ issues: [], message })

/**
 * The errors every store-reading endpoint may answer with.
 *
 * @example
 * ```ts
 * import { StoreError } from "@chronicle/core"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * const failure: ApiErrors.StoreFailure = ApiErrors.fromStoreError(
 *   StoreError.make({ operation: "read", reason: "timeout", detail: "no answer within 3s" })
 * )
 * failure.operation // "read"
 * ```
 * @since 0.5.0
 * @category errors
 */
export type StoreFailure = Unavailable

/**
 * A store error as a 503.
 *
 * @example
 * ```ts
 * import { StoreError } from "@chronicle/core"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * ApiErrors.fromStoreError(StoreError.make({ operation: "read", reason: "timeout", detail: "no answer within 3s" }))
 * ```
 * @since 0.5.0
 * @category mapping
 */
export const fromStoreError = (error: StoreError.StoreError): Unavailable =>
  new Unavailable({ operation: error.operation, message: error.message })

/**
 * What a command's errors become: a command on an account never opened is
 * `NotFound` (404), any other domain error is `Refused` (422), a
 * conflict with `If-Match` is `VersionConflict` (409), invalid input is a
 * 400, a store failure `Unavailable` (503), a lost answer `OutcomeUnknown`
 * (503). A stored event that does not decode (or one the codec cannot
 * encode) is a defect: a 500, since no request can fix it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Account } from "@chronicle/example-bank"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * const refused = ApiErrors.fromCommandError("alice", "cmd-1")(new Account.AccountIsClosed()) // fails with Refused
 * ```
 * @since 0.5.0
 * @category mapping
 */
export const fromCommandError =
  (accountId: string, commandId: string) =>
  (
    error: Repository.ExecuteError | Account.AccountError
  ): Effect.Effect<
    never,
    NotFound | Refused | VersionConflict | HttpApiError.HttpApiDecodeError | Unavailable | OutcomeUnknown
  > => {
    switch (error._tag) {
      case "AccountNotOpen":
        return Effect.fail(
          new NotFound({ resource: "account", id: accountId, message: `no account ${accountId}: open it first` })
        )
      case "AccountAlreadyOpen":
      case "AccountIsClosed":
      case "InsufficientFunds":
      case "NonZeroBalance":
      case "BalanceLimitExceeded":
      case "CurrencyMismatch":
        return Effect.fail(new Refused({ accountId, error, message: error.message }))
      case "ConcurrencyError":
        return Effect.fail(
          new VersionConflict({
            streamId: error.streamId,
            expected: error.expected,
            actual: error.actual,
            message: `the account is at version ${error.actual}, not ${error.expected}: reload it and decide again`
          })
        )
      case "InvalidCommandError":
      case "InvalidAppendError":
        return Effect.fail(badRequest(error.message))
      case "StoreError":
        return Effect.fail(fromStoreError(error))
      case "UnknownOutcomeError":
        return Effect.fail(
          new OutcomeUnknown({
            commandId,
            message: `${error.message}. Send it again with the same Idempotency-Key (${commandId}): it is recorded at most once.`
          })
        )
      case "EventDecodeError":
      case "EventEncodeError":
        return Effect.die(error)
    }
  }

/**
 * What loading an account's errors become (see {@link fromCommandError}).
 *
 * @example
 * ```ts
 * import { TimeTravel } from "@chronicle/core"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * const badRequest = ApiErrors.fromLoadError(
 *   new TimeTravel.TemporalQueryError({ aggregate: "Account", id: "alice", reason: "past the end" })
 * )
 * ```
 * @since 0.5.0
 * @category mapping
 */
export const fromLoadError = (
  error: Repository.LoadError | TimeTravel.TemporalQueryError
): Effect.Effect<never, HttpApiError.HttpApiDecodeError | Unavailable> => {
  switch (error._tag) {
    case "InvalidCommandError":
    case "TemporalQueryError":
      return Effect.fail(badRequest(error.message))
    case "StoreError":
      return Effect.fail(fromStoreError(error))
    case "EventDecodeError":
      return Effect.die(error)
  }
}

/**
 * What waiting for a read model's errors become: a timeout is
 * `ReadModelBehind` (503), as is a projection that no runner registered.
 *
 * @example
 * ```ts
 * import { Projection, ProjectionError } from "@chronicle/core"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * ApiErrors.fromWaitError("balances", "42", 5000)(new ProjectionError.ProjectionNotFound({ name: "balances" }))
 * ```
 * @since 0.5.0
 * @category mapping
 */
export const fromWaitError =
  (projection: string, position: string, timeoutMillis: number) =>
  (
    error: ProjectionError.ProjectionTimeout | ProjectionError.ProjectionNotFound | StoreError.StoreError
  ): ReadModelBehind | Unavailable =>
    StoreError.isStoreError(error)
      ? fromStoreError(error)
      : new ReadModelBehind({
          projection,
          position,
          timeoutMillis,
          message: `the ${projection} read model has not reached position ${position} after ${timeoutMillis} ms`
        })

/**
 * What a read-model query's errors become: a SQL error is `Unavailable`
 * (503); a row of the read model that does not decode is a defect (500).
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * const rows = Projections.accounts.pipe(ApiErrors.fromReadModel("list accounts"))
 * ```
 * @since 0.5.0
 * @category mapping
 */
export const fromReadModel =
  (operation: string) =>
  <A, R>(effect: Effect.Effect<A, Projections.HandlerError, R>): Effect.Effect<A, Unavailable, R> =>
    Effect.catchAll(effect, (error) =>
      error._tag === "SqlError"
        ? Effect.fail(new Unavailable({ operation, message: error.message }))
        : Effect.die(error)
    )

/**
 * What a transfer command's errors become: `TransferNotFound` is 404,
 * `TransferExists` is `TransferConflict` (409), `SameAccount` and
 * `TransferSettled` are `TransferRefused` (422), and the repository's errors
 * as for accounts ({@link fromCommandError}; transfer commands name no
 * expected version, so a conflict is a defect).
 *
 * @example
 * ```ts
 * import { Transfer } from "@chronicle/example-bank"
 * import { ApiErrors } from "@chronicle/example-bank/http"
 *
 * const refused = ApiErrors.fromTransferError("t-1", "cmd-1")(new Transfer.SameAccount({ accountId: "alice" }))
 * ```
 * @since 0.5.0
 * @category mapping
 */
export const fromTransferError =
  (transferId: string, commandId: string) =>
  (
    error: Repository.ExecuteError | Transfer.TransferError
  ): Effect.Effect<
    never,
    NotFound | TransferConflict | TransferRefused | HttpApiError.HttpApiDecodeError | Unavailable | OutcomeUnknown
  > => {
    switch (error._tag) {
      case "TransferNotFound":
        return Effect.fail(new NotFound({ resource: "transfer", id: transferId, message: error.message }))
      case "TransferExists":
        return Effect.fail(new TransferConflict({ transferId, message: error.message }))
      case "SameAccount":
      case "TransferSettled":
        return Effect.fail(new TransferRefused({ transferId, error, message: error.message }))
      case "InvalidCommandError":
      case "InvalidAppendError":
        return Effect.fail(badRequest(error.message))
      case "StoreError":
        return Effect.fail(fromStoreError(error))
      case "UnknownOutcomeError":
        return Effect.fail(
          new OutcomeUnknown({
            commandId,
            message: `${error.message}. Send it again with the same Idempotency-Key (${commandId}): it is recorded at most once.`
          })
        )
      // Transfer commands name no expected version: a conflict is retried by the repository, never seen here.
      case "ConcurrencyError":
      case "EventDecodeError":
      case "EventEncodeError":
        return Effect.die(error)
    }
  }
