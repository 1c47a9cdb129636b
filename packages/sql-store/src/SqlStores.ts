/**
 * `SqlStores`: the event store, the snapshot store and the projection store
 * over one `SqlClient`, in one layer, with ONE table prefix and ONE
 * migration run, so that the three can never disagree on their tables.
 * The individual layers (`SqlEventStore.layer`, `SqlSnapshotStore.layer`,
 * `SqlProjectionStore.layer`) remain for apps that need only one of them.
 *
 * @since 0.6.0
 */
import type { Append, EventStore, ProjectionStore, SnapshotStore, StoreError } from "@chronicle/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Config, type ConfigError, Effect, Layer } from "effect"
import * as SqlEventStore from "./SqlEventStore.js"
import * as SqlMigrations from "./SqlMigrations.js"
import * as SqlProjectionStore from "./SqlProjectionStore.js"
import * as SqlSnapshotStore from "./SqlSnapshotStore.js"

/**
 * Options of {@link layer}: the event store's options (its `tablePrefix`
 * and `migrate` apply to all three stores).
 *
 * @example
 * ```ts
 * import { SqlStores } from "@chronicle/sql-store"
 *
 * const options: SqlStores.Options = { tablePrefix: "bank_", pollInterval: "200 millis" }
 * const stores = SqlStores.layer(options)
 * ```
 * @since 0.6.0
 * @category models
 */
export type Options = SqlEventStore.Options

/**
 * {@link Options}, plus the append hook of the event store (inline
 * projections: `InlineProjection.hook([...])`).
 *
 * @example
 * ```ts
 * import type { Append } from "@chronicle/core"
 * import { SqlStores } from "@chronicle/sql-store"
 * import { Effect } from "effect"
 *
 * const logAppends: Append.AppendHook = {
 *   names: ["log appends"],
 *   setup: Effect.void,
 *   apply: (events) => Effect.logDebug(`appended ${events.length} events`)
 * }
 * const options: SqlStores.StoresOptions = { tablePrefix: "bank_", onAppend: logAppends }
 * const stores = SqlStores.layer(options)
 * ```
 * @since 0.6.0
 * @category models
 */
export type StoresOptions<R = never> = SqlEventStore.StoreOptions<R>

/**
 * The three stores one layer provides.
 *
 * @example
 * ```ts
 * import { EventStore, SnapshotStore } from "@chronicle/core"
 * import { SqlStores } from "@chronicle/sql-store"
 * import { Effect } from "effect"
 *
 * // a program that needs all three stores runs on one SqlStores.layer
 * const program: Effect.Effect<void, never, SqlStores.Stores> = Effect.gen(function* () {
 *   const events = yield* EventStore.EventStore
 *   const snapshots = yield* SnapshotStore.SnapshotStore
 *   yield* Effect.log(typeof events.append, typeof snapshots)
 * })
 * ```
 * @since 0.6.0
 * @category models
 */
export type Stores = EventStore.EventStore | SnapshotStore.SnapshotStore | ProjectionStore.ProjectionStore

const build = <R>(
  options: StoresOptions<R> | undefined
): Layer.Layer<Stores, StoreError.StoreError, SqlClient.SqlClient | R> => {
  const shared = { tablePrefix: options?.tablePrefix, migrate: false }
  const stores = Layer.mergeAll(
    SqlEventStore.layer<R>({ ...options, migrate: false }),
    SqlSnapshotStore.layer(shared),
    SqlProjectionStore.layer(shared)
  )
  if (options?.migrate === false) return stores
  // one migration run, before any store is built
  const migrated = Layer.effectDiscard(SqlMigrations.run({ tablePrefix: options?.tablePrefix }))
  return Layer.provide(stores, migrated)
}

/**
 * The event, snapshot and projection stores over the `SqlClient` in the
 * context (PostgreSQL or SQLite), sharing one `tablePrefix`; the migrations
 * run once when the layer builds, unless `migrate: false`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqlStores } from "@chronicle/sql-store"
 *
 * const stores = SqlStores.layer({ tablePrefix: "bank_" }).pipe(
 *   Layer.provide(SqliteClient.layer({ filename: "bank.db" }))
 * )
 * ```
 * @since 0.6.0
 * @category layers
 */
export function layer(options?: Options): Layer.Layer<Stores, StoreError.StoreError, SqlClient.SqlClient>
export function layer<R>(options: StoresOptions<R>): Layer.Layer<Stores, StoreError.StoreError, SqlClient.SqlClient | R>
export function layer<R>(
  options?: StoresOptions<R>
): Layer.Layer<Stores, StoreError.StoreError, SqlClient.SqlClient | R> {
  return build(options)
}

/**
 * {@link layer} with its options read from `Config`; the append hook, not
 * being configuration, is given apart.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { SqlStores } from "@chronicle/sql-store"
 *
 * const stores = SqlStores.layerConfig({
 *   tablePrefix: Config.string("TABLE_PREFIX").pipe(Config.withDefault("chronicle_"))
 * })
 * ```
 * @since 0.6.0
 * @category layers
 */
export const layerConfig = <R = never>(
  config: Config.Config.Wrap<Options>,
  hooks?: { readonly onAppend?: Append.AppendHook<R> | undefined }
): Layer.Layer<Stores, StoreError.StoreError | ConfigError.ConfigError, SqlClient.SqlClient | R> =>
  Layer.unwrapEffect(
    Effect.map(Config.unwrap(config), (options) => build<R>({ ...options, onAppend: hooks?.onAppend }))
  )
