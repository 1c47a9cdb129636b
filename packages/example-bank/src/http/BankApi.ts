/**
 * The bank's HTTP API, defined once with `@effect/platform`'s `HttpApi`: the
 * server implements it (`AccountsHandlers`, `StreamsHandlers`,
 * `ProjectionsHandlers`, `HealthHandlers`) and the OpenAPI document at
 * `/openapi.json` (and the Swagger page at `/docs`) is generated from it.
 *
 * Every route is under `/api`, in one group per concept:
 *
 * - `accounts`: open, deposit, withdraw, close, get one, list (the balances
 *   read model), history, balance at a point in time, diff of two versions;
 * - `streams`: categories, the stream catalog, one stream, the global feed,
 *   and the live feed (server-sent events);
 * - `transfers`: start one (the Transfer saga moves the money), approve
 *   one, get one with its steps, list them (paginated, by status);
 * - `projections`: status and lag, rebuild (202, progress readable);
 * - `health`.
 *
 * A new concept is one more group added to {@link BankApi} and one more
 * handlers layer in `BankServer`.
 *
 * @since 0.5.0
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import * as Account from "../Account.js"
import * as Transfer from "../Transfer.js"
import * as ApiErrors from "./ApiErrors.js"
import * as ApiModels from "./ApiModels.js"
import * as TransferModels from "./TransferModels.js"

const AccountPath = Schema.Struct({ accountId: Account.AccountId })

const command = <const Name extends string, const Path extends HttpApiEndpoint.PathSegment>(name: Name, path: Path) =>
  HttpApiEndpoint.post(name, path)
    .setHeaders(ApiModels.CommandHeaders)
    .addError(ApiErrors.NotFound)
    .addError(ApiErrors.Refused)
    .addError(ApiErrors.VersionConflict)
    .addError(ApiErrors.Unavailable)
    .addError(ApiErrors.OutcomeUnknown)

/**
 * The `accounts` group: commands and queries on accounts.
 *
 * @example
 * ```ts
 * import { HttpApi } from "@effect/platform"
 * import { BankApi } from "@chronicle/example-bank/http"
 *
 * class AccountsOnly extends HttpApi.make("accounts-only").add(BankApi.AccountsGroup) {}
 * ```
 * @since 0.5.0
 * @category groups
 */
export class AccountsGroup extends HttpApiGroup.make("accounts")
  .add(
    command("open", "/accounts")
      .setPayload(ApiModels.OpenAccountBody)
      .addSuccess(ApiModels.CommandResult.annotations(HttpApiSchema.annotations({ status: 201 })))
      .annotate(OpenApi.Summary, "Open an account")
      .annotate(
        OpenApi.Description,
        "Opens an account for an owner, with an overdraft limit in cents (default 0). Answers 201 (with `duplicate: true` when the Idempotency-Key was used before: nothing new is written). An account id already taken is refused (422 AccountAlreadyOpen)."
      )
  )
  .add(
    command("deposit", "/accounts/:accountId/deposits")
      .setPath(AccountPath)
      .setPayload(ApiModels.DepositBody)
      .addSuccess(ApiModels.CommandResult)
      .annotate(OpenApi.Summary, "Deposit money")
      .annotate(
        OpenApi.Description,
        "Deposits an amount in cents. Accounts hold EUR: another currency is refused (422 CurrencyMismatch)."
      )
  )
  .add(
    command("withdraw", "/accounts/:accountId/withdrawals")
      .setPath(AccountPath)
      .setPayload(ApiModels.WithdrawBody)
      .addSuccess(ApiModels.CommandResult)
      .annotate(OpenApi.Summary, "Withdraw money")
      .annotate(
        OpenApi.Description,
        "Withdraws an amount in cents, within the overdraft limit (else 422 InsufficientFunds, with the balance, the amount asked and the limit)."
      )
  )
  .add(
    command("close", "/accounts/:accountId/close")
      .setPath(AccountPath)
      .addSuccess(ApiModels.CommandResult)
      .annotate(OpenApi.Summary, "Close an account")
      .annotate(OpenApi.Description, "Closes an account whose balance is zero (else 422 NonZeroBalance).")
  )
  .add(
    HttpApiEndpoint.get("get", "/accounts/:accountId")
      .setPath(AccountPath)
      .addSuccess(ApiModels.AccountView)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Get an account")
      .annotate(
        OpenApi.Description,
        "The account now, folded from its events: owner, status, balance, overdraft limit, version and the position of its last event. The ETag header is the version, for If-Match."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/accounts")
      .setUrlParams(
        Schema.Struct({
          limit: Schema.optionalWith(ApiModels.Limit, { exact: true }),
          after: Schema.optionalWith(Account.AccountId, { exact: true }),
          waitFor: Schema.optionalWith(ApiModels.PositionParam, { exact: true })
        })
      )
      .addSuccess(ApiModels.AccountsPage)
      .addError(ApiErrors.ReadModelBehind)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "List accounts")
      .annotate(
        OpenApi.Description,
        "Accounts by id from the balances read model, `limit` at a time (default 50); pass `next` as `after` for the next page. With `waitFor=<position>` (the `position` a command returned), waits until the read model has applied it (at most 5 s, then 503 ReadModelBehind): read-your-writes."
      )
  )
  .add(
    HttpApiEndpoint.get("history", "/accounts/:accountId/history")
      .setPath(AccountPath)
      .setUrlParams(
        Schema.Struct({
          after: Schema.optionalWith(ApiModels.VersionParam, { exact: true }),
          limit: Schema.optionalWith(ApiModels.Limit, { exact: true })
        })
      )
      .addSuccess(ApiModels.HistoryPage)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "An account's history")
      .annotate(
        OpenApi.Description,
        "Each event of the account after version `after` (default 0), with its metadata, the state after it and what it changed, `limit` at a time (default 50)."
      )
  )
  .add(
    HttpApiEndpoint.get("balanceAt", "/accounts/:accountId/balance")
      .setPath(AccountPath)
      .setUrlParams(
        Schema.Struct({
          at: Schema.optionalWith(ApiModels.InstantParam, { exact: true }),
          version: Schema.optionalWith(ApiModels.VersionParam, { exact: true })
        })
      )
      .addSuccess(ApiModels.PastBalanceView)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "An account's balance in the past")
      .annotate(
        OpenApi.Description,
        "The account as it was at an instant (`at`, ISO-8601) or after its n-th event (`version`; 0 is before the first). Give one of them; a version past the end of the stream is a 400."
      )
  )
  .add(
    HttpApiEndpoint.get("diff", "/accounts/:accountId/diff")
      .setPath(AccountPath)
      .setUrlParams(Schema.Struct({ from: ApiModels.VersionParam, to: ApiModels.VersionParam }))
      .addSuccess(ApiModels.DiffView)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Diff two versions of an account")
      .annotate(OpenApi.Description, "The state at version `from` and at version `to`, and each field that differs.")
  ) {}

const StreamPath = Schema.Struct({
  streamId: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(300)).annotations({ identifier: "StreamId" })
})

/**
 * The `streams` group: what the store holds, stream by stream and in the
 * global order, and the live feed.
 *
 * @example
 * ```ts
 * import { HttpApi } from "@effect/platform"
 * import { BankApi } from "@chronicle/example-bank/http"
 *
 * class StreamsOnly extends HttpApi.make("streams-only").add(BankApi.StreamsGroup) {}
 * ```
 * @since 0.5.0
 * @category groups
 */
export class StreamsGroup extends HttpApiGroup.make("streams")
  .add(
    HttpApiEndpoint.get("categories", "/categories")
      .setUrlParams(Schema.Struct({ waitFor: Schema.optionalWith(ApiModels.PositionParam, { exact: true }) }))
      .addSuccess(ApiModels.CategoriesView)
      .addError(ApiErrors.ReadModelBehind)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Stream categories")
      .annotate(
        OpenApi.Description,
        "Every category with its number of streams and events, from the stream catalog read model (`waitFor` as for accounts)."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/streams")
      .setUrlParams(
        Schema.Struct({
          category: Schema.optionalWith(ApiModels.Category, { exact: true }),
          limit: Schema.optionalWith(ApiModels.Limit, { exact: true }),
          after: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(300)), { exact: true }),
          waitFor: Schema.optionalWith(ApiModels.PositionParam, { exact: true })
        })
      )
      .addSuccess(ApiModels.StreamsPage)
      .addError(ApiErrors.ReadModelBehind)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "List streams")
      .annotate(
        OpenApi.Description,
        "Streams by id, optionally of one category, from the stream catalog read model, `limit` at a time (default 50); pass `next` as `after` for the next page."
      )
  )
  .add(
    HttpApiEndpoint.get("read", "/streams/:streamId")
      .setPath(StreamPath)
      .setUrlParams(
        Schema.Struct({
          after: Schema.optionalWith(ApiModels.VersionParam, { exact: true }),
          limit: Schema.optionalWith(ApiModels.Limit, { exact: true })
        })
      )
      .addSuccess(ApiModels.StreamPage)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Read a stream")
      .annotate(
        OpenApi.Description,
        "The events of one stream after version `after` (default 0), as stored: type, version, position, recorded at, stored schema version, correlation and causation ids, metadata and JSON data."
      )
  )
  .add(
    HttpApiEndpoint.get("feed", "/events")
      .setUrlParams(
        Schema.Struct({
          after: Schema.optionalWith(ApiModels.PositionParam, { exact: true }),
          category: Schema.optionalWith(ApiModels.Category, { exact: true }),
          limit: Schema.optionalWith(ApiModels.Limit, { exact: true })
        })
      )
      .addSuccess(ApiModels.FeedPage)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Read the global feed")
      .annotate(
        OpenApi.Description,
        "Events in global order after the position `after` (default: from the start), optionally of one category, `limit` at a time (default 50); pass `next` as `after` for the next page."
      )
  )
  .add(
    HttpApiEndpoint.get("live", "/events/live")
      .setUrlParams(
        Schema.Struct({
          from: Schema.optionalWith(ApiModels.PositionParam, { exact: true }),
          category: Schema.optionalWith(ApiModels.Category, { exact: true })
        })
      )
      .setHeaders(Schema.Struct({ "last-event-id": Schema.optionalWith(ApiModels.PositionParam, { exact: true }) }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Follow the live feed (server-sent events)")
      .annotate(
        OpenApi.Description,
        "A text/event-stream of the events after `from` (default: the head now, so only new events), optionally of one category, then of each new one as it is recorded. Each message is `event: chronicle-event`, `id: <position>` and `data: <StoredEvent as JSON>`; a reconnecting EventSource resumes after its Last-Event-ID. A comment line is sent every 15 s to keep the connection open."
      )
  ) {}

const TransferPath = Schema.Struct({ transferId: Transfer.TransferId })

/**
 * The `transfers` group: transfers between accounts, run by the Transfer
 * saga in the server (see `TransferSaga`).
 *
 * @example
 * ```ts
 * import { HttpApi } from "@effect/platform"
 * import { BankApi } from "@chronicle/example-bank/http"
 *
 * class TransfersOnly extends HttpApi.make("transfers-only").add(BankApi.TransfersGroup) {}
 * ```
 * @since 0.5.0
 * @category groups
 */
export class TransfersGroup extends HttpApiGroup.make("transfers")
  .add(
    HttpApiEndpoint.post("start", "/transfers")
      .setHeaders(TransferModels.TransferCommandHeaders)
      .setPayload(TransferModels.StartTransferBody)
      .addSuccess(TransferModels.TransferCommandResult.annotations(HttpApiSchema.annotations({ status: 202 })))
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.TransferConflict)
      .addError(ApiErrors.TransferRefused)
      .addError(ApiErrors.Unavailable)
      .addError(ApiErrors.OutcomeUnknown)
      .annotate(OpenApi.Summary, "Start a transfer")
      .annotate(
        OpenApi.Description,
        "Requests a transfer of `amount` cents from `from` to `to` and answers at once (202): the Transfer saga then withdraws, waits for an approval above the bank's threshold, deposits and completes, or fails and refunds. Follow it at GET /api/transfers/{transferId}. Without `transferId`, the id is derived from the Idempotency-Key (a replay names the same transfer, `duplicate: true`), or is new. 404 when either account was never opened, 409 TransferConflict when the id names another transfer, 422 TransferRefused (SameAccount) from an account to itself."
      )
  )
  .add(
    HttpApiEndpoint.post("approve", "/transfers/:transferId/approve")
      .setPath(TransferPath)
      .setHeaders(TransferModels.TransferCommandHeaders)
      .addSuccess(TransferModels.TransferCommandResult)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.TransferRefused)
      .addError(ApiErrors.Unavailable)
      .addError(ApiErrors.OutcomeUnknown)
      .annotate(OpenApi.Summary, "Approve a transfer")
      .annotate(
        OpenApi.Description,
        "Approves a transfer (one above the threshold waits for it, `awaiting-approval`); approving again records nothing (`duplicate: true`). 404 for an unknown transfer, 422 TransferRefused (TransferSettled) once it ended."
      )
  )
  .add(
    HttpApiEndpoint.get("get", "/transfers/:transferId")
      .setPath(TransferPath)
      .addSuccess(TransferModels.TransferView)
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Get a transfer with its steps")
      .annotate(
        OpenApi.Description,
        "The transfer (accounts, amount, status, reason of a failure), its saga's run (state, steps completed and compensated, what it waits for), and its steps as stored: the saga's journal (`saga:Transfer-<id>`) and the transfer's events (`Transfer-<id>`)."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/transfers")
      .setUrlParams(
        Schema.Struct({
          status: Schema.optionalWith(TransferModels.TransferStatus, { exact: true }),
          limit: Schema.optionalWith(ApiModels.Limit, { exact: true }),
          after: Schema.optionalWith(Transfer.TransferId, { exact: true }),
          waitFor: Schema.optionalWith(ApiModels.PositionParam, { exact: true })
        })
      )
      .addSuccess(TransferModels.TransfersPage)
      .addError(ApiErrors.ReadModelBehind)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "List transfers")
      .annotate(
        OpenApi.Description,
        "Transfers in the order they were requested, optionally of one `status`, `limit` at a time (default 50); pass `next` as `after` for the next page. With a `status`, a page reads at most 500 candidate transfers (or `limit` + 1): it may then hold fewer than `limit`, even none, with a `next`; only a page whose `next` is null is the last. From the transfers read model, with the saga's run of each transfer on the page. With `waitFor=<position>` (the `position` a transfer command returned), waits until the read model has applied it (at most 5 s, then 503 ReadModelBehind): read-your-writes."
      )
  ) {}

/**
 * The `projections` group: read models' status, and rebuilds.
 *
 * @example
 * ```ts
 * import { HttpApi } from "@effect/platform"
 * import { BankApi } from "@chronicle/example-bank/http"
 *
 * class ProjectionsOnly extends HttpApi.make("projections-only").add(BankApi.ProjectionsGroup) {}
 * ```
 * @since 0.5.0
 * @category groups
 */
export class ProjectionsGroup extends HttpApiGroup.make("projections")
  .add(
    HttpApiEndpoint.get("list", "/projections")
      .addSuccess(ApiModels.ProjectionsView)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Projections and their lag")
      .annotate(
        OpenApi.Description,
        "Each projection version: state, checkpoint, lag (events still to process), parked events, error, and the last rebuild started here."
      )
  )
  .add(
    HttpApiEndpoint.post("rebuild", "/projections/:name/rebuild")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(ApiModels.RebuildView.annotations(HttpApiSchema.annotations({ status: 202 })))
      .addError(ApiErrors.NotFound)
      .addError(ApiErrors.ProjectionBusy)
      .addError(ApiErrors.Unavailable)
      .annotate(OpenApi.Summary, "Rebuild a projection")
      .annotate(
        OpenApi.Description,
        "Starts rebuilding a read model from the first event and answers at once (202); read the progress at GET /api/projections/{name}/rebuild. The projection's background runner pauses meanwhile. 409 when another process runs the projection or a rebuild is already running."
      )
  )
  .add(
    HttpApiEndpoint.get("rebuildStatus", "/projections/:name/rebuild")
      .setPath(Schema.Struct({ name: Schema.String }))
      .addSuccess(ApiModels.RebuildView)
      .addError(ApiErrors.NotFound)
      .annotate(OpenApi.Summary, "A rebuild's progress")
      .annotate(OpenApi.Description, "The last rebuild of this projection started by this server, and how far it got.")
  ) {}

/**
 * The `health` group.
 *
 * @example
 * ```ts
 * import { HttpApi } from "@effect/platform"
 * import { BankApi } from "@chronicle/example-bank/http"
 *
 * class HealthOnly extends HttpApi.make("health-only").add(BankApi.HealthGroup) {}
 * ```
 * @since 0.5.0
 * @category groups
 */
export class HealthGroup extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/health")
    .addSuccess(ApiModels.HealthView)
    .addError(ApiErrors.Unhealthy)
    .annotate(OpenApi.Summary, "Health")
    .annotate(
      OpenApi.Description,
      "Whether the store answers (503 when it does not), whether the global feed is held back, each projection's state and lag, and the live feed's clients."
    )
) {}

/**
 * The bank's API: every group under `/api`.
 *
 * @example
 * ```ts
 * import { OpenApi } from "@effect/platform"
 * import { BankApi } from "@chronicle/example-bank/http"
 *
 * const spec = OpenApi.fromApi(BankApi.BankApi)
 * ```
 * @since 0.5.0
 * @category api
 */
export class BankApi extends HttpApi.make("bank")
  .add(AccountsGroup)
  .add(StreamsGroup)
  .add(TransfersGroup)
  .add(ProjectionsGroup)
  .add(HealthGroup)
  .prefix("/api")
  .annotate(OpenApi.Title, "Chronicle bank")
  .annotate(OpenApi.Version, "0.5.0")
  .annotate(
    OpenApi.Description,
    "The example bank of Chronicle (event sourcing for Effect) over HTTP. Commands take an Idempotency-Key (the command id: the same key records once) and If-Match (the account version the client last saw: 409 with the actual version otherwise). Every response carries X-Correlation-Id: the request's own, or a new one; the events a command records carry it."
  ) {}
