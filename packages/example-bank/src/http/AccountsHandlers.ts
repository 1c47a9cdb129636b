/**
 * The handlers of the `accounts` group: commands through the server's
 * `Bank.Accounts` (with the `Idempotency-Key` as
 * the command id and `If-Match` as the version the client last saw), queries
 * on the account's own stream (now, in the past, its history, a diff), and
 * the list of accounts from the balances read model, with read-your-writes
 * through `Projection.waitFor`.
 *
 * @since 0.5.0
 */
import { type Position, Projection } from "@chronicle/core"
import { HttpApiBuilder } from "@effect/platform"
import { Chunk, type DateTime, Duration, Effect, Option, Stream } from "effect"
import * as Account from "../Account.js"
import * as Bank from "../Bank.js"
import * as Projections from "../Projections.js"
import * as AccountList from "./AccountList.js"
import * as ApiErrors from "./ApiErrors.js"
import * as ApiModels from "./ApiModels.js"
import { BankApi } from "./BankApi.js"
import * as ResponseHeaders from "./ResponseHeaders.js"

/**
 * The longest a query waits for its read model to reach `waitFor`.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { AccountsHandlers } from "@chronicle/example-bank/http"
 *
 * Duration.format(AccountsHandlers.waitForTimeout) // "5s"
 * ```
 * @since 0.5.0
 * @category constants
 */
export const waitForTimeout = Duration.seconds(5)

/**
 * The page size when a list names none.
 *
 * @example
 * ```ts
 * import { AccountList, AccountsHandlers } from "@chronicle/example-bank/http"
 *
 * const firstPage = AccountList.page({ limit: AccountsHandlers.defaultLimit }) // 50 accounts at most
 * ```
 * @since 0.5.0
 * @category constants
 */
export const defaultLimit = 50

// Commands are built without the constructor's validation: the request body
// was decoded with the same Schemas, and the repository checks every field
// again (a typed InvalidCommandError, never a throw).
const unchecked = true

const notFound = (accountId: string) =>
  new ApiErrors.NotFound({ resource: "account", id: accountId, message: `no account ${accountId}` })

/**
 * Waits until a projection has applied `position` (for read-your-writes),
 * at most {@link waitForTimeout}.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 * import { Option } from "effect"
 * import { AccountsHandlers } from "@chronicle/example-bank/http"
 *
 * const fresh = AccountsHandlers.waitFor("balances", Option.some(Position.make(0n, 42n)))
 * ```
 * @since 0.5.0
 * @category consistency
 */
export const waitFor = (projection: string, position: Option.Option<Position.Position>) =>
  Option.match(position, {
    onNone: () => Effect.void,
    onSome: (at) =>
      Projection.waitFor(projection, at, { timeout: waitForTimeout }).pipe(
        Effect.mapError(
          ApiErrors.fromWaitError(projection, ApiModels.positionText(at), Duration.toMillis(waitForTimeout))
        )
      )
  })

/**
 * The `accounts` handlers.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { AccountsHandlers, BankApi } from "@chronicle/example-bank/http"
 *
 * const api = HttpApiBuilder.api(BankApi.BankApi).pipe(Layer.provide(AccountsHandlers.layer))
 * ```
 * @since 0.5.0
 * @category handlers
 */
export const layer = HttpApiBuilder.group(BankApi, "accounts", (handlers) =>
  Effect.gen(function* () {
    const accounts = yield* Bank.Accounts

    const execute = (
      accountId: string,
      command: Account.AccountCommand,
      headers: typeof ApiModels.CommandHeaders.Type
    ) =>
      Effect.gen(function* () {
        const commandId = headers["idempotency-key"] ?? crypto.randomUUID()
        const result = yield* accounts
          .execute(accountId, command, { commandId, expectedVersion: headers["if-match"] })
          .pipe(Effect.catchAll(ApiErrors.fromCommandError(accountId, commandId)))
        yield* ResponseHeaders.etag(result.version)
        return ApiModels.commandResult(accountId, result)
      })

    /** The account's current version, failing with 404 for one never opened. */
    const existing = (accountId: string) =>
      accounts.load(accountId).pipe(
        Effect.catchAll(ApiErrors.fromLoadError),
        Effect.filterOrFail(
          (loaded) => loaded.version > 0,
          () => notFound(accountId)
        )
      )

    const at = (accountId: string, target: { readonly version: number } | { readonly at: DateTime.Utc }) =>
      accounts.loadAt(accountId, target).pipe(Effect.catchAll(ApiErrors.fromLoadError))

    return handlers
      .handle("open", ({ payload, headers }) =>
        execute(
          payload.accountId,
          new Account.OpenAccount({ owner: payload.owner, overdraftLimit: payload.overdraftLimit }, unchecked),
          headers
        )
      )
      .handle("deposit", ({ path, payload, headers }) =>
        execute(path.accountId, new Account.Deposit(payload, unchecked), headers)
      )
      .handle("withdraw", ({ path, payload, headers }) =>
        execute(path.accountId, new Account.Withdraw(payload, unchecked), headers)
      )
      .handle("close", ({ path, headers }) => execute(path.accountId, new Account.CloseAccount(), headers))
      .handle("get", ({ path }) =>
        Effect.gen(function* () {
          const loaded = yield* accounts.load(path.accountId).pipe(Effect.catchAll(ApiErrors.fromLoadError))
          const view = ApiModels.accountView(path.accountId, loaded)
          if (Option.isNone(view)) return yield* notFound(path.accountId)
          yield* ResponseHeaders.etag(loaded.version)
          return view.value
        })
      )
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* waitFor(Projections.Balances.name, Option.fromNullable(urlParams.waitFor))
          const page = yield* AccountList.page({ after: urlParams.after, limit: urlParams.limit ?? defaultLimit }).pipe(
            ApiErrors.fromReadModel("list accounts")
          )
          return { items: page.items, next: Option.getOrNull(page.next) }
        })
      )
      .handle("history", ({ path, urlParams }) =>
        Effect.gen(function* () {
          const current = yield* existing(path.accountId)
          const after = urlParams.after ?? 0
          const limit = urlParams.limit ?? defaultLimit
          // From the entry at `after` itself, when there is one: its state is the one before the page.
          const entries = Chunk.toReadonlyArray(
            yield* accounts
              .history(path.accountId, { fromVersion: Math.max(1, after) })
              .pipe(
                Stream.take(limit + (after > 0 ? 2 : 1)),
                Stream.runCollect,
                Effect.catchAll(ApiErrors.fromLoadError)
              )
          )
          const [first, ...rest] = entries
          const before = after > 0 && first !== undefined ? first.stateAfter : Account.initialState
          const page = after > 0 ? rest : entries
          const items = page.slice(0, limit)
          let state = before
          const views = items.map((entry) => {
            const view = ApiModels.historyEntry(entry, state)
            state = entry.stateAfter
            return view
          })
          const last = items[items.length - 1]
          return {
            accountId: path.accountId,
            version: current.version,
            items: views,
            next: page.length > limit && last !== undefined ? `${last.version}` : null
          }
        })
      )
      .handle("balanceAt", ({ path, urlParams }) =>
        Effect.gen(function* () {
          if (urlParams.at !== undefined && urlParams.version !== undefined) {
            return yield* ApiErrors.badRequest("give either at or version, not both")
          }
          const current = yield* existing(path.accountId)
          const loaded =
            urlParams.at !== undefined
              ? yield* at(path.accountId, { at: urlParams.at })
              : urlParams.version !== undefined
                ? yield* at(path.accountId, { version: urlParams.version })
                : current
          return ApiModels.pastBalance(path.accountId, Option.fromNullable(urlParams.at), loaded)
        })
      )
      .handle("diff", ({ path, urlParams }) =>
        Effect.gen(function* () {
          yield* existing(path.accountId)
          const before = yield* at(path.accountId, { version: urlParams.from })
          const after = yield* at(path.accountId, { version: urlParams.to })
          return {
            accountId: path.accountId,
            from: urlParams.from,
            to: urlParams.to,
            before: ApiModels.stateView(before.state),
            after: ApiModels.stateView(after.state),
            changes: ApiModels.changes(before.state, after.state)
          }
        })
      )
  })
)
