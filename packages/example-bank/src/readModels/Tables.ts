/**
 * What the bank's read models share: the handler error type, the naming of
 * their tables (one set per projection version, `bank_<base>_v<version>`)
 * and the table lifecycle (`setup` creates, `reset` empties, `teardown`
 * drops), and the decoding of integer columns.
 *
 * @since 0.6.0
 */
import type { ProjectionStore } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, type ParseResult, Schema } from "effect"
import * as Account from "../Account.js"

/**
 * What a bank projection's handler may fail with: a SQL error, or a row of
 * its own table that does not decode.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const rows = Projections.accounts.pipe(
 *   Effect.catchAll((error: Projections.HandlerError) =>
 *     Effect.as(Effect.logWarning(`balances unreadable: ${error._tag}`), [])
 *   )
 * )
 * ```
 * @since 0.3.0
 * @category models
 */
export type HandlerError = SqlError | ParseResult.ParseError

/** The stream category of accounts. */
export const category = Account.Account.name

/** The account id of an `Account-<id>` stream. */
export const accountIdOf = (streamId: string): string =>
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
export const readModelTables = (
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

/** pg returns BIGINT columns (and COUNT, SUM) as strings, SQLite as numbers. */
export const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)
