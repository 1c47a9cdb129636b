/**
 * The list of accounts for `GET /api/accounts`: the balances read model
 * (`Projections.Balances`), one page at a time by account id (keyset
 * pagination: a page starts after the last id of the previous one, so rows
 * added meanwhile never shift a page).
 *
 * @since 0.5.0
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import * as Projections from "../Projections.js"

/**
 * A page of the balances read model: at most `limit` accounts with an id
 * after `after`, by id, and the id to continue after when there are more.
 *
 * @example
 * ```ts
 * import { AccountList } from "@chronicle/example-bank/http"
 *
 * const firstPage = AccountList.page({ limit: 50 })
 * ```
 * @since 0.5.0
 * @category queries
 */
export const page = Effect.fn("Bank.AccountList.page")(function* (options: {
  readonly after?: string | undefined
  readonly limit: number
}) {
  const sql = yield* SqlClient.SqlClient
  yield* Projections.Balances.setup(Projections.Balances)
  const rows = yield* sql`SELECT account_id, owner, overdraft_limit, balance, status, last_version
    FROM ${sql(Projections.tableName("balances", Projections.Balances.version))}
    WHERE account_id > ${options.after ?? ""} ORDER BY account_id LIMIT ${options.limit + 1}`
  const decoded = yield* Projections.decodeBalances(rows)
  const items = decoded.slice(0, options.limit)
  const next = decoded.length > options.limit ? Option.fromNullable(items[items.length - 1]?.accountId) : Option.none()
  return { items, next }
})
