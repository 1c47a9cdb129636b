/**
 * The handlers of the `transfers` group: starting and approving a transfer
 * (commands on the Transfer aggregate, with the `Idempotency-Key` as the
 * command id; the Transfer saga, running in the server, moves the money),
 * and reading transfers joined with their saga's journal: one transfer from
 * its streams, the list from the transfers read model (`TransferList`).
 *
 * @since 0.5.0
 */
import { createHash } from "node:crypto"
import { EventStore, Repository, SagaAdmin, StoreError, StreamId } from "@chronicle/core"
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import * as Bank from "../Bank.js"
import * as Projections from "../Projections.js"
import * as Transfer from "../Transfer.js"
import * as AccountsHandlers from "./AccountsHandlers.js"
import * as ApiErrors from "./ApiErrors.js"
import * as ApiModels from "./ApiModels.js"
import { BankApi } from "./BankApi.js"
import * as TransferList from "./TransferList.js"
import * as TransferModels from "./TransferModels.js"

/**
 * The name of the Transfer saga (`TransferSaga.name`), spelled in
 * `TransferList` so that reading transfers does not load the saga's module
 * and its workflow engine.
 *
 * @example
 * ```ts
 * import { TransferSaga } from "@chronicle/example-bank"
 * import { TransfersHandlers } from "@chronicle/example-bank/http"
 *
 * TransfersHandlers.sagaName === TransferSaga.name // true: "Transfer"
 * ```
 * @since 0.5.0
 * @category constants
 */
export const sagaName = TransferList.sagaName

/**
 * The transfer id a request names: its own `transferId`, else one derived
 * from the `Idempotency-Key` (so that a replay names the same transfer),
 * else a new one.
 *
 * @example
 * ```ts
 * import { TransfersHandlers } from "@chronicle/example-bank/http"
 *
 * TransfersHandlers.transferIdOf(undefined, "rent-2025-03") // "t-" and 24 hex digits, the same every time
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const transferIdOf = (given: string | undefined, idempotencyKey: string | undefined): string =>
  given ??
  (idempotencyKey === undefined
    ? `t-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
    : `t-${createHash("sha256").update(idempotencyKey).digest("hex").slice(0, 24)}`)

const unknownTransfer = (transferId: string) =>
  new ApiErrors.NotFound({ resource: "transfer", id: transferId, message: `no transfer ${transferId}` })

const storeFailure = <A, R>(
  effect: Effect.Effect<A, StoreError.StoreError | { readonly _tag: "EventDecodeError" }, R>
) =>
  Effect.catchAll(effect, (error) =>
    StoreError.isStoreError(error) ? Effect.fail(ApiErrors.fromStoreError(error)) : Effect.die(error)
  )

/**
 * The `transfers` handlers.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { BankApi, TransfersHandlers } from "@chronicle/example-bank/http"
 *
 * const api = HttpApiBuilder.api(BankApi.BankApi).pipe(Layer.provide(TransfersHandlers.layer))
 * ```
 * @since 0.5.0
 * @category handlers
 */
export const layer = HttpApiBuilder.group(BankApi, "transfers", (handlers) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const accounts = yield* Bank.Accounts
    const transfers = yield* Repository.make(Transfer.Transfer)

    const execute = (transferId: string, command: Transfer.TransferCommand, commandId: string) =>
      transfers.execute(transferId, command, { commandId }).pipe(
        Effect.catchAll(ApiErrors.fromTransferError(transferId, commandId)),
        Effect.map((result) => TransferModels.commandResult(transferId, result))
      )

    /** Fails with 404 for an account never opened. */
    const opened = (accountId: string) =>
      accounts.load(accountId).pipe(
        Effect.catchAll(ApiErrors.fromLoadError),
        Effect.filterOrFail(
          (loaded) => loaded.version > 0,
          () =>
            new ApiErrors.NotFound({
              resource: "account",
              id: accountId,
              message: `no account ${accountId}: open it before transferring`
            })
        )
      )

    const readStream = (streamId: StreamId.StreamId) =>
      Effect.map(storeFailure(store.readEvents(streamId)), (events) => events.map(ApiModels.storedEvent))

    return handlers
      .handle("start", ({ payload, headers }) =>
        Effect.gen(function* () {
          const key = headers["idempotency-key"]
          const transferId = transferIdOf(payload.transferId, key)
          if (payload.from !== payload.to) {
            yield* opened(payload.from)
            yield* opened(payload.to)
          }
          return yield* execute(
            transferId,
            new Transfer.RequestTransfer({ ...payload, transferId }, true),
            // Without a key, a new command id: the same request again is then a no-op, another one with the same id a 409.
            key ?? crypto.randomUUID()
          )
        })
      )
      .handle("approve", ({ path, headers }) =>
        execute(
          path.transferId,
          new Transfer.ApproveTransfer({ transferId: path.transferId }, true),
          headers["idempotency-key"] ?? `approve:${path.transferId}`
          // An approval never names another transfer's details.
        ).pipe(Effect.catchTag("TransferConflict", Effect.die))
      )
      .handle("get", ({ path }) =>
        Effect.gen(function* () {
          // The saga's status first: the transfer's own end is recorded before the saga's,
          // so the transfer read after it is never behind it (no "failed" without its reason).
          const saga = yield* storeFailure(SagaAdmin.status(sagaName, path.transferId))
          const loaded = yield* transfers.load(path.transferId).pipe(Effect.catchAll(ApiErrors.fromLoadError))
          const state = loaded.state
          if (state.status === "none") return yield* unknownTransfer(path.transferId)
          const journal = yield* readStream(StreamId.forAggregate(`saga:${sagaName}`, path.transferId))
          const events = yield* readStream(StreamId.forAggregate(Transfer.Transfer.name, path.transferId))
          return {
            ...TransferModels.summary(path.transferId, state, saga),
            version: loaded.version,
            journal,
            events
          }
        })
      )
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* AccountsHandlers.waitFor(Projections.Transfers.name, Option.fromNullable(urlParams.waitFor))
          const { after, status } = urlParams
          // The cursor is a place in the order requested, so a transfer whose status changed between pages moves no other.
          if (after !== undefined) {
            const cursor = yield* Projections.transferRow(after).pipe(ApiErrors.fromReadModel("list transfers"))
            if (Option.isNone(cursor)) {
              return yield* ApiErrors.badRequest(`after: no transfer ${after} (pass the \`next\` of the previous page)`)
            }
          }
          const page = yield* TransferList.page({
            after,
            status,
            limit: urlParams.limit ?? AccountsHandlers.defaultLimit
          }).pipe(
            Effect.catchAll((error) =>
              error._tag === "SqlError" || error._tag === "ParseError"
                ? ApiErrors.fromReadModel("list transfers")(Effect.fail(error))
                : storeFailure(Effect.fail(error))
            )
          )
          return { items: page.items.map(TransferList.summary), next: Option.getOrNull(page.next) }
        })
      )
  })
)
