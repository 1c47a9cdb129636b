/**
 * The event store's schema migrations, written with the `@effect/sql`
 * Migrator. `SqlEventStore.layer` runs them when it builds (unless told not
 * to); an application can also run them on its own, at startup or from a
 * deployment step.
 *
 * - Running them again is a no-op, and a read-only one: the migration state
 *   is read first, and only pending migrations take a lock (so starting an
 *   application on a SQLite file never waits for another process's write
 *   transaction, and an application role with only `SELECT` on the
 *   migrations table may call it).
 * - Two processes may run them at once: on PostgreSQL they serialise on a
 *   transaction-scoped advisory lock; on SQLite the migration transaction
 *   takes the write lock first, and the other process waits on its busy
 *   timeout.
 * - On PostgreSQL, run them as the role that owns the tables, and run the
 *   application as a role with only the rights it needs ({@link grants}):
 *   then nothing the application does can update, delete or truncate events,
 *   or disable the trigger that refuses it.
 * - With a table prefix, the Migrator's own table is prefixed too
 *   (`<prefix>migrations`), so stores with different prefixes can share one
 *   schema or database file.
 *
 * @since 0.1.0
 */
import { StoreError } from "@chronicle/core"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Either, Schema } from "effect"
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

const LatestRow = Schema.Struct({ id: Schema.NullOr(Schema.Number) })
const decodeLatest = Schema.decodeUnknown(Schema.Array(LatestRow))
const PresentRow = Schema.Struct({ present: Schema.Union(Schema.Boolean, Schema.Number) })
const decodePresent = Schema.decodeUnknown(Schema.Array(PresentRow))

/**
 * Whether every migration is applied, read without a lock or a write: the
 * migrations table exists and records the newest migration (or a newer one,
 * from a newer release).
 */
const upToDate = (sql: SqlClient.SqlClient, tables: Tables.Tables) =>
  Effect.gen(function* () {
    const present = yield* Effect.flatMap(
      sql.onDialectOrElse({
        pg: () => sql`SELECT to_regclass(${`"${tables.migrations}"`}) IS NOT NULL AS present`,
        sqlite: () =>
          sql`SELECT count(*) AS present FROM sqlite_master WHERE type = 'table' AND name = ${tables.migrations}`,
        orElse: () => Effect.succeed([])
      }),
      decodePresent
    )
    const found = present[0]?.present
    if (found !== true && found !== 1) return false
    const latest = yield* Effect.flatMap(
      sql`SELECT max(migration_id) AS id FROM ${sql.literal(`"${tables.migrations}"`)}`,
      decodeLatest
    )
    return (latest[0]?.id ?? 0) >= Migrations.latestId(sql, tables)
  })

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
) => Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StoreError.StoreError, SqlClient.SqlClient> =
  Effect.fn("Chronicle.SqlMigrations.run")(
    function* (options?: RunOptions) {
      const tables = yield* Either.match(Tables.make(options?.tablePrefix), {
        onLeft: (detail) => Effect.fail(StoreError.make({ operation: "migrate", reason: "misconfigured", detail })),
        onRight: Effect.succeed
      })
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      if (yield* upToDate(sql, tables)) return []
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
            StoreError.make({
              operation: "migrate",
              reason: "misconfigured",
              detail: "Chronicle's SQL event store supports PostgreSQL and SQLite only"
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

/**
 * Options of {@link grants} and {@link grant}.
 *
 * @example
 * ```ts
 * import { SqlMigrations } from "@chronicle/sql-store"
 *
 * const options: SqlMigrations.GrantOptions = { role: "bank_app", tablePrefix: "bank_", schema: "bank" }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface GrantOptions {
  /** The application's PostgreSQL role (quoted as an identifier: any name works). */
  readonly role: string
  /** The table prefix, as in {@link RunOptions}. Defaults to `"chronicle_"`. */
  readonly tablePrefix?: string | undefined
  /**
   * The schema that holds the tables. Defaults to `"public"` for
   * {@link grants}, and to the session's current schema for {@link grant}.
   */
  readonly schema?: string | undefined
  /**
   * Also let the role create tables in the schema, for projections whose
   * `setup` creates their own read-model tables (the role then owns those,
   * and only those). Defaults to `false`.
   */
  readonly createTables?: boolean | undefined
}

const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`

const grantError = (detail: string) => StoreError.make({ operation: "grant", reason: "misconfigured", detail })

/**
 * The PostgreSQL `GRANT` statements that give an application role exactly
 * what Chronicle's stores need, and nothing that could change a stored
 * event: `SELECT` and `INSERT` on events (no `UPDATE`, `DELETE`, `TRUNCATE`,
 * and, not being the owner, no `ALTER` or `DROP`, so the trigger cannot be
 * disabled either); `SELECT`, `INSERT`, `UPDATE` on streams and snapshots;
 * `SELECT`, `INSERT`, `UPDATE`, `DELETE` on the projection tables; `SELECT`
 * on the migrations table (for the read-only migration check); `EXECUTE` on
 * the append function (which runs with the caller's rights). Print them
 * for a DBA, or apply them with {@link grant}. Run the migrations as the
 * owner, and build the application's stores with `migrate: false`.
 *
 * For `EventStore.feedStatus` to name a blocking transaction of another
 * role, also `GRANT pg_read_all_stats TO <role>` (optional).
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { SqlMigrations } from "@chronicle/sql-store"
 *
 * const printGrants = SqlMigrations.grants({ role: "bank_app", tablePrefix: "bank_" }).pipe(
 *   Effect.flatMap((statements) => Console.log(statements.map((s) => `${s};`).join("\n")))
 * )
 * ```
 * @since 0.2.0
 * @category roles
 */
export const grants = (options: GrantOptions): Effect.Effect<ReadonlyArray<string>, StoreError.StoreError> =>
  Effect.gen(function* () {
    const tables = yield* Either.match(Tables.make(options.tablePrefix), {
      onLeft: (detail) => Effect.fail(grantError(detail)),
      onRight: Effect.succeed
    })
    if (options.role.length === 0) return yield* grantError("the role name is empty")
    const role = quoteIdentifier(options.role)
    const schema = quoteIdentifier(options.schema ?? "public")
    const table = (quoted: string) => `${schema}.${quoted}`
    return [
      `GRANT USAGE${options.createTables === true ? ", CREATE" : ""} ON SCHEMA ${schema} TO ${role}`,
      `GRANT SELECT, INSERT ON ${table(tables.events)} TO ${role}`,
      `GRANT SELECT, INSERT, UPDATE ON ${table(tables.streams)}, ${table(tables.snapshots)} TO ${role}`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ${table(tables.projections)}, ${table(tables.parked)} TO ${role}`,
      `GRANT SELECT ON ${table(`"${tables.migrations}"`)} TO ${role}`,
      `GRANT EXECUTE ON FUNCTION ${table(`"${tables.appendName}"`)}(text, text, bigint, uuid[], text[], int4[], text[], json, timestamptz, boolean) TO ${role}`
    ]
  })

const CurrentSchemaRow = Schema.Struct({ schema: Schema.String })

/**
 * Applies {@link grants} on PostgreSQL, in one transaction, as the role of
 * the `SqlClient` in the context (the tables' owner, typically the role
 * that ran the migrations). Returns the statements it ran. The role must
 * exist already.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { PgClient } from "@effect/sql-pg"
 * import { SqlMigrations } from "@chronicle/sql-store"
 *
 * // as the owner, at deployment
 * const deploy = Effect.gen(function* () {
 *   yield* SqlMigrations.run({ tablePrefix: "bank_" })
 *   yield* SqlMigrations.grant({ role: "bank_app", tablePrefix: "bank_" })
 * }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make("postgres://owner@db/bank") })))
 * ```
 * @since 0.2.0
 * @category roles
 */
export const grant: (
  options: GrantOptions
) => Effect.Effect<ReadonlyArray<string>, StoreError.StoreError, SqlClient.SqlClient> = Effect.fn(
  "Chronicle.SqlMigrations.grant"
)(
  function* (options: GrantOptions) {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const schema = yield* sql.onDialectOrElse({
      pg: () =>
        options.schema !== undefined
          ? Effect.succeed(options.schema)
          : Effect.map(
              Effect.flatMap(
                sql`SELECT current_schema() AS schema`,
                Schema.decodeUnknown(Schema.Array(CurrentSchemaRow))
              ),
              (rows) => rows[0]?.schema ?? "public"
            ),
      orElse: () => Effect.fail(grantError("roles and grants exist on PostgreSQL only (SQLite has no access control)"))
    })
    const statements = yield* grants({ ...options, schema })
    yield* sql.withTransaction(Effect.forEach(statements, (statement) => sql.unsafe(statement), { discard: true }))
    return statements
  },
  (effect) => effect.pipe(Effect.mapError(toStoreError("grant")), catchSqlDefects("grant"))
)
