/**
 * The `ProjectionStore` over `@effect/sql`, for PostgreSQL and SQLite: where
 * projections keep their checkpoints, status, active version, leases and
 * parked events, in tables the store's migrations create
 * (`<prefix>projections` and `<prefix>projection_parked`).
 *
 * - `transaction` is a database transaction on the same `SqlClient` that a
 *   SQL read model's handler uses, so the handler's writes and the checkpoint
 *   advance commit together, or roll back together (exactly-once in effect).
 *   Batches are therefore atomic (`atomicBatches: true`).
 * - Leases live in the projection's row, with their expiry computed by the
 *   database clock, so every process (on PostgreSQL, every machine) judges
 *   them alike. Taking or renewing one is a single conditional UPDATE; a
 *   record read shows the lease only while it is live by that clock.
 * - Checkpoint writes are fenced: they match only while the writer holds an
 *   unexpired lease, and otherwise fail with `LeaseLostError`, writing
 *   nothing. Inside a transaction this rolls back the handler's writes too.
 *   Given a TTL, the same UPDATE renews the lease.
 * - A parked event is stored whole, so it can be replayed later. `unpark` is
 *   a `DELETE ... RETURNING`: of two transactions removing one event, the
 *   second waits for the first's row lock (SQLite: its write lock) and then
 *   finds nothing, so a replay claims an event exactly once.
 *
 * @since 0.1.0
 */
import { Event, type EventStore, Position, ProjectionStore, type StoreError, StreamId } from "@chronicle/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer, Option, type ParseResult, Schema } from "effect"
import { catchSqlDefects, toStoreError } from "./internal/errors.js"
import { prepare } from "./internal/setup.js"
import * as SqlMigrations from "./SqlMigrations.js"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @example
 * ```ts
 * import { SqlProjectionStore } from "@chronicle/sql-store"
 *
 * const options: SqlProjectionStore.Options = { tablePrefix: "bank_" }
 * const projections = SqlProjectionStore.layer(options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Prefix of the tables (`<prefix>projections`, `<prefix>projection_parked`,
   * and the migrations table). Use the event store's prefix. Defaults to
   * `"chronicle_"`.
   */
  readonly tablePrefix?: string | undefined
  /** Run {@link SqlMigrations.run} when the store is built. Defaults to `true`. */
  readonly migrate?: boolean | undefined
}

const StateSchema = Schema.Literal("starting", "running", "caught-up", "rebuilding", "retrying", "failed", "stopped")

const FilterSchema = Schema.Struct({
  categories: Schema.optional(Schema.Array(Schema.String)),
  types: Schema.optional(Schema.Array(Schema.String))
})

const recordFields = {
  name: Schema.String,
  version: Schema.Number,
  checkpoint: Schema.OptionFromNullOr(Position.FromString),
  state: StateSchema,
  error: Schema.OptionFromNullOr(Schema.String)
}

const SqliteBoolean = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (n) => n === 1,
  encode: (b) => (b ? 1 : 0)
})

const PgRecordRow = Schema.Struct({
  ...recordFields,
  filter: FilterSchema,
  active: Schema.Boolean,
  updated_at: Schema.DateTimeUtcFromDate,
  lease_owner: Schema.NullOr(Schema.String),
  lease_expires_at: Schema.NullOr(Schema.DateTimeUtcFromDate),
  lease_live: Schema.Boolean
})

const SqliteRecordRow = Schema.Struct({
  ...recordFields,
  filter: Schema.parseJson(FilterSchema),
  active: SqliteBoolean,
  updated_at: Schema.DateTimeUtcFromNumber,
  lease_owner: Schema.NullOr(Schema.String),
  lease_expires_at: Schema.NullOr(Schema.DateTimeUtcFromNumber),
  lease_live: SqliteBoolean
})

/** A stored event as JSON, for the parked list. */
const StoredEventJson = Schema.Struct({
  eventId: Schema.String,
  streamId: StreamId.StreamId,
  version: Schema.Number,
  position: Position.FromString,
  type: Schema.String,
  schemaVersion: Schema.Number,
  data: Schema.Unknown,
  metadata: Event.EventMetadataSchema,
  recordedAt: Schema.DateTimeUtc
})

const PgParkedRow = Schema.Struct({
  name: Schema.String,
  version: Schema.Number,
  event: StoredEventJson,
  reason: Schema.String,
  parked_at: Schema.DateTimeUtcFromDate
})

const SqliteParkedRow = Schema.Struct({
  name: Schema.String,
  version: Schema.Number,
  event: Schema.parseJson(StoredEventJson),
  reason: Schema.String,
  parked_at: Schema.DateTimeUtcFromNumber
})

const VersionRow = Schema.Struct({ version: Schema.Number })

const toRecord = (row: typeof PgRecordRow.Type): ProjectionStore.Record => ({
  name: row.name,
  version: row.version,
  checkpoint: row.checkpoint,
  state: row.state,
  error: row.error,
  filter: row.filter,
  active: row.active,
  updatedAt: row.updated_at,
  // judged by the database's clock when the row was read
  lease:
    row.lease_live && row.lease_owner !== null && row.lease_expires_at !== null
      ? Option.some({ owner: row.lease_owner, expiresAt: row.lease_expires_at })
      : Option.none()
})

const toParked = (row: typeof PgParkedRow.Type): ProjectionStore.ParkedEvent => ({
  key: { name: row.name, version: row.version },
  event: row.event,
  reason: row.reason,
  parkedAt: row.parked_at
})

const encodeEvent = Schema.encode(Schema.parseJson(StoredEventJson))

/** Tells the body's own failures apart from the transaction's (BEGIN, lock). */
class BodyFailure<E> {
  readonly _tag = "BodyFailure"
  constructor(readonly error: E) {}
}

/**
 * Builds a `ProjectionStore` over the `SqlClient` in the context, running the
 * migrations first unless `migrate: false`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqlProjectionStore } from "@chronicle/sql-store"
 *
 * const names = Effect.gen(function* () {
 *   const projections = yield* SqlProjectionStore.make()
 *   return (yield* projections.list).map((record) => `${record.name} v${record.version}`)
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<ProjectionStore.ProjectionStore["Type"], StoreError.StoreError, SqlClient.SqlClient> = Effect.fn(
  "Chronicle.SqlProjectionStore.make"
)(function* (options?: Options) {
  const { tables, sql, dialect } = yield* prepare("projection store", options)
  const pg = dialect === "pg"
  const projections = sql(tables.projectionsName)
  const parkedTable = sql(tables.parkedName)
  // The database clock: every process judges leases by the same time.
  const now = sql.literal(pg ? "clock_timestamp()" : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")
  const expiresIn = (ttl: Duration.Duration) => {
    // An infinite lease lasts a century.
    const millis = Math.ceil(Math.min(Duration.toMillis(ttl), 100 * 365 * 24 * 3600 * 1000))
    return pg
      ? sql`clock_timestamp() + ${millis}::double precision * interval '1 millisecond'`
      : sql`${now} + ${millis}`
  }
  const keyIs = (key: ProjectionStore.Key) => sql`name = ${key.name} AND version = ${key.version}`

  const decodeRecords = (rows: ReadonlyArray<unknown>) =>
    pg
      ? Effect.map(Schema.decodeUnknown(Schema.Array(PgRecordRow))(rows), (records) => records.map(toRecord))
      : Effect.map(Schema.decodeUnknown(Schema.Array(SqliteRecordRow))(rows), (records) => records.map(toRecord))

  const leaseLive = pg
    ? sql.literal("(lease_expires_at IS NOT NULL AND lease_expires_at > clock_timestamp())")
    : sql`(CASE WHEN lease_expires_at IS NOT NULL AND lease_expires_at > ${now} THEN 1 ELSE 0 END)`
  const selectRecords = sql`SELECT name, version, checkpoint, state, error, filter, active, updated_at,
      lease_owner, lease_expires_at, ${leaseLive} AS lease_live
    FROM ${projections}`

  const failWith =
    (operation: string) =>
    <A>(effect: Effect.Effect<A, SqlError | ParseResult.ParseError>): Effect.Effect<A, StoreError.StoreError> =>
      effect.pipe(Effect.mapError(toStoreError(operation)), catchSqlDefects(operation))

  const fencedErrors = <A>(
    effect: Effect.Effect<A, SqlError | ProjectionStore.LeaseLostError>
  ): Effect.Effect<A, StoreError.StoreError | ProjectionStore.LeaseLostError> =>
    effect.pipe(
      Effect.mapError((error) =>
        error._tag === "LeaseLostError" ? error : toStoreError("projection checkpoint")(error)
      ),
      catchSqlDefects("projection checkpoint")
    )

  // On SQLite a no-op write takes the database's write lock first, so that a
  // transaction never has to upgrade a read lock (which fails at once with
  // SQLITE_BUSY when another process wrote meanwhile).
  const takeWriteLock: Effect.Effect<unknown, SqlError> = pg
    ? Effect.void
    : sql`UPDATE ${projections} SET name = name WHERE 0`

  const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreError.StoreError, R> =>
    sql
      .withTransaction(
        Effect.zipRight(
          takeWriteLock,
          Effect.mapError(effect, (error) => new BodyFailure(error))
        )
      )
      .pipe(
        Effect.catchAll(
          (failure): Effect.Effect<never, E | StoreError.StoreError> =>
            failure._tag === "BodyFailure"
              ? Effect.fail(failure.error)
              : Effect.fail(toStoreError("projection transaction")(failure))
        ),
        catchSqlDefects("projection transaction"),
        Effect.withSpan("Chronicle.SqlProjectionStore.transaction")
      )

  const register = Effect.fn("Chronicle.SqlProjectionStore.register")(function* (
    key: ProjectionStore.Key,
    filter: EventStore.EventFilter
  ) {
    const json = JSON.stringify({ categories: filter.categories, types: filter.types })
    yield* pg
      ? sql`INSERT INTO ${projections} (name, version, state, filter, active, updated_at)
            VALUES (${key.name}, ${key.version}, 'starting', ${json}::json, false, clock_timestamp())
            ON CONFLICT (name, version) DO UPDATE SET filter = excluded.filter`
      : sql`INSERT INTO ${projections} (name, version, state, filter, active, updated_at)
            VALUES (${key.name}, ${key.version}, 'starting', ${json}, 0, ${now})
            ON CONFLICT (name, version) DO UPDATE SET filter = excluded.filter`
  }, failWith("projection register"))

  const get = Effect.fn("Chronicle.SqlProjectionStore.get")(function* (key: ProjectionStore.Key) {
    const rows = yield* sql`${selectRecords} WHERE ${keyIs(key)}`
    return Option.fromNullable((yield* decodeRecords(rows))[0])
  }, failWith("projection get"))

  const list = Effect.flatMap(sql`${selectRecords} ORDER BY name, version`, decodeRecords).pipe(
    failWith("projection list"),
    Effect.withSpan("Chronicle.SqlProjectionStore.list")
  )

  /**
   * A conditional UPDATE that matches only while `owner` holds a live lease;
   * with `leaseTtl`, it renews the lease in the same write.
   */
  const fenced = (key: ProjectionStore.Key, owner: string, checkpoint: string | null, leaseTtl?: Duration.Duration) =>
    Effect.flatMap(
      sql`UPDATE ${projections} SET checkpoint = ${checkpoint}, updated_at = ${now}${
        leaseTtl === undefined ? sql.literal("") : sql`, lease_expires_at = ${expiresIn(leaseTtl)}`
      }
        WHERE ${keyIs(key)} AND lease_owner = ${owner} AND lease_expires_at > ${now}
        RETURNING name`,
      (rows) =>
        rows.length === 0
          ? Effect.fail(new ProjectionStore.LeaseLostError({ name: key.name, version: key.version, owner }))
          : Effect.void
    )

  const saveCheckpoint = Effect.fn("Chronicle.SqlProjectionStore.saveCheckpoint")(
    (key: ProjectionStore.Key, position: Position.Position, owner: string, leaseTtl?: Duration.Duration) =>
      fenced(key, owner, Position.encode(position), leaseTtl),
    fencedErrors
  )

  const resetCheckpoint = Effect.fn("Chronicle.SqlProjectionStore.resetCheckpoint")(
    (key: ProjectionStore.Key, owner: string) => fenced(key, owner, null),
    fencedErrors
  )

  const setState = Effect.fn("Chronicle.SqlProjectionStore.setState")(
    (key: ProjectionStore.Key, state: ProjectionStore.State, error?: string) =>
      sql`UPDATE ${projections} SET state = ${state}, error = ${error ?? null}, updated_at = ${now}
        WHERE ${keyIs(key)}`,
    failWith("projection state")
  )

  const activeVersion = Effect.fn("Chronicle.SqlProjectionStore.activeVersion")(function* (name: string) {
    const rows = yield* pg
      ? sql`SELECT version FROM ${projections} WHERE name = ${name} AND active`
      : sql`SELECT version FROM ${projections} WHERE name = ${name} AND active = 1`
    const decoded = yield* Schema.decodeUnknown(Schema.Array(VersionRow))(rows)
    return Option.map(Option.fromNullable(decoded[0]), (row) => row.version)
  }, failWith("projection active version"))

  // Two statements (others off, then this one on): the unique index on the
  // active version is checked row by row, so one statement could trip it.
  const activate = Effect.fn("Chronicle.SqlProjectionStore.activate")(
    (key: ProjectionStore.Key) =>
      sql.withTransaction(
        Effect.zipRight(
          sql`UPDATE ${projections} SET active = ${pg ? sql.literal("false") : sql.literal("0")}
            WHERE name = ${key.name} AND version <> ${key.version}`,
          sql`UPDATE ${projections} SET active = ${pg ? sql.literal("true") : sql.literal("1")} WHERE ${keyIs(key)}`
        )
      ),
    failWith("projection activate")
  )

  const acquireLease = Effect.fn("Chronicle.SqlProjectionStore.acquireLease")(function* (
    key: ProjectionStore.Key,
    owner: string,
    ttl: Duration.Duration
  ) {
    const rows = yield* sql`UPDATE ${projections} SET lease_owner = ${owner}, lease_expires_at = ${expiresIn(ttl)}
        WHERE ${keyIs(key)}
          AND (lease_owner IS NULL OR lease_owner = ${owner} OR lease_expires_at IS NULL OR lease_expires_at <= ${now})
        RETURNING name`
    return rows.length > 0
  }, failWith("projection lease"))

  const releaseLease = Effect.fn("Chronicle.SqlProjectionStore.releaseLease")(
    (key: ProjectionStore.Key, owner: string) =>
      sql`UPDATE ${projections} SET lease_owner = NULL, lease_expires_at = NULL
        WHERE ${keyIs(key)} AND lease_owner = ${owner}`,
    failWith("projection lease")
  )

  const park = Effect.fn("Chronicle.SqlProjectionStore.park")(function* (
    key: ProjectionStore.Key,
    event: Event.StoredEvent,
    reason: string
  ) {
    const json = yield* encodeEvent(event)
    // Only for a registered projection, like the in-memory store.
    yield* sql`INSERT INTO ${parkedTable} (name, version, event_id, event, reason, parked_at)
        SELECT ${key.name}, ${key.version}, ${event.eventId}, ${pg ? sql`${json}::json` : json}, ${reason}, ${now}
        WHERE EXISTS (SELECT 1 FROM ${projections} WHERE ${keyIs(key)})
        ON CONFLICT (name, version, event_id) DO UPDATE SET reason = excluded.reason, parked_at = excluded.parked_at`
  }, failWith("projection park"))

  const parked = Effect.fn("Chronicle.SqlProjectionStore.parked")(function* (key: ProjectionStore.Key) {
    const rows = yield* sql`SELECT name, version, event, reason, parked_at FROM ${parkedTable}
      WHERE ${keyIs(key)} ORDER BY parked_at, event_id`
    return pg
      ? (yield* Schema.decodeUnknown(Schema.Array(PgParkedRow))(rows)).map(toParked)
      : (yield* Schema.decodeUnknown(Schema.Array(SqliteParkedRow))(rows)).map(toParked)
  }, failWith("projection parked"))

  // RETURNING tells whether this call removed the row; on PostgreSQL a
  // concurrent DELETE of the same row waits for this transaction, then finds
  // nothing (SQLite takes the write lock first, so one runs after the other).
  const unpark = Effect.fn("Chronicle.SqlProjectionStore.unpark")(function* (
    key: ProjectionStore.Key,
    eventId: string
  ) {
    const rows = yield* sql`DELETE FROM ${parkedTable} WHERE ${keyIs(key)} AND event_id = ${eventId} RETURNING event_id`
    return rows.length > 0
  }, failWith("projection unpark"))

  const remove = Effect.fn("Chronicle.SqlProjectionStore.remove")(
    (key: ProjectionStore.Key) =>
      sql.withTransaction(
        Effect.zipRight(
          sql`DELETE FROM ${parkedTable} WHERE ${keyIs(key)}`,
          sql`DELETE FROM ${projections} WHERE ${keyIs(key)}`
        )
      ),
    failWith("projection remove")
  )

  return ProjectionStore.ProjectionStore.of({
    atomicBatches: true,
    transaction,
    register,
    get,
    list,
    saveCheckpoint,
    resetCheckpoint,
    setState: (key, state, error) => Effect.asVoid(setState(key, state, error)),
    activeVersion,
    activate: (key) => Effect.asVoid(activate(key)),
    acquireLease,
    releaseLease: (key, owner) => Effect.asVoid(releaseLease(key, owner)),
    park,
    parked,
    unpark,
    remove: (key) => Effect.asVoid(remove(key))
  })
})

/**
 * The `ProjectionStore` layer over the `SqlClient` in the context
 * (PostgreSQL or SQLite). Runs the migrations when it builds unless
 * `migrate: false`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { PgClient } from "@effect/sql-pg"
 * import { SqlEventStore, SqlProjectionStore } from "@chronicle/sql-store"
 *
 * const stores = Layer.merge(SqlEventStore.layer(), SqlProjectionStore.layer()).pipe(
 *   Layer.provide(PgClient.layer({ database: "bank" }))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<ProjectionStore.ProjectionStore, StoreError.StoreError, SqlClient.SqlClient> =>
  Layer.effect(ProjectionStore.ProjectionStore, make(options))
