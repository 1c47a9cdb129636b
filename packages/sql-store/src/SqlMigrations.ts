/**
 * The event store's schema migrations, written with the `@effect/sql`
 * Migrator. `SqlEventStore.layer` runs them when it builds (unless told not
 * to); an application can also run them on its own, at startup or from a
 * deployment step.
 *
 * - Running them again is a no-op.
 * - Two processes may run them at once: on PostgreSQL they serialise on a
 *   transaction-scoped advisory lock; on SQLite the migration transaction
 *   takes the write lock first, and the other process waits on its busy
 *   timeout.
 * - With a table prefix, the Migrator's own table is prefixed too
 *   (`<prefix>migrations`), so stores with different prefixes can share one
 *   schema or database file.
 *
 * @since 0.1.0
 */
import { EventStore } from "@chronicle/core"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Either } from "effect"
import { catchSqlDefects, toStoreError } from "./internal/errors.js"
import * as Migrations from "./internal/migrations.js"
import * as Tables from "./internal/tables.js"

/**
 * Options of {@link run}.
 *
 * @example
 * ```ts
 * import { SqlMigrations } from "@chronicle/sql-store"
 *
 * const options: SqlMigrations.RunOptions = { tablePrefix: "bank_" }
 * const migrate = SqlMigrations.run(options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /**
   * Prefix of every table, function and trigger name, and of the migrations
   * table. Lowercase letters, digits and `_`, at most 40 characters. Defaults
   * to `"chronicle_"`.
   */
  readonly tablePrefix?: string | undefined
}

const migrator = Migrator.make({})

/**
 * Brings the event store's tables up to date. Returns the migrations it
 * applied (`[id, name]`), empty when the schema was already current.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqlMigrations } from "@chronicle/sql-store"
 *
 * const program = SqlMigrations.run({ tablePrefix: "bank_" }).pipe(
 *   Effect.tap((applied) => Effect.log(`applied ${applied.length} migrations`)),
 *   Effect.provide(SqliteClient.layer({ filename: "bank.db" }))
 * )
 * ```
 * @since 0.1.0
 * @category migrations
 */
export const run: (
  options?: RunOptions
) => Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, EventStore.StoreError, SqlClient.SqlClient> =
  Effect.fn("Chronicle.SqlMigrations.run")(
    function* (options?: RunOptions) {
      const tables = yield* Either.match(Tables.make(options?.tablePrefix), {
        onLeft: (reason) => Effect.fail(new EventStore.StoreError({ operation: "migrate", reason, cause: null })),
        onRight: Effect.succeed
      })
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      const migrate = migrator({
        loader: Migrator.fromRecord(Migrations.record(sql, tables)),
        table: tables.migrations
      }).pipe(Effect.provideService(SqlClient.SqlClient, sql))
      const createMigrationsTable = (type: { readonly timestamp: string; readonly now: string }) =>
        sql.unsafe(`CREATE TABLE IF NOT EXISTS "${tables.migrations}" (
          migration_id integer PRIMARY KEY NOT NULL,
          created_at ${type.timestamp} NOT NULL DEFAULT ${type.now},
          name text NOT NULL
        )`)
      return yield* sql.onDialectOrElse({
        // The advisory lock serialises concurrent runs; the Migrator's own
        // table exists before it looks (its catch-and-create would abort the
        // transaction on PostgreSQL).
        pg: () =>
          sql.withTransaction(
            Effect.gen(function* () {
              const key = `chronicle.migrations:${tables.prefix}`
              yield* sql`SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || ${key}, 0))`
              yield* createMigrationsTable({ timestamp: "timestamptz", now: "now()" })
              return yield* migrate
            })
          ),
        // A no-op DELETE takes SQLite's write lock before anything is read,
        // so a concurrent run waits for this one instead of racing it.
        sqlite: () =>
          Effect.zipRight(
            createMigrationsTable({ timestamp: "datetime", now: "current_timestamp" }),
            sql.withTransaction(
              Effect.zipRight(sql.unsafe(`DELETE FROM "${tables.migrations}" WHERE migration_id < 0`), migrate)
            )
          ),
        orElse: () =>
          Effect.fail(
            new EventStore.StoreError({
              operation: "migrate",
              reason: "Chronicle's SQL event store supports PostgreSQL and SQLite only",
              cause: null
            })
          )
      })
    },
    (effect) =>
      effect.pipe(
        Effect.mapError(toStoreError("migrate")),
        catchSqlDefects("migrate", (defect) => defect instanceof Migrator.MigrationError)
      )
  )
