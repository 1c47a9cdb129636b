/**
 * The balances read model: one row per account (owner, overdraft limit,
 * balance, status, last version applied), folded with the aggregate's own
 * `evolve`, and its query `accounts`.
 *
 * @since 0.6.0
 */
import { Projection } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { Effect, type ParseResult, Schema } from "effect"
import * as Account from "../Account.js"
import { accountIdOf, category, type HandlerError, Integer, readModelTables, tableName } from "./Tables.js"

/**
 * One row of the balances read model.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Money, Projections } from "@chronicle/example-bank"
 *
 * const overdrawn = Effect.map(Projections.accounts, (rows: ReadonlyArray<Projections.AccountBalance>) =>
 *   rows.filter((row) => row.status === "open" && row.balance < 0).map((row) => `${row.owner}: ${Money.format(row.balance)}`)
 * )
 * ```
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

/**
 * Rows of the balances table (`SELECT account_id, owner, overdraft_limit,
 * balance, status, last_version`), as balances: every query of the read
 * model decodes its rows with it.
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * const none = Projections.decodeBalances([])
 * ```
 * @since 0.6.0
 * @category queries
 */
export const decodeBalances = (rows: unknown): Effect.Effect<ReadonlyArray<AccountBalance>, ParseResult.ParseError> =>
  Effect.map(Schema.decodeUnknown(Schema.Array(BalanceRow))(rows), (decoded) => decoded.map(toBalance))

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
        const current = new Map((yield* decodeBalances(rows)).map((row) => [row.accountId, row]))
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
    return yield* decodeBalances(rows)
  }
).pipe(Effect.withSpan("Bank.Projections.accounts"))
