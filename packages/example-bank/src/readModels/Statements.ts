/**
 * The statements read model: one row per account event (version, time,
 * type, signed amount, balance after it), and its query `statement`.
 *
 * @since 0.6.0
 */
import { Projection } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Schema } from "effect"
import * as Account from "../Account.js"
import { accountIdOf, category, type HandlerError, Integer, readModelTables, tableName } from "./Tables.js"

/**
 * One row of an account statement: one per account event, like a row of
 * `pnpm bank history`.
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import { Money, Projections } from "@chronicle/example-bank"
 *
 * const line = (entry: Projections.StatementLine) =>
 *   `${DateTime.formatIso(entry.recordedAt)} ${entry.type} ${Money.formatSigned(entry.amount)}${entry.reason === undefined ? "" : ` (${entry.reason})`}`
 * const lines = Effect.map(Projections.statement("alice"), (entries) => entries.map(line))
 * ```
 * @since 0.3.0
 * @category models
 */
export interface StatementLine {
  readonly accountId: string
  readonly version: number
  readonly eventId: string
  readonly recordedAt: DateTime.Utc
  readonly type: Account.AccountEvent["_tag"]
  /** Signed cents: positive for a deposit, negative for a withdrawal, 0 otherwise. */
  readonly amount: number
  readonly balanceAfter: number
  /** Why money moved, when not a plain deposit or withdrawal: a transfer, a refund. */
  readonly reason?: Account.DepositReason | Account.WithdrawalReason | undefined
}

const StatementRow = Schema.Struct({
  account_id: Schema.String,
  version: Integer,
  event_id: Schema.String,
  recorded_at: Schema.DateTimeUtc,
  type: Schema.Literal("AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "AccountClosed"),
  amount: Integer,
  balance_after: Integer,
  reason: Schema.NullOr(Schema.Union(Account.DepositReason, Account.WithdrawalReason))
})

const toLine = (row: typeof StatementRow.Type): StatementLine => ({
  accountId: row.account_id,
  version: row.version,
  eventId: row.event_id,
  recordedAt: row.recorded_at,
  type: row.type,
  amount: row.amount,
  balanceAfter: row.balance_after,
  ...(row.reason === null ? {} : { reason: row.reason })
})

const LastRow = Schema.Struct({ account_id: Schema.String, version: Integer, balance_after: Integer })

/**
 * The signed amount an event moves: positive for a deposit, negative for a
 * withdrawal, 0 for the others.
 *
 * @example
 * ```ts
 * import { Account, Projections } from "@chronicle/example-bank"
 *
 * Projections.signedAmount(new Account.MoneyWithdrawn({ amount: 200 })) // -200
 * ```
 * @since 0.3.0
 * @category models
 */
export const signedAmount = (event: Account.AccountEvent): number =>
  event._tag === "MoneyDeposited" ? event.amount : event._tag === "MoneyWithdrawn" ? -event.amount : 0

const statementsTable = "statements"

/**
 * Statements: one row per account event, keyed by account and version (an
 * event applied twice is not inserted twice). The balance after each event
 * continues from the account's last row. Version 2 (0.5.0) adds why money
 * moved (a transfer, a refund); it is built beside version 1 and replaces
 * it once caught up.
 *
 * @example
 * ```ts
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 * import { Stream } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const rebuild = ProjectionAdmin.rebuild(Projections.Statements).pipe(Stream.runLast)
 * ```
 * @since 0.3.0
 * @category projections
 */
export const Statements: Projection.Projection<Account.AccountEvent, HandlerError, SqlClient.SqlClient> =
  Projection.make({
    name: "statements",
    version: 2,
    from: Account.Account,
    categories: [category],
    ...readModelTables([
      {
        base: statementsTable,
        create: (sql, table) => sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
        account_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        type TEXT NOT NULL,
        amount BIGINT NOT NULL,
        balance_after BIGINT NOT NULL,
        reason TEXT,
        PRIMARY KEY (account_id, version))`
      }
    ]),
    handleBatch: (events, context) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const table = sql(tableName(statementsTable, context.version))
        const ids = [...new Set(events.map((e) => accountIdOf(e.streamId)))]
        if (ids.length === 0) return
        const lastRows = yield* sql`SELECT s.account_id, s.version, s.balance_after FROM ${table} s
        WHERE ${sql.in("s.account_id", ids)}
          AND s.version = (SELECT MAX(m.version) FROM ${table} m WHERE m.account_id = s.account_id)`
        const last = new Map(
          (yield* Schema.decodeUnknown(Schema.Array(LastRow))(lastRows)).map((row) => [
            row.account_id,
            { version: row.version, balance: row.balance_after }
          ])
        )
        const values: Array<Record<string, string | number | null>> = []
        for (const recorded of events) {
          const accountId = accountIdOf(recorded.streamId)
          const before = last.get(accountId)
          if (before !== undefined && recorded.version <= before.version) continue
          const amount = signedAmount(recorded.event)
          const balance = (before?.balance ?? 0) + amount
          last.set(accountId, { version: recorded.version, balance })
          values.push({
            account_id: accountId,
            version: recorded.version,
            event_id: recorded.eventId,
            recorded_at: DateTime.formatIso(recorded.recordedAt),
            type: recorded.event._tag,
            amount,
            balance_after: balance,
            reason:
              recorded.event._tag === "MoneyDeposited" || recorded.event._tag === "MoneyWithdrawn"
                ? (recorded.event.reason ?? null)
                : null
          })
        }
        if (values.length === 0) return
        yield* sql`INSERT INTO ${table} ${sql.insert(values)} ON CONFLICT (account_id, version) DO NOTHING`
      })
  })

/**
 * The statement of one account from its read model, oldest first (empty for
 * an account the model does not know).
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * const lines = Projections.statement("alice")
 * ```
 * @since 0.3.0
 * @category queries
 */
export const statement = Effect.fn("Bank.Projections.statement")(function* (accountId: string) {
  const sql = yield* SqlClient.SqlClient
  yield* Statements.setup(Statements)
  const rows = yield* sql`SELECT account_id, version, event_id, recorded_at, type, amount, balance_after, reason
    FROM ${sql(tableName(statementsTable, Statements.version))} WHERE account_id = ${accountId} ORDER BY version`
  const lines: ReadonlyArray<StatementLine> = (yield* Schema.decodeUnknown(Schema.Array(StatementRow))(rows)).map(
    toLine
  )
  return lines
})
