/**
 * The shapes the bank's HTTP API speaks, as Schemas: request bodies, query
 * parameters, command headers and response bodies. The OpenAPI document is
 * generated from them (see `BankApi`), and the handlers build their answers
 * with the helpers here, from Chronicle's own types (recorded events,
 * positions, projection status).
 *
 * On the wire:
 * - a position is its text form (`Position.encode`: `"<commit>/<sequence>"`,
 *   or a bare sequence number when the commit is 0, as on SQLite; the older
 *   `"<commit>:<sequence>"` is still read);
 * - an instant is ISO-8601 UTC;
 * - money is integer cents;
 * - an account's state is `{ _tag: "Unopened" | "Open" | "Closed", owner,
 *   overdraftLimit, balance }` (what `Account.AccountStateSchema` encodes).
 *
 * @since 0.5.0
 */
import { type Event, Position, type ProjectionAdmin, type Repository, TimeTravel } from "@chronicle/core"
import { type DateTime, Option, ParseResult, Schema } from "effect"
import * as Account from "../Account.js"
import * as Money from "../Money.js"

// ---------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------

/**
 * A position in the global order, as text: `"<commit>/<sequence>"`, or a
 * bare sequence number (commit 0); the older `"<commit>:<sequence>"` is
 * still read. Decodes to a `Position`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.PositionParam)("42") // Position { commit: 0n, sequence: 42n }
 * ```
 * @since 0.5.0
 * @category scalars
 */
export const PositionParam: Schema.Schema<Position.Position, string> = Position.FromString.annotations({
  identifier: "Position",
  description:
    'a position in the global order: "<commit>/<sequence>" (e.g. "28629/3"), or a bare sequence number (e.g. "42")',
  message: (issue) => ({
    message: `a position is "<commit>/<sequence>" or a sequence number, e.g. "28629/3" or "42" (got ${JSON.stringify(issue.actual)})`,
    override: true
  })
})

/**
 * A position as the API returns it (its text form).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.PositionText)("42") // "42"
 * ```
 * @since 0.5.0
 * @category scalars
 */
export const PositionText = Schema.String.annotations({
  identifier: "PositionText",
  description: 'a position in the global order: "<commit>/<sequence>", or "<sequence>" when the commit is 0',
  examples: ["42", "28629/3"]
})

/**
 * The text form of a position.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * ApiModels.positionText(Position.make(0n, 42n)) // "42"
 * ```
 * @since 0.5.0
 * @category scalars
 */
export const positionText = (position: Position.Position): string => Position.encode(position)

const optionalPosition = (position: Option.Option<Position.Position>): string | null =>
  Option.match(position, { onNone: () => null, onSome: positionText })

/** Digits only in a query string, so "1e3", "0x10" and "1.5" are refused before they become numbers. */
const intParam = (name: string, min: number, max: number) =>
  Schema.compose(
    Schema.String.pipe(Schema.pattern(/^[0-9]{1,15}$/)),
    Schema.compose(Schema.NumberFromString, Schema.Int.pipe(Schema.between(min, max)))
  ).annotations({
    identifier: `${name}Param`,
    description: `a whole number from ${min} to ${max}`,
    message: (issue) => ({
      message: `${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(issue.actual)})`,
      override: true
    })
  })

/**
 * The largest page the list endpoints return.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.Limit)(String(ApiModels.maxPageSize)) // 500
 * Schema.decodeUnknownEither(ApiModels.Limit)("501") // Either.left: more than maxPageSize
 * ```
 * @since 0.5.0
 * @category pagination
 */
export const maxPageSize = 500

/**
 * The query parameter `limit`: 1 to {@link maxPageSize} (default 50).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.Limit)("20") // 20
 * Schema.decodeUnknownEither(ApiModels.Limit)("1e3") // Either.left: digits only
 * ```
 * @since 0.5.0
 * @category pagination
 */
export const Limit = intParam("limit", 1, maxPageSize)

/**
 * A stream version in a query string: 0 (before the first event) or more.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.VersionParam)("3") // 3
 * ```
 * @since 0.5.0
 * @category scalars
 */
export const VersionParam = intParam("version", 0, Number.MAX_SAFE_INTEGER)

/**
 * An instant in a query string: ISO-8601 with a zone, or a date (midnight
 * UTC).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.InstantParam)("2025-03-01T12:00:00Z")
 * ```
 * @since 0.5.0
 * @category scalars
 */
export const InstantParam: Schema.Schema<DateTime.Utc, string> = Schema.DateTimeUtc.annotations({
  identifier: "Instant",
  description: "an ISO-8601 instant, e.g. 2025-03-01T12:00:00Z",
  message: (issue) => ({
    message: `an instant is ISO-8601, e.g. 2025-03-01T12:00:00Z (got ${JSON.stringify(issue.actual)})`,
    override: true
  })
})

/**
 * A category of streams (`Account`, …): the part of a stream id before its
 * first `-`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.Category)("Account") // "Account"
 * ```
 * @since 0.5.0
 * @category scalars
 */
export const Category = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.]{1,100}$/, {
    message: () => "a category is 1 to 100 letters, digits, '_' or '.'"
  })
).annotations({ identifier: "CategoryName" })

// ---------------------------------------------------------------------------
// Command headers
// ---------------------------------------------------------------------------

/**
 * An `Idempotency-Key`: the command id. The same key on the same account
 * records the command once; a repeat answers with the first result and
 * `duplicate: true`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.IdempotencyKey)("payment-2025-0042")
 * ```
 * @since 0.5.0
 * @category headers
 */
export const IdempotencyKey = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)).annotations({
  identifier: "IdempotencyKey",
  description: "the command id: 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
  message: (issue) => ({
    message: `Idempotency-Key must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit (got ${JSON.stringify(issue.actual)})`,
    override: true
  })
})

/**
 * `If-Match`: the account version the client last saw, as a number or an
 * entity tag (`3`, `"3"` or `W/"3"`, as the `ETag` of
 * `GET /api/accounts/{accountId}` gives it). A command then runs only if the
 * account is still at that version; otherwise it answers 409 with the
 * actual version.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.IfMatch)('"3"') // 3
 * ```
 * @since 0.5.0
 * @category headers
 */
export const IfMatch: Schema.Schema<number, string> = Schema.transformOrFail(Schema.String, Schema.NonNegativeInt, {
  strict: true,
  decode: (text, _, ast) => {
    const version = /^\s*(?:W\/)?"?([0-9]{1,15})"?\s*$/.exec(text)?.[1]
    return version === undefined
      ? ParseResult.fail(
          new ParseResult.Type(
            ast,
            text,
            `If-Match must be the account version the client last saw, e.g. "3" (got ${JSON.stringify(text)})`
          )
        )
      : ParseResult.succeed(Number(version))
  },
  encode: (version) => ParseResult.succeed(`"${version}"`)
}).annotations({
  identifier: "IfMatch",
  description: 'the account version the client last saw: 3, "3" or W/"3" (the ETag of GET /api/accounts/{accountId})'
})

/**
 * A correlation id as `X-Correlation-Id` takes it: 1 to 128 letters,
 * digits, `.`, `_`, `:`, `/` or `-`. A request without one gets a new UUID;
 * either way the response echoes it, and every event a command records
 * carries it as its `correlationId`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.CorrelationId)("checkout-42/step-1")
 * ```
 * @since 0.5.0
 * @category headers
 */
export const CorrelationId = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/)).annotations({
  identifier: "CorrelationId",
  description: "1 to 128 letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit",
  message: (issue) => ({
    message: `X-Correlation-Id must be 1 to 128 letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit (got ${JSON.stringify(issue.actual)})`,
    override: true
  })
})

/**
 * The headers a command takes (names in lower case, as HTTP/1.1 servers
 * see them; they match in any case).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.CommandHeaders)({ "idempotency-key": "pay-1", "if-match": '"3"' })
 * // { "idempotency-key": "pay-1", "if-match": 3 }
 * ```
 * @since 0.5.0
 * @category headers
 */
export const CommandHeaders = Schema.Struct({
  "idempotency-key": Schema.optionalWith(IdempotencyKey, { exact: true }),
  "if-match": Schema.optionalWith(IfMatch, { exact: true }),
  "x-correlation-id": Schema.optionalWith(CorrelationId, { exact: true })
})

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

/**
 * The body of `POST /api/accounts`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.OpenAccountBody)({ accountId: "alice", owner: "Alice" })
 * // { accountId: "alice", owner: "Alice", overdraftLimit: 0 }
 * ```
 * @since 0.5.0
 * @category requests
 */
export const OpenAccountBody = Schema.Struct({
  accountId: Account.AccountId,
  owner: Account.Owner,
  overdraftLimit: Schema.optionalWith(Money.NonNegativeCents, { default: () => 0 })
}).annotations({ identifier: "OpenAccountBody" })

/**
 * The body of `POST /api/accounts/{accountId}/deposits`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.DepositBody)({ amount: 1250 }) // { amount: 1250, currency: "EUR" }
 * ```
 * @since 0.5.0
 * @category requests
 */
export const DepositBody = Schema.Struct({
  amount: Money.Cents,
  currency: Schema.optionalWith(Money.Currency, { default: () => Money.defaultCurrency })
}).annotations({ identifier: "DepositBody" })

/**
 * The body of `POST /api/accounts/{accountId}/withdrawals`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.WithdrawBody)({ amount: 500 })
 * ```
 * @since 0.5.0
 * @category requests
 */
export const WithdrawBody = Schema.Struct({ amount: Money.Cents }).annotations({ identifier: "WithdrawBody" })

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

/**
 * An account's state as the API shows it: what `Account.AccountStateSchema`
 * encodes.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.AccountStateView)({ _tag: "Open", owner: "Ada", overdraftLimit: 0, balance: 5 })
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const AccountStateView = Schema.Union(
  Schema.TaggedStruct("Unopened", {}),
  Schema.TaggedStruct("Open", { owner: Schema.String, overdraftLimit: Schema.Int, balance: Schema.Int }),
  Schema.TaggedStruct("Closed", { owner: Schema.String, overdraftLimit: Schema.Int, balance: Schema.Int })
).annotations({ identifier: "AccountState" })

/**
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const balanceOf = (view: ApiModels.AccountStateView): number => (view._tag === "Unopened" ? 0 : view.balance)
 * balanceOf(ApiModels.stateView(Account.AccountState.Open({ owner: "Ada", overdraftLimit: 0, balance: 5 }))) // 5
 * ```
 * @since 0.5.0
 * @category accounts
 */
export type AccountStateView = typeof AccountStateView.Type

const encodeState = Schema.encodeSync(Account.AccountStateSchema)

/**
 * The API form of an account state.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * ApiModels.stateView(Account.AccountState.Open({ owner: "Ada", overdraftLimit: 0, balance: 5 }))
 * // { _tag: "Open", owner: "Ada", overdraftLimit: 0, balance: 5 }
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const stateView = (state: Account.AccountState): AccountStateView => encodeState(state)

/**
 * One account now: `GET /api/accounts/{accountId}` (its `ETag` is the
 * version).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const account = Schema.decodeUnknownSync(ApiModels.AccountView)({
 *   accountId: "alice",
 *   owner: "Alice",
 *   status: "open",
 *   balance: 500,
 *   overdraftLimit: 0,
 *   currency: "EUR",
 *   version: 2,
 *   position: "7"
 * })
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const AccountView = Schema.Struct({
  accountId: Schema.String,
  owner: Schema.String,
  status: Schema.Literal("open", "closed"),
  balance: Schema.Int,
  overdraftLimit: Schema.Int,
  currency: Money.Currency,
  /** How many events the account has: pass it back as `If-Match`. */
  version: Schema.Int,
  /** The position of the account's last event. */
  position: Schema.NullOr(PositionText)
}).annotations({ identifier: "Account" })

/**
 * The API form of an account that exists (none for one never opened).
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Account } from "@chronicle/example-bank"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * ApiModels.accountView("alice", {
 *   state: Account.AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 500 }),
 *   version: 2,
 *   position: Option.none()
 * }) // Option.some({ accountId: "alice", status: "open", balance: 500, … })
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const accountView = (
  accountId: string,
  loaded: Repository.LoadResult<Account.AccountState>
): Option.Option<typeof AccountView.Type> => {
  const state = loaded.state
  if (state._tag === "Unopened") return Option.none()
  return Option.some({
    accountId,
    owner: state.owner,
    status: state._tag === "Open" ? "open" : "closed",
    balance: state.balance,
    overdraftLimit: state.overdraftLimit,
    currency: Account.accountCurrency,
    version: loaded.version,
    position: optionalPosition(loaded.position)
  })
}

/**
 * What a command did: the events it recorded (none new when `duplicate`),
 * the state and version after it, and the position to pass as `waitFor` to
 * a read model for read-your-writes.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.CommandResult)
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const CommandResult = Schema.Struct({
  accountId: Schema.String,
  commandId: Schema.String,
  correlationId: Schema.String,
  /** `true` when this `Idempotency-Key` had been used on the account: nothing new was written. */
  duplicate: Schema.Boolean,
  version: Schema.Int,
  /** The position of the last event recorded; null when nothing was appended. */
  position: Schema.NullOr(PositionText),
  state: AccountStateView,
  balance: Schema.Int,
  events: Schema.Array(Account.AccountEvent)
}).annotations({ identifier: "CommandResult" })

/**
 * The API form of a command's result.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Repository } from "@chronicle/core"
 * import { Account } from "@chronicle/example-bank"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const opened = Effect.gen(function* () {
 *   const accounts = yield* Repository.make(Account.Account)
 *   const result = yield* accounts.execute("alice", new Account.OpenAccount({ owner: "Alice", overdraftLimit: 0 }))
 *   return ApiModels.commandResult("alice", result)
 * })
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const commandResult = (
  accountId: string,
  result: Repository.ExecuteResult<Account.AccountState, Account.AccountEvent>
): typeof CommandResult.Type => ({
  accountId,
  commandId: result.commandId,
  correlationId: result.correlationId,
  duplicate: result.duplicate,
  version: result.version,
  position: optionalPosition(result.position),
  state: stateView(result.state),
  balance: Account.balanceOf(result.state),
  events: result.events
})

/**
 * One row of the balances read model: `GET /api/accounts`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.AccountSummary)({
 *   accountId: "alice",
 *   owner: "Alice",
 *   status: "open",
 *   balance: 500,
 *   overdraftLimit: 0,
 *   lastVersion: 2
 * })
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const AccountSummary = Schema.Struct({
  accountId: Schema.String,
  owner: Schema.String,
  status: Schema.Literal("open", "closed"),
  balance: Schema.Int,
  overdraftLimit: Schema.Int,
  /** The version of the account's last event the read model applied. */
  lastVersion: Schema.Int
}).annotations({ identifier: "AccountSummary" })

/**
 * A page of a list: `next` is the cursor to pass as `after` for the next
 * page, null on the last.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const Names = ApiModels.Page(Schema.String, "NamesPage")
 * ```
 * @since 0.5.0
 * @category pagination
 */
export const Page = <A, I>(item: Schema.Schema<A, I>, identifier: string) =>
  Schema.Struct({
    items: Schema.Array(item),
    next: Schema.NullOr(Schema.String)
  }).annotations({ identifier })

/**
 * A page of the balances read model.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.AccountsPage)({ items: [], next: null })
 * ```
 * @since 0.5.0
 * @category accounts
 */
export const AccountsPage = Page(AccountSummary, "AccountsPage")

/**
 * One field that an event changed in the state: its path, and its value
 * before and after (absent when the field did not exist).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.ChangeView)({ path: "balance", before: 0, after: 500 })
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const ChangeView = Schema.Struct({
  path: Schema.String,
  before: Schema.optional(Schema.Unknown),
  after: Schema.optional(Schema.Unknown)
}).annotations({ identifier: "Change" })

/**
 * The changes from one state to another, through `TimeTravel.diff` on
 * their API forms.
 *
 * @example
 * ```ts
 * import { Account } from "@chronicle/example-bank"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const open = Account.AccountState.Open({ owner: "Ada", overdraftLimit: 0, balance: 5 })
 * ApiModels.changes(open, Account.AccountState.Open({ owner: "Ada", overdraftLimit: 0, balance: 7 }))
 * // [{ path: "balance", before: 5, after: 7 }]
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const changes = (
  before: Account.AccountState,
  after: Account.AccountState
): ReadonlyArray<typeof ChangeView.Type> =>
  TimeTravel.diff(stateView(before), stateView(after)).map((change) => ({
    path: change.path,
    ...(change.before === undefined ? {} : { before: change.before }),
    ...(change.after === undefined ? {} : { after: change.after })
  }))

/**
 * One step of an account's history: the event with its metadata, the state
 * after it, and what it changed.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.HistoryEntryView)
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const HistoryEntryView = Schema.Struct({
  version: Schema.Int,
  position: PositionText,
  eventId: Schema.String,
  type: Schema.String,
  /** The schema version the event was stored with (before upcasting). */
  schemaVersion: Schema.Int,
  recordedAt: Schema.DateTimeUtc,
  correlationId: Schema.String,
  causationId: Schema.NullOr(Schema.String),
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  event: Account.AccountEvent,
  stateAfter: AccountStateView,
  balanceAfter: Schema.Int,
  changes: Schema.Array(ChangeView)
}).annotations({ identifier: "HistoryEntry" })

/**
 * The API form of a history entry, given the state before it.
 *
 * @example
 * ```ts
 * import { Chunk, Effect, Stream } from "effect"
 * import { Repository } from "@chronicle/core"
 * import { Account } from "@chronicle/example-bank"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const first = Effect.gen(function* () {
 *   const accounts = yield* Repository.make(Account.Account)
 *   const entries = yield* Stream.runCollect(accounts.history("alice"))
 *   return Chunk.toReadonlyArray(entries).slice(0, 1).map((entry) => ApiModels.historyEntry(entry, Account.initialState))
 * })
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const historyEntry = (
  entry: TimeTravel.HistoryEntry<Account.AccountState, Account.AccountEvent>,
  before: Account.AccountState
): typeof HistoryEntryView.Type => ({
  version: entry.version,
  position: positionText(entry.position),
  eventId: entry.eventId,
  type: entry.type,
  schemaVersion: entry.schemaVersion,
  recordedAt: entry.recordedAt,
  correlationId: entry.metadata.correlationId,
  causationId: entry.metadata.causationId,
  metadata: entry.metadata.user,
  event: entry.event,
  stateAfter: stateView(entry.stateAfter),
  balanceAfter: Account.balanceOf(entry.stateAfter),
  changes: changes(before, entry.stateAfter)
})

/**
 * A page of an account's history: `next` is the version to pass as
 * `after`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.HistoryPage)({ accountId: "alice", version: 0, items: [], next: null })
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const HistoryPage = Schema.Struct({
  accountId: Schema.String,
  /** The account's version now. */
  version: Schema.Int,
  items: Schema.Array(HistoryEntryView),
  next: Schema.NullOr(Schema.String)
}).annotations({ identifier: "HistoryPage" })

/**
 * An account as it was at a point in its past (`GET
 * /api/accounts/{accountId}/balance?at=…` or `?version=…`): before it was
 * opened, the state is `Unopened` and the version 0.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.PastBalanceView)({
 *   accountId: "alice",
 *   at: null,
 *   version: 0,
 *   position: null,
 *   state: { _tag: "Unopened" },
 *   balance: 0
 * })
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const PastBalanceView = Schema.Struct({
  accountId: Schema.String,
  at: Schema.NullOr(Schema.DateTimeUtc),
  /** How many events the account had then. */
  version: Schema.Int,
  position: Schema.NullOr(PositionText),
  state: AccountStateView,
  balance: Schema.Int
}).annotations({ identifier: "PastBalance" })

/**
 * The API form of a past state.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Account } from "@chronicle/example-bank"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * ApiModels.pastBalance("alice", Option.none(), { state: Account.initialState, version: 0, position: Option.none() })
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const pastBalance = (
  accountId: string,
  at: Option.Option<DateTime.Utc>,
  loaded: Repository.LoadResult<Account.AccountState>
): typeof PastBalanceView.Type => ({
  accountId,
  at: Option.getOrNull(at),
  version: loaded.version,
  position: optionalPosition(loaded.position),
  state: stateView(loaded.state),
  balance: Account.balanceOf(loaded.state)
})

/**
 * What changed between two versions of an account.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.DiffView)
 * ```
 * @since 0.5.0
 * @category time travel
 */
export const DiffView = Schema.Struct({
  accountId: Schema.String,
  from: Schema.Int,
  to: Schema.Int,
  before: AccountStateView,
  after: AccountStateView,
  changes: Schema.Array(ChangeView)
}).annotations({ identifier: "Diff" })

// ---------------------------------------------------------------------------
// Streams and the global feed
// ---------------------------------------------------------------------------

/**
 * A stored event as the store holds it: every metadata field and the JSON
 * payload in its stored shape (an old schema version is not upcast here).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.StoredEventView)
 * ```
 * @since 0.5.0
 * @category streams
 */
export const StoredEventView = Schema.Struct({
  streamId: Schema.String,
  version: Schema.Int,
  position: PositionText,
  eventId: Schema.String,
  type: Schema.String,
  schemaVersion: Schema.Int,
  recordedAt: Schema.DateTimeUtc,
  correlationId: Schema.String,
  causationId: Schema.NullOr(Schema.String),
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  data: Schema.Unknown,
  /** Set only on a row the store could not read as stored: what is wrong with it. */
  corrupt: Schema.optional(Schema.String)
}).annotations({ identifier: "StoredEvent" })

/**
 * The API form of a stored event.
 *
 * @example
 * ```ts
 * import { Chunk, Effect, Stream } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const firstTen = Effect.map(Stream.runCollect(EventStore.readAll({ limit: 10 })), (events) =>
 *   Chunk.toReadonlyArray(events).map(ApiModels.storedEvent)
 * )
 * ```
 * @since 0.5.0
 * @category streams
 */
export const storedEvent = (event: Event.StoredEvent): typeof StoredEventView.Type => ({
  streamId: event.streamId,
  version: event.version,
  position: positionText(event.position),
  eventId: event.eventId,
  type: event.type,
  schemaVersion: event.schemaVersion,
  recordedAt: event.recordedAt,
  correlationId: event.metadata.correlationId,
  causationId: event.metadata.causationId,
  metadata: event.metadata.user,
  data: event.data,
  ...(event.corrupt === undefined ? {} : { corrupt: event.corrupt })
})

/**
 * One category of streams, with how many streams and events it holds (from
 * the stream catalog read model).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.CategoryView)({ category: "Account", streams: 3, events: 12 })
 * ```
 * @since 0.5.0
 * @category streams
 */
export const CategoryView = Schema.Struct({
  category: Schema.String,
  streams: Schema.Int,
  events: Schema.Int
}).annotations({ identifier: "Category" })

/**
 * Every category: `GET /api/categories`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.CategoriesView)({ items: [{ category: "Account", streams: 3, events: 12 }] })
 * ```
 * @since 0.5.0
 * @category streams
 */
export const CategoriesView = Schema.Struct({ items: Schema.Array(CategoryView) }).annotations({
  identifier: "Categories"
})

/**
 * One stream in the catalog: its version and last event.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.StreamSummary)
 * ```
 * @since 0.5.0
 * @category streams
 */
export const StreamSummary = Schema.Struct({
  streamId: Schema.String,
  category: Schema.String,
  version: Schema.Int,
  lastType: Schema.String,
  lastPosition: PositionText,
  lastRecordedAt: Schema.DateTimeUtc
}).annotations({ identifier: "StreamSummary" })

/**
 * A page of the stream catalog: `GET /api/streams`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.StreamsPage)({ items: [], next: null })
 * ```
 * @since 0.5.0
 * @category streams
 */
export const StreamsPage = Page(StreamSummary, "StreamsPage")

/**
 * A page of one stream's events: `next` is the version to pass as `after`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.StreamPage)({ streamId: "Account-alice", version: 0, items: [], next: null })
 * ```
 * @since 0.5.0
 * @category streams
 */
export const StreamPage = Schema.Struct({
  streamId: Schema.String,
  /** The stream's version now. */
  version: Schema.Int,
  items: Schema.Array(StoredEventView),
  next: Schema.NullOr(Schema.String)
}).annotations({ identifier: "StreamPage" })

/**
 * A page of the global feed: `next` is the position to pass as `after`
 * (null once the page reached the head), `head` the newest position a
 * reader can see now.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.FeedPage)({ items: [], next: null, head: "0" })
 * ```
 * @since 0.5.0
 * @category streams
 */
export const FeedPage = Schema.Struct({
  items: Schema.Array(StoredEventView),
  next: Schema.NullOr(PositionText),
  head: PositionText
}).annotations({ identifier: "FeedPage" })

// ---------------------------------------------------------------------------
// Projections
// ---------------------------------------------------------------------------

/**
 * A rebuild started through the API, and how far it got.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.RebuildView)
 * ```
 * @since 0.5.0
 * @category projections
 */
export const RebuildView = Schema.Struct({
  projection: Schema.String,
  status: Schema.Literal("running", "done", "failed"),
  /** Events processed so far. */
  processed: Schema.Int,
  /** Events still to process (a lower bound while `lagExact` is false). */
  lag: Schema.Int,
  lagExact: Schema.Boolean,
  checkpoint: Schema.NullOr(PositionText),
  startedAt: Schema.DateTimeUtc,
  finishedAt: Schema.NullOr(Schema.DateTimeUtc),
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "Rebuild" })

/**
 * @example
 * ```ts
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const progress = (rebuild: ApiModels.RebuildView): string =>
 *   rebuild.status === "failed"
 *     ? `${rebuild.projection} failed: ${rebuild.error ?? "unknown"}`
 *     : `${rebuild.projection}: ${rebuild.processed} processed, ${rebuild.lag}${rebuild.lagExact ? "" : "+"} to go`
 * ```
 * @since 0.5.0
 * @category projections
 */
export type RebuildView = typeof RebuildView.Type

/**
 * One projection version: its state, checkpoint and lag (events it still
 * has to process), and the last rebuild started here.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.ProjectionView)
 * ```
 * @since 0.5.0
 * @category projections
 */
export const ProjectionView = Schema.Struct({
  name: Schema.String,
  version: Schema.Int,
  active: Schema.Boolean,
  state: Schema.String,
  checkpoint: Schema.NullOr(PositionText),
  lag: Schema.Int,
  /** `false` when `lag` is a lower bound. */
  lagExact: Schema.Boolean,
  error: Schema.NullOr(Schema.String),
  parked: Schema.Int,
  updatedAt: Schema.NullOr(Schema.DateTimeUtc),
  rebuild: Schema.NullOr(RebuildView)
}).annotations({ identifier: "Projection" })

/**
 * The API form of a projection's status.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const views = Effect.map(ProjectionAdmin.status(), (lines) => lines.map((line) => ApiModels.projectionView(line, Option.none())))
 * ```
 * @since 0.5.0
 * @category projections
 */
export const projectionView = (
  status: Omit<ProjectionAdmin.Status, "state"> & { readonly state: string },
  rebuild: Option.Option<RebuildView>
): typeof ProjectionView.Type => ({
  name: status.name,
  version: status.version,
  active: status.active,
  state: status.state,
  checkpoint: optionalPosition(status.checkpoint),
  lag: status.lag,
  lagExact: status.lagExact ?? true,
  error: Option.getOrNull(status.error),
  parked: status.parked,
  updatedAt: status.updatedAt ?? null,
  rebuild: Option.getOrNull(rebuild)
})

/**
 * Every projection: `GET /api/projections`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * Schema.decodeUnknownSync(ApiModels.ProjectionsView)({ items: [] })
 * ```
 * @since 0.5.0
 * @category projections
 */
export const ProjectionsView = Schema.Struct({ items: Schema.Array(ProjectionView) }).annotations({
  identifier: "Projections"
})

// ---------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------

/**
 * `GET /api/health`: whether the store answers, whether the global feed is
 * held back (and by what), and each projection's lag. `status` is `ok`,
 * `degraded` (the feed is held back, or a projection failed or is behind),
 * or `down` (the store does not answer: the response is then a 503).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const encode = Schema.encodeSync(ApiModels.HealthView)
 * ```
 * @since 0.5.0
 * @category health
 */
export const HealthView = Schema.Struct({
  status: Schema.Literal("ok", "degraded", "down"),
  store: Schema.Struct({
    reachable: Schema.Boolean,
    head: Schema.NullOr(PositionText),
    error: Schema.NullOr(Schema.String)
  }),
  feed: Schema.NullOr(
    Schema.Struct({
      current: Schema.Boolean,
      hiddenEvents: Schema.Int,
      heldBackForMillis: Schema.Number,
      message: Schema.String
    })
  ),
  projections: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      version: Schema.Int,
      state: Schema.String,
      lag: Schema.Int,
      lagExact: Schema.Boolean,
      parked: Schema.Int
    })
  ),
  /** Clients following the live feed (server-sent events) now. */
  liveClients: Schema.Int,
  checkedAt: Schema.DateTimeUtc
}).annotations({ identifier: "Health" })

/**
 * @example
 * ```ts
 * import { ApiModels } from "@chronicle/example-bank/http"
 *
 * const alert = (health: ApiModels.HealthView): string | undefined =>
 *   health.status === "ok"
 *     ? undefined
 *     : `${health.status}: ${health.projections.filter((p) => p.lag > 0).map((p) => p.name).join(", ") || "store or feed"}`
 * ```
 * @since 0.5.0
 * @category health
 */
export type HealthView = typeof HealthView.Type
