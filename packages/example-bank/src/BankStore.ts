/**
 * Where the bank keeps its events: the one place that chooses the store.
 *
 * - `DATABASE_URL` set: PostgreSQL at that URL;
 * - otherwise a SQLite file: `BANK_DB` if set, else `.chronicle/bank.db`
 *   under the directory the command was run from (`INIT_CWD`, set by pnpm,
 *   or the current directory). The folder is created on first use;
 * - `BANK_DB=:memory:` keeps everything in memory for one run.
 *
 * Each store comes with a snapshot store and a projection store over the
 * same `SqlClient` (the SQL ones keep snapshots, checkpoints and leases in
 * tables next to the events), so that a short-lived CLI process reads an
 * account from its newest snapshot rather than from its first event, and a
 * projection's read-model writes commit with its checkpoint in one
 * transaction. In memory, the same stores run on an in-memory SQLite
 * database, so the SQL read models work there too.
 *
 * @since 0.1.0
 */

import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import type { EventStore, ProjectionStore, Snapshot } from "@chronicle/core"
import { SqlEventStore, SqlProjectionStore, SqlSnapshotStore } from "@chronicle/sql-store"
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Config, Effect, Layer, Option, Redacted, Schema } from "effect"

/**
 * The store the bank will use, read from the environment.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const choice: BankStore.StoreChoice = { _tag: "Sqlite", filename: "/tmp/bank.db" }
 * ```
 * @since 0.1.0
 * @category models
 */
export type StoreChoice =
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }
  | { readonly _tag: "Sqlite"; readonly filename: string }
  | { readonly _tag: "Memory" }

/**
 * The default SQLite file, relative to the directory the bank runs from.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSqliteFile = ".chronicle/bank.db"

/**
 * Reads the store choice from the environment (`DATABASE_URL`, `BANK_DB`,
 * `INIT_CWD`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const describe = BankStore.choose.pipe(Effect.map(BankStore.describe))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const choose: Effect.Effect<StoreChoice, BankStoreError> = Effect.gen(function* () {
  const databaseUrl = yield* Config.option(Config.redacted("DATABASE_URL"))
  const bankDb = yield* Config.option(Config.nonEmptyString("BANK_DB"))
  const initCwd = yield* Config.option(Config.nonEmptyString("INIT_CWD"))
  if (Option.isSome(databaseUrl) && Redacted.value(databaseUrl.value).length > 0) {
    return { _tag: "Postgres", url: databaseUrl.value } as const
  }
  const base = Option.getOrElse(initCwd, () => process.cwd())
  if (Option.isSome(bankDb)) {
    return bankDb.value === ":memory:"
      ? ({ _tag: "Memory" } as const)
      : ({ _tag: "Sqlite", filename: NodePath.resolve(base, bankDb.value) } as const)
  }
  return { _tag: "Sqlite", filename: NodePath.resolve(base, defaultSqliteFile) } as const
}).pipe(Effect.mapError((error) => new BankStoreError({ reason: `invalid configuration: ${error.message}` })))

/**
 * Describes a store for humans, without secrets: the password in a
 * PostgreSQL URL is hidden.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * BankStore.describe({ _tag: "Sqlite", filename: "/tmp/bank.db" }) // "SQLite file /tmp/bank.db"
 * ```
 * @since 0.1.0
 * @category rendering
 */
export const describe = (choice: StoreChoice): string => {
  switch (choice._tag) {
    case "Postgres":
      return `PostgreSQL ${hidePassword(Redacted.value(choice.url))}`
    case "Sqlite":
      return `SQLite file ${choice.filename}`
    case "Memory":
      return "in memory (nothing is kept after this run)"
  }
}

const hidePassword = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(unparseable DATABASE_URL)"
  }
}

/**
 * The store could not be configured or opened.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * new BankStore.BankStoreError({ reason: "cannot create /readonly/.chronicle" }).message
 * ```
 * @since 0.1.0
 * @category errors
 */
export class BankStoreError extends Schema.TaggedError<BankStoreError>()("BankStoreError", {
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot open the bank's store: ${this.reason}`
  }
}

/**
 * The services a store choice provides: the event store, a snapshot store
 * and a projection store of the same kind, and the `SqlClient` they share
 * (which the read models write through).
 *
 * @since 0.2.0
 * @category models
 */
export type Stores =
  | EventStore.EventStore
  | Snapshot.SnapshotStore
  | ProjectionStore.ProjectionStore
  | SqlClient.SqlClient

/**
 * The SQL stores over one client, which they also expose: the event store
 * runs every migration (events, snapshots, projections, …) when it builds, so
 * the other stores run none.
 */
const sqlStores = <E>(client: Layer.Layer<SqlClient.SqlClient, E>) =>
  Layer.mergeAll(
    SqlEventStore.layer(),
    SqlSnapshotStore.layer({ migrate: false }),
    SqlProjectionStore.layer({ migrate: false })
  ).pipe(Layer.provideMerge(client))

/**
 * The `EventStore`, `SnapshotStore`, `ProjectionStore` and `SqlClient` layer
 * for a store choice. The stores run their migrations when the layer builds,
 * so tables exist on first use; the SQLite file's folder is created if
 * needed. `Memory` is SQLite in memory: gone when the layer is released.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const head = EventStore.EventStore.pipe(
 *   Effect.flatMap((store) => store.head),
 *   Effect.provide(BankStore.layer({ _tag: "Memory" }))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (choice: StoreChoice): Layer.Layer<Stores, BankStoreError> => {
  switch (choice._tag) {
    case "Postgres":
      return sqlStores(PgClient.layer({ url: choice.url, maxConnections: 4 })).pipe(
        Layer.mapError((error) => new BankStoreError({ reason: error.message }))
      )
    case "Sqlite":
      return Layer.unwrapEffect(
        Effect.as(createFolderOf(choice.filename), sqlStores(SqliteClient.layer({ filename: choice.filename })))
      ).pipe(
        Layer.mapError((error) =>
          error instanceof BankStoreError ? error : new BankStoreError({ reason: error.message })
        )
      )
    case "Memory":
      return sqlStores(SqliteClient.layer({ filename: ":memory:" })).pipe(
        Layer.mapError((error) => new BankStoreError({ reason: error.message }))
      )
  }
}

const createFolderOf = (filename: string): Effect.Effect<void, BankStoreError> =>
  Effect.tryPromise({
    try: () => NodeFs.mkdir(NodePath.dirname(filename), { recursive: true }),
    catch: (cause) =>
      new BankStoreError({
        reason: `cannot create the folder of ${filename}: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })
