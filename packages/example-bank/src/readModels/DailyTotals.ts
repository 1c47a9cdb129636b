/**
 * The daily totals read model: one row per UTC day, bank-wide (deposits,
 * withdrawals, net, transactions), idempotent through a ledger of counted
 * event ids, and its query `dailyTotals`.
 *
 * @since 0.6.0
 */
import { Projection } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Schema } from "effect"
import * as Account from "../Account.js"
import { category, type HandlerError, Integer, readModelTables, tableName } from "./Tables.js"

/**
 * One row of the bank-wide daily totals (days in UTC).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Money, Projections } from "@chronicle/example-bank"
 *
 * const line = (total: Projections.DailyTotal) => `${total.day}: net ${Money.formatSigned(total.net)} in ${total.transactions} transactions`
 * const report = Effect.map(Projections.dailyTotals, (days) => days.map(line))
 * ```
 * @since 0.3.0
 * @category models
 */
export interface DailyTotal {
  /** `YYYY-MM-DD`, in UTC. */
  readonly day: string
  readonly deposits: number
  readonly withdrawals: number
  /** Deposits minus withdrawals. */
  readonly net: number
  /** Deposits and withdrawals counted that day. */
  readonly transactions: number
}

const TotalRow = Schema.Struct({
  day: Schema.String,
  deposits: Integer,
  withdrawals: Integer,
  net: Integer,
  transactions: Integer
})

/**
 * The UTC day of an instant, `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * import { DateTime } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * Projections.dayOf(DateTime.unsafeMake("2025-03-01T23:30:00-02:00")) // "2025-03-02"
 * ```
 * @since 0.3.0
 * @category models
 */
export const dayOf = (instant: DateTime.DateTime): string => DateTime.formatIso(DateTime.toUtc(instant)).slice(0, 10)

const totalsTable = "daily_totals"
const ledgerTable = "daily_totals_counted"

/** Only the events that move money; the aggregate's upcaster reads v1 deposits. */

const RowsOfIds = Schema.Array(Schema.Struct({ event_id: Schema.String }))

/**
 * Daily totals: one row per UTC day of deposits, withdrawals, net and
 * count, over every account. It reads only `MoneyDeposited` and
 * `MoneyWithdrawn`. An event counts only when its id enters the ledger
 * table `bank_daily_totals_counted_v<n>` (`ON CONFLICT DO NOTHING
 * RETURNING`), so a batch applied twice, or a parked event replayed later,
 * is counted exactly once.
 *
 * @example
 * ```ts
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 * import { Stream } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const refresh = ProjectionAdmin.catchUp(Projections.DailyTotals).pipe(Stream.runDrain)
 * ```
 * @since 0.3.0
 * @category projections
 */
export const DailyTotals: Projection.Projection<
  Account.MoneyDeposited | Account.MoneyWithdrawn,
  HandlerError,
  SqlClient.SqlClient
> = Projection.make({
  name: "daily-totals",
  version: 1,
  from: Account.Account,
  events: ["MoneyDeposited", "MoneyWithdrawn"],
  categories: [category],
  ...readModelTables([
    {
      base: totalsTable,
      create: (sql, table) => sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
        day TEXT PRIMARY KEY,
        deposits BIGINT NOT NULL,
        withdrawals BIGINT NOT NULL,
        net BIGINT NOT NULL,
        transactions BIGINT NOT NULL)`
    },
    {
      base: ledgerTable,
      create: (sql, table) => sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
        event_id TEXT PRIMARY KEY,
        day TEXT NOT NULL)`
    }
  ]),
  handleBatch: (events, context) =>
    Effect.gen(function* () {
      if (events.length === 0) return
      const sql = yield* SqlClient.SqlClient
      const totals = sql(tableName(totalsTable, context.version))
      const byId = new Map(events.map((recorded) => [recorded.eventId, recorded]))
      const inserted = yield* sql`INSERT INTO ${sql(tableName(ledgerTable, context.version))}
        ${sql.insert(events.map((recorded) => ({ event_id: recorded.eventId, day: dayOf(recorded.recordedAt) })))}
        ON CONFLICT (event_id) DO NOTHING RETURNING event_id`
      const days = new Map<string, { deposits: number; withdrawals: number; transactions: number }>()
      for (const { event_id } of yield* Schema.decodeUnknown(RowsOfIds)(inserted)) {
        const recorded = byId.get(event_id)
        if (recorded === undefined) continue
        const day = dayOf(recorded.recordedAt)
        const total = days.get(day) ?? { deposits: 0, withdrawals: 0, transactions: 0 }
        if (recorded.event._tag === "MoneyDeposited") total.deposits += recorded.event.amount
        else total.withdrawals += recorded.event.amount
        total.transactions += 1
        days.set(day, total)
      }
      if (days.size === 0) return
      const values = [...days.entries()].map(([day, t]) => ({
        day,
        deposits: t.deposits,
        withdrawals: t.withdrawals,
        net: t.deposits - t.withdrawals,
        transactions: t.transactions
      }))
      yield* sql`INSERT INTO ${totals} ${sql.insert(values)}
        ON CONFLICT (day) DO UPDATE SET deposits = ${totals}.deposits + excluded.deposits,
          withdrawals = ${totals}.withdrawals + excluded.withdrawals, net = ${totals}.net + excluded.net,
          transactions = ${totals}.transactions + excluded.transactions`
    })
})

/**
 * The bank-wide daily totals from their read model, oldest day first.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const busiest = Effect.map(Projections.dailyTotals, (days) => [...days].sort((a, b) => b.transactions - a.transactions)[0])
 * ```
 * @since 0.3.0
 * @category queries
 */
export const dailyTotals: Effect.Effect<ReadonlyArray<DailyTotal>, HandlerError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* DailyTotals.setup(DailyTotals)
    const rows = yield* sql`SELECT day, deposits, withdrawals, net, transactions
      FROM ${sql(tableName(totalsTable, DailyTotals.version))} ORDER BY day`
    const totals: ReadonlyArray<DailyTotal> = yield* Schema.decodeUnknown(Schema.Array(TotalRow))(rows)
    return totals
  }
).pipe(Effect.withSpan("Bank.Projections.dailyTotals"))
