/**
 * What every SQL store does when it is built: check the table prefix, run the
 * migrations unless told not to, and find out the dialect.
 *
 * @internal
 */
import { StoreError } from "@chronicle/core"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Either } from "effect"
import * as SqlMigrations from "../SqlMigrations.js"
import * as Tables from "./tables.js"

/** A store that cannot be configured as asked (with what made it so, when there is one). @internal */
export const configError = (reason: string, cause?: unknown): StoreError.StoreError =>
  StoreError.make({ operation: "configure", reason: "misconfigured", detail: reason, cause })

/** The tables, the client (without name transforms) and the dialect of a store. @internal */
export const prepare = (
  store: string,
  options: { readonly tablePrefix?: string | undefined; readonly migrate?: boolean | undefined } | undefined
) =>
  Effect.gen(function* () {
    const tables = yield* Either.match(Tables.make(options?.tablePrefix), {
      onLeft: (reason) => Effect.fail(configError(reason)),
      onRight: Effect.succeed
    })
    if (options?.migrate !== false) yield* SqlMigrations.run({ tablePrefix: tables.prefix })
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const dialect = yield* sql.onDialectOrElse({
      pg: () => Effect.succeed("pg" as const),
      sqlite: () => Effect.succeed("sqlite" as const),
      orElse: () => Effect.fail(configError(`Chronicle's SQL ${store} supports PostgreSQL and SQLite only`))
    })
    return { tables, sql, dialect }
  })
