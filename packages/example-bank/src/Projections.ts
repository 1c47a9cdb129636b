/**
 * The bank's read models: the query side of CQRS. Commands write events
 * (`Bank`); these projections read the `Account` events in global order and
 * keep three SQL tables up to date, through the `SqlClient`:
 *
 * - {@link Balances} (`balances`): one row per account: owner, overdraft
 *   limit, balance, status (open or closed) and the last version applied;
 * - {@link Statements} (`statements`): one row per account event (the same
 *   rows as `pnpm bank history`): version, time, type, signed amount, and
 *   the balance after it;
 * - {@link DailyTotals} (`daily-totals`): one row per UTC day, bank-wide:
 *   deposits, withdrawals, net and the number of transactions.
 *
 * Each table is named after its projection's version (`bank_balances_v1`, …),
 * created in `setup`, emptied in `reset` (for a rebuild) and dropped in
 * `teardown`, so a new version can be built beside the old one.
 *
 * With `SqlProjectionStore` the handler's writes and the checkpoint advance
 * commit in one transaction. The handlers are idempotent all the same, so a
 * batch applied twice changes nothing: balances and statements skip events
 * at or below the version they already hold for the account, and daily
 * totals count an event only when its id enters the projection's ledger of
 * counted events. The bank runs them with the `stop` failure policy: a
 * running balance depends on the order of events, so an event must not be
 * parked and applied later out of order.
 *
 * Every projection reads through the `Account` aggregate's codec, so
 * deposits stored as `MoneyDeposited` v1 by older releases are read as v2.
 *
 * @since 0.3.0
 */
import { EventStore, type Position, Projection, ProjectionAdmin, type ProjectionStore } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DateTime, Effect, Option, type ParseResult, Schema, Stream } from "effect"
import * as Account from "./Account.js"

/**
 * What a bank projection's handler may fail with: a SQL error, or a row of
 * its own table that does not decode.
 *
 * @since 0.3.0
 * @category models
 */
export type HandlerError = SqlError | ParseResult.ParseError

/**
 * A bank projection: it reads some of the account events and writes SQL
 * tables; any of them, whatever events it reads (the registry's type).
 *
 * @since 0.3.0
 * @category models
 */
export type BankProjection = Projection.Any<HandlerError, SqlClient.SqlClient>

const category = Account.Account.name

/** The account id of an `Account-<id>` stream. */
const accountIdOf = (streamId: string): string =>
  streamId.startsWith(`${category}-`) ? streamId.slice(category.length + 1) : streamId

/**
 * The table of a projection version: `bank_<base>_v<version>`.
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * Projections.tableName("balances", 1) // "bank_balances_v1"
 * ```
 * @since 0.3.0
 * @category tables
 */
export const tableName = (base: string, version: number): string => `bank_${base}_v${version}`

/**
 * The lifecycle of a read model's tables, one set per projection version:
 * `setup` creates them, `reset` empties them and `teardown` drops them, in
 * the order given.
 */
const readModelTables = (
  tables: ReadonlyArray<{
    readonly base: string
    readonly create: (sql: SqlClient.SqlClient, table: string) => Effect.Effect<unknown, SqlError>
  }>
) => {
  const each =
    (
      run: (
        sql: SqlClient.SqlClient,
        table: string,
        create: (typeof tables)[number]["create"]
      ) => Effect.Effect<unknown, SqlError>
    ) =>
    (context: ProjectionStore.Key) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.forEach(tables, (t) => run(sql, tableName(t.base, context.version), t.create), { discard: true })
      )
  return {
    setup: each((sql, table, create) => create(sql, table)),
    reset: each((sql, table) => sql`DELETE FROM ${sql(table)}`),
    teardown: each((sql, table) => sql`DROP TABLE IF EXISTS ${sql(table)}`)
  }
}

/** pg returns BIGINT columns as strings, SQLite as numbers. */
const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)

// ---------------------------------------------------------------------------
// Balances
// ---------------------------------------------------------------------------

/**
 * One row of the balances read model.
 *
 * @since 0.3.0
 * @category models
 */
export interface AccountBalance {
  readonly accountId: string
  readonly owner: string
  readonly overdraftLimit: number
  readonly balance: number
  readonly status: "open" | "closed"
  /** The version of the account's last event applied. */
  readonly lastVersion: number
}

const BalanceRow = Schema.Struct({
  account_id: Schema.String,
  owner: Schema.String,
  overdraft_limit: Integer,
  balance: Integer,
  status: Schema.Literal("open", "closed"),
  last_version: Integer
})

const toBalance = (row: typeof BalanceRow.Type): AccountBalance => ({
  accountId: row.account_id,
  owner: row.owner,
  overdraftLimit: row.overdraft_limit,
  balance: row.balance,
  status: row.status,
  lastVersion: row.last_version
})

const stateOf = (row: AccountBalance): Account.AccountState =>
  row.status === "open"
    ? Account.AccountState.Open({ owner: row.owner, overdraftLimit: row.overdraftLimit, balance: row.balance })
    : Account.AccountState.Closed({ owner: row.owner, overdraftLimit: row.overdraftLimit, balance: row.balance })

const balancesTable = "balances"

/**
 * Balances: one row per account, folded with the aggregate's own `evolve`
 * from the row it holds. A batch costs two statements: one SELECT of the
 * batch's accounts and one multi-row upsert.
 *
 * @example
 * ```ts
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 * import { Stream } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const refresh = ProjectionAdmin.catchUp(Projections.Balances).pipe(Stream.runDrain)
 * ```
 * @since 0.3.0
 * @category projections
 */
export const Balances: Projection.Projection<Account.AccountEvent, HandlerError, SqlClient.SqlClient> = Projection.make(
  {
    name: "balances",
    version: 1,
    from: Account.Account,
    categories: [category],
    ...readModelTables([
      {
        base: balancesTable,
        create: (sql, table) => sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
        account_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        overdraft_limit BIGINT NOT NULL,
        balance BIGINT NOT NULL,
        status TEXT NOT NULL,
        last_version INTEGER NOT NULL)`
      }
    ]),
    handleBatch: (events, context) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const table = tableName(balancesTable, context.version)
        const ids = [...new Set(events.map((e) => accountIdOf(e.streamId)))]
        if (ids.length === 0) return
        const rows = yield* sql`SELECT account_id, owner, overdraft_limit, balance, status, last_version
        FROM ${sql(table)} WHERE ${sql.in("account_id", ids)}`
        const current = new Map(
          (yield* Schema.decodeUnknown(Schema.Array(BalanceRow))(rows)).map((row) => [row.account_id, toBalance(row)])
        )
        const changed = new Map<string, AccountBalance>()
        for (const recorded of events) {
          const accountId = accountIdOf(recorded.streamId)
          const before = changed.get(accountId) ?? current.get(accountId)
          // Applied already (a replayed batch): skip.
          if (before !== undefined && recorded.version <= before.lastVersion) continue
          const state = Account.evolve(before === undefined ? Account.initialState : stateOf(before), recorded.event)
          if (state._tag === "Unopened") continue
          changed.set(accountId, {
            accountId,
            owner: state.owner,
            overdraftLimit: state.overdraftLimit,
            balance: state.balance,
            status: state._tag === "Open" ? "open" : "closed",
            lastVersion: recorded.version
          })
        }
        if (changed.size === 0) return
        const values = [...changed.values()].map((row) => ({
          account_id: row.accountId,
          owner: row.owner,
          overdraft_limit: row.overdraftLimit,
          balance: row.balance,
          status: row.status,
          last_version: row.lastVersion
        }))
        yield* sql`INSERT INTO ${sql(table)} ${sql.insert(values)}
        ON CONFLICT (account_id) DO UPDATE SET owner = excluded.owner, overdraft_limit = excluded.overdraft_limit,
          balance = excluded.balance, status = excluded.status, last_version = excluded.last_version`
      })
  }
)

/**
 * Every account in the balances read model (its version in `Balances`), by
 * id. It reads the table as it is: bring it up to date first with
 * `ProjectionAdmin.catchUp(Projections.Balances)` (or run the projection).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const total = Effect.map(Projections.accounts, (rows) => rows.reduce((sum, row) => sum + row.balance, 0))
 * ```
 * @since 0.3.0
 * @category queries
 */
export const accounts: Effect.Effect<ReadonlyArray<AccountBalance>, HandlerError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* Balances.setup(Balances)
    const rows = yield* sql`SELECT account_id, owner, overdraft_limit, balance, status, last_version
      FROM ${sql(tableName(balancesTable, Balances.version))} ORDER BY account_id`
    return (yield* Schema.decodeUnknown(Schema.Array(BalanceRow))(rows)).map(toBalance)
  }
).pipe(Effect.withSpan("Bank.Projections.accounts"))

// ---------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------

/**
 * One row of an account statement: one per account event, like a row of
 * `pnpm bank history`.
 *
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

// ---------------------------------------------------------------------------
// Daily totals
// ---------------------------------------------------------------------------

/**
 * One row of the bank-wide daily totals (days in UTC).
 *
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

// ---------------------------------------------------------------------------
// All of them
// ---------------------------------------------------------------------------

/**
 * The names of the bank's projections, as `pnpm bank rebuild` takes them.
 *
 * @since 0.3.0
 * @category registry
 */
export const names = ["balances", "statements", "daily-totals"] as const

/**
 * The name of one of the bank's projections.
 *
 * @since 0.3.0
 * @category registry
 */
export type Name = (typeof names)[number]

/**
 * The bank's projections, by name: one list, though they read different
 * events (`Projection.Any`).
 *
 * @example
 * ```ts
 * import { ProjectionAdmin } from "@chronicle/core"
 * import { Stream } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const rebuild = (name: Projections.Name) => ProjectionAdmin.rebuild(Projections.byName[name]).pipe(Stream.runLast)
 * ```
 * @since 0.6.0
 * @category registry
 */
export const byName: { readonly [K in Name]: BankProjection } = {
  balances: Balances,
  statements: Statements,
  "daily-totals": DailyTotals
}

/**
 * Brings a projection up to date with the store's current head and reports
 * how many events that took and where it stopped: for short-lived processes
 * (a CLI command) that read a model right after. Waits up to `waitForLease`
 * (default 5 s) while another process holds the projection's lease.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const fresh = Effect.zipRight(Projections.catchUp("balances"), Projections.accounts)
 * ```
 * @since 0.3.0
 * @category running
 */
export const catchUp = Effect.fn("Bank.Projections.catchUp")(function* (
  name: Name,
  options?: { readonly waitForLease?: ProjectionAdmin.CatchUpOptions["waitForLease"] }
) {
  const last = yield* ProjectionAdmin.catchUp(byName[name], {
    waitForLease: options?.waitForLease ?? "5 seconds"
  }).pipe(Stream.runLast)
  const result: { readonly processed: number; readonly checkpoint: Option.Option<Position.Position> } = {
    processed: Option.match(last, { onNone: () => 0, onSome: (progress) => progress.processed }),
    checkpoint: Option.map(last, (progress) => progress.checkpoint)
  }
  return result
})

/**
 * How fresh a read model is for a query (see {@link refresh}): brought up to
 * date now, or being updated by another process and read as it is, with the
 * lag it had.
 *
 * @since 0.4.0
 * @category running
 */
export type Freshness = (
  | {
      readonly _tag: "CaughtUp"
      /** Events processed to catch up. */
      readonly processed: number
      readonly checkpoint: Option.Option<Position.Position>
    }
  | {
      readonly _tag: "UpdatedElsewhere"
      readonly checkpoint: Option.Option<Position.Position>
      /** Events appended after the checkpoint (`ProjectionAdmin.status`'s lag). */
      readonly lag: number
    }
) & {
  /**
   * Whether the global feed was held back when the read model was read
   * (PostgreSQL: a transaction open elsewhere hides newer commits from every
   * reader). When it was, "caught up" only means "caught up with what is
   * readable", and the read model may miss committed events.
   */
  readonly feed: EventStore.FeedStatus
}

/**
 * Gets a read model ready for a query without ever waiting for another
 * process: if the projection's lease is free, it catches up first (as
 * {@link catchUp}); if another process holds it (say, projections running as
 * a service), the read model is read as it is, and the answer says so, with
 * its checkpoint and lag. Only a catch-up needs the lease.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const rows = Effect.zip(Projections.refresh("balances"), Projections.accounts)
 * ```
 * @since 0.4.0
 * @category running
 */
export const refresh = Effect.fn("Bank.Projections.refresh")(function* (name: Name) {
  const read = yield* catchUp(name, { waitForLease: 0 }).pipe(
    Effect.map((caught) => ({ _tag: "CaughtUp" as const, ...caught })),
    Effect.catchTag("ProjectionBusy", () =>
      Effect.map(status, (lines) => {
        const version = byName[name].version
        const line = lines.find((l) => l.name === name && l.version === version)
        return {
          _tag: "UpdatedElsewhere" as const,
          checkpoint: Option.flatMap(Option.fromNullable(line), (l) => l.checkpoint),
          lag: line?.lag ?? 0
        }
      })
    )
  )
  // Asked after reading: a feed held back now was held back during the read too.
  const feed = yield* EventStore.feedStatus
  const fresh: Freshness = { ...read, feed }
  return fresh
})

/**
 * One line of `pnpm bank projections`: a projection version's status as
 * `ProjectionAdmin.status` reports it, or, for a bank projection that no process
 * has run yet on this store, `never run` with the events it would have to
 * read as its lag.
 *
 * @since 0.3.0
 * @category models
 */
export interface StatusLine extends Omit<ProjectionAdmin.Status, "state"> {
  readonly state: ProjectionAdmin.Status["state"] | "never run"
}

/**
 * The status and lag of every projection in the store, plus a `never run`
 * line for each bank projection not registered yet. It does not catch
 * anything up, so it shows the lag that writes leave behind.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const behind = Effect.map(Projections.status, (lines) => lines.filter((line) => line.lag > 0))
 * ```
 * @since 0.3.0
 * @category observability
 */
export const status: Effect.Effect<
  ReadonlyArray<StatusLine>,
  EventStore.StoreError,
  EventStore.EventStore | ProjectionStore.ProjectionStore
> = Effect.gen(function* () {
  const registered: ReadonlyArray<StatusLine> = yield* ProjectionAdmin.status()
  const store = yield* EventStore.EventStore
  const head = yield* store.head
  const missing = yield* Effect.forEach(
    names.filter((name) => !registered.some((line) => line.name === name)),
    (name) =>
      Effect.map(
        Stream.runHead(store.readAll({ ...byName[name].filter, limit: 1, batchSize: 1 })),
        (first): StatusLine => ({
          name,
          version: byName[name].version,
          active: false,
          state: "never run",
          checkpoint: Option.none(),
          lag: Option.isSome(first) ? Number(head.sequence) : 0,
          error: Option.none(),
          parked: 0
        })
      )
  )
  return [...registered, ...missing].sort((a, b) =>
    a.name === b.name ? a.version - b.version : a.name < b.name ? -1 : 1
  )
}).pipe(Effect.withSpan("Bank.Projections.status"))
