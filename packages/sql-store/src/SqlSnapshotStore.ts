/**
 * The `SnapshotStore` over `@effect/sql`, for PostgreSQL and SQLite: the same
 * service as `SnapshotStore.layerMemory`, kept in a `<prefix>snapshots` table that
 * the store's migrations create.
 *
 * - One row per stream and version; saving again at the same version
 *   replaces it.
 * - `load` picks the newest snapshot within all bounds (version, global
 *   position, recorded time) in SQL.
 * - The state is stored as JSON, with its state schema version: the
 *   `Repository` ignores a snapshot whose version differs or whose state
 *   does not decode, and rebuilds from events.
 * - Background saves run in fibers owned by the layer's scope.
 *
 * @since 0.1.0
 */
import { Position, SnapshotStore, StoreError, StreamId } from "@chronicle/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import { DateTime, Effect, Layer, Option, Schema } from "effect"
import { catchSqlDefects, toStoreError } from "./internal/errors.js"
import { prepare } from "./internal/setup.js"
import * as SqlMigrations from "./SqlMigrations.js"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @example
 * ```ts
 * import { SqlSnapshotStore } from "@chronicle/sql-store"
 *
 * const options: SqlSnapshotStore.Options = { tablePrefix: "bank_", migrate: true }
 * const snapshots = SqlSnapshotStore.layer(options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Prefix of the tables (`<prefix>snapshots`, and the migrations table).
   * Use the event store's prefix. Defaults to `"chronicle_"`.
   */
  readonly tablePrefix?: string | undefined
  /** Run {@link SqlMigrations.run} when the store is built. Defaults to `true`. */
  readonly migrate?: boolean | undefined
}

const PgRow = Schema.Struct({
  stream_id: StreamId.StreamId,
  version: Schema.NumberFromString,
  state_version: Schema.Number,
  state: Schema.Unknown,
  position_commit: Schema.BigInt,
  position_sequence: Schema.BigInt,
  recorded_at: Schema.DateTimeUtcFromDate
})

const SqliteRow = Schema.Struct({
  stream_id: StreamId.StreamId,
  version: Schema.Number,
  state_version: Schema.Number,
  state: Schema.parseJson(),
  position_commit: Schema.BigIntFromNumber,
  position_sequence: Schema.BigIntFromNumber,
  recorded_at: Schema.DateTimeUtcFromNumber
})

const decodePg = Schema.decodeUnknown(Schema.Array(PgRow))
const decodeSqlite = Schema.decodeUnknown(Schema.Array(SqliteRow))

const toSnapshot = (row: typeof SqliteRow.Type): SnapshotStore.Snapshot => ({
  streamId: row.stream_id,
  version: row.version,
  stateVersion: row.state_version,
  state: row.state,
  position: Position.make(row.position_commit, row.position_sequence),
  recordedAt: row.recorded_at
})

/**
 * Builds the snapshot store's `load` and `save` over the `SqlClient` in the
 * context (running the migrations first unless `migrate: false`), with
 * background saving in the current scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { StreamId } from "@chronicle/core"
 * import { SqlSnapshotStore } from "@chronicle/sql-store"
 *
 * const newest = Effect.gen(function* () {
 *   const snapshots = yield* SqlSnapshotStore.make()
 *   return yield* snapshots.load(StreamId.forAggregate("Account", "a-1"))
 * }).pipe(Effect.scoped, Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("Chronicle.SqlSnapshotStore.make")(function* (options?: Options) {
  const { tables, sql, dialect } = yield* prepare("snapshot store", options)
  const table = sql(tables.snapshotsName)

  const load = Effect.fn("Chronicle.SqlSnapshotStore.load")(
    function* (streamId: StreamId.StreamId, bounds?: SnapshotStore.Bounds) {
      const conditions = [sql`stream_id = ${streamId}`]
      if (bounds?.maxVersion !== undefined) {
        // A NaN bound admits nothing, like the in-memory store.
        if (Number.isNaN(bounds.maxVersion)) return Option.none()
        const maxVersion = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(bounds.maxVersion))
        if (maxVersion < 0) return Option.none()
        conditions.push(sql`version <= ${maxVersion}`)
      }
      if (bounds?.maxPosition !== undefined) {
        const { commit, sequence } = bounds.maxPosition
        conditions.push(
          dialect === "pg"
            ? sql`(position_commit, position_sequence) <= (${commit.toString()}::numeric, ${sequence.toString()}::numeric)`
            : sql`(position_commit, position_sequence) <= (${commit}, ${sequence})`
        )
      }
      if (bounds?.maxRecordedAt !== undefined) {
        const millis = DateTime.toEpochMillis(bounds.maxRecordedAt)
        conditions.push(
          dialect === "pg"
            ? sql`recorded_at <= ${new Date(millis).toISOString()}::timestamptz`
            : sql`recorded_at <= ${millis}`
        )
      }
      if (dialect === "pg") {
        // bigint columns arrive as text; ORDER BY sorts on the column itself.
        const rows = yield* sql`SELECT stream_id, version, state_version, state,
            position_commit, position_sequence, recorded_at
          FROM ${table} WHERE ${sql.and(conditions)} ORDER BY version DESC LIMIT 1`
        return Option.map(Option.fromNullable((yield* decodePg(rows))[0]), toSnapshot)
      }
      const rows =
        yield* sql`SELECT stream_id, version, state_version, state, position_commit, position_sequence, recorded_at
        FROM ${table} WHERE ${sql.and(conditions)} ORDER BY version DESC LIMIT 1`
      return Option.map(Option.fromNullable((yield* decodeSqlite(rows))[0]), toSnapshot)
    },
    (effect) => effect.pipe(Effect.mapError(toStoreError("snapshot load")), catchSqlDefects("snapshot load"))
  )

  const save = Effect.fn("Chronicle.SqlSnapshotStore.save")(
    function* (snapshot: SnapshotStore.Snapshot) {
      const invalid = (reason: string) =>
        StoreError.make({
          operation: "snapshot save",
          reason: "internal",
          detail: `snapshot of ${snapshot.streamId}@${snapshot.version}: ${reason}`
        })
      if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 0) {
        return yield* invalid("the version must be a non-negative integer")
      }
      const state = yield* Effect.try({
        try: () => JSON.stringify(snapshot.state),
        catch: (error) => invalid(`the state is not JSON-serialisable: ${String(error)}`)
      })
      // JSON.stringify returns undefined for undefined and functions.
      if (typeof state !== "string") return yield* invalid("the state is not JSON-serialisable")
      const { commit, sequence } = snapshot.position
      const recordedAt = DateTime.toEpochMillis(snapshot.recordedAt)
      if (dialect === "pg") {
        yield* sql`INSERT INTO ${table}
            (stream_id, version, state_version, state, position_commit, position_sequence, recorded_at)
          VALUES (${snapshot.streamId}, ${snapshot.version}, ${snapshot.stateVersion}, ${state}::json,
            ${commit.toString()}::bigint, ${sequence.toString()}::bigint, ${new Date(recordedAt).toISOString()}::timestamptz)
          ON CONFLICT (stream_id, version) DO UPDATE SET
            state_version = excluded.state_version, state = excluded.state,
            position_commit = excluded.position_commit, position_sequence = excluded.position_sequence,
            recorded_at = excluded.recorded_at, created_at = now()`
        return
      }
      yield* sql`INSERT INTO ${table}
          (stream_id, version, state_version, state, position_commit, position_sequence, recorded_at)
        VALUES (${snapshot.streamId}, ${snapshot.version}, ${snapshot.stateVersion}, ${state},
          ${commit}, ${sequence}, ${recordedAt})
        ON CONFLICT (stream_id, version) DO UPDATE SET
          state_version = excluded.state_version, state = excluded.state,
          position_commit = excluded.position_commit, position_sequence = excluded.position_sequence,
          recorded_at = excluded.recorded_at, created_at = excluded.created_at`
    },
    (effect) => effect.pipe(Effect.mapError(toStoreError("snapshot save")), catchSqlDefects("snapshot save"))
  )

  return yield* SnapshotStore.make({ load, save })
})

/**
 * The `SnapshotStore` layer over the `SqlClient` in the context (PostgreSQL
 * or SQLite). Runs the migrations when it builds unless `migrate: false`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqlEventStore, SqlSnapshotStore } from "@chronicle/sql-store"
 *
 * const stores = Layer.merge(SqlEventStore.layer(), SqlSnapshotStore.layer()).pipe(
 *   Layer.provide(SqliteClient.layer({ filename: "bank.db" }))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<SnapshotStore.SnapshotStore, StoreError.StoreError, SqlClient.SqlClient> =>
  Layer.scoped(SnapshotStore.SnapshotStore, make(options))
