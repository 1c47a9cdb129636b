/**
 * The `EventStore` over `@effect/sql`: one layer for any `SqlClient`, with
 * PostgreSQL (`@effect/sql-pg`) for production and SQLite
 * (`@effect/sql-sqlite-node`) as the embedded default. Dialect differences
 * stay inside this module.
 *
 * It keeps the same contract as `InMemoryEventStore` (the conformance suite
 * from `@chronicle/core/testing` runs against both dialects):
 * - a trigger refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of events;
 * - the expected version is enforced by the database, atomically: the
 *   streams row is written first, with a conditional UPDATE or
 *   `INSERT ... ON CONFLICT`, and a write that matches no row is a conflict;
 * - appending the same event ids again returns the first result;
 * - on PostgreSQL the global order is gap-safe: events carry their
 *   transaction id, readers only take rows of transactions older than every
 *   running one, and a `Position` is the pair `(transaction id, position)`;
 *   on SQLite the single writer makes an AUTOINCREMENT position gap-safe;
 * - subscribers wake on PostgreSQL `LISTEN` (when a `PgClient` is in the
 *   context) or on appends of this process, and always poll with a bounded
 *   interval, catching up from their last position.
 *
 * @since 0.1.0
 */

import { createHash } from "node:crypto"
import {
  Backend,
  type Event,
  EventStore,
  ExpectedVersion,
  InlineProjection,
  Position,
  type StreamId
} from "@chronicle/core"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import {
  Chunk,
  Clock,
  Config,
  type ConfigError,
  DateTime,
  Duration,
  Effect,
  Layer,
  Option,
  PubSub,
  Schedule,
  Schema,
  Stream
} from "effect"
import type { AppendInput, Driver, DriverError, WriteOutcome } from "./internal/driver.js"
import { catchSqlDefects, isStaleConnection, toStoreError } from "./internal/errors.js"
import * as Pg from "./internal/pg.js"
import { PgClient } from "./internal/pgClient.js"
import { configError, prepare } from "./internal/setup.js"
import * as Sqlite from "./internal/sqlite.js"
import type * as Tables from "./internal/tables.js"
import * as SqlMigrations from "./SqlMigrations.js"

/**
 * Options of {@link make} and {@link layer}.
 *
 * @example
 * ```ts
 * import { SqlEventStore } from "@chronicle/sql-store"
 *
 * const options: SqlEventStore.Options = { tablePrefix: "bank_", batchSize: 1000, pollInterval: "500 millis" }
 * const store = SqlEventStore.layer(options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Prefix of the store's tables (`<prefix>events`, `<prefix>streams`, and
   * the migrations table). Lowercase letters, digits and `_`, at most 40
   * characters. Defaults to `"chronicle_"`.
   */
  readonly tablePrefix?: string | undefined
  /** Run {@link SqlMigrations.run} when the store is built. Defaults to `true`. */
  readonly migrate?: boolean | undefined
  /** Rows per round trip when reading (1 to 10,000). Defaults to 500. */
  readonly batchSize?: number | undefined
  /**
   * The longest a subscriber waits before polling again without a wake-up.
   * Defaults to 1 second.
   */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * PostgreSQL only: how long `readAll` and `head` wait for transactions that
   * were already running when they were called, so that they include every
   * append committed before the call (read your writes). Gap safety does not
   * depend on it: after the wait they still read only what is safe. Defaults
   * to 2 seconds; `0` disables the wait.
   */
  readonly settleTimeout?: Duration.DurationInput | undefined
}

const defaultBatchSize = 500
const maxBatchSize = 10_000

const clampBatch = (size: number | undefined, fallback: number): number =>
  size === undefined || Number.isNaN(size) ? fallback : Math.min(maxBatchSize, Math.max(1, Math.floor(size)))

const SchemaRow = Schema.Struct({ schema: Schema.NullOr(Schema.String) })

/**
 * PostgreSQL channels are database-wide and at most 63 bytes: the name
 * includes the schema and prefix, hashed when too long.
 */
const channelName = (schema: string, prefix: string): string => {
  const full = `${schema}.${prefix}events`
  return Buffer.byteLength(full) <= 63
    ? full
    : `chronicle_events_${createHash("sha256").update(full).digest("hex").slice(0, 32)}`
}

const makeDriver = Effect.fn("Chronicle.SqlEventStore.makeDriver")(
  function* (sql: SqlClient.SqlClient, tables: Tables.Tables) {
    return yield* sql.onDialectOrElse({
      pg: () =>
        Effect.gen(function* () {
          const rows = yield* Effect.flatMap(
            sql`SELECT current_schema() AS schema`,
            Schema.decodeUnknown(Schema.Array(SchemaRow))
          )
          const pg = yield* Effect.serviceOption(PgClient)
          const driver: Driver = Pg.make({
            sql,
            tables,
            channel: channelName(rows[0]?.schema ?? "public", tables.prefix),
            pg
          })
          return driver
        }),
      sqlite: () => Effect.succeed(Sqlite.make({ sql, tables })),
      orElse: () => Effect.fail(configError("Chronicle's SQL event store supports PostgreSQL and SQLite only"))
    })
  },
  Effect.mapError(toStoreError("configure"))
)

/** The stored form of a written append, for inline projections. */
const storedOf = (
  input: AppendInput,
  metadata: Event.EventMetadata,
  outcome: { readonly version: number; readonly positions: ReadonlyArray<Position.Position> }
): ReadonlyArray<Event.StoredEvent> =>
  input.events.map((event, i) => ({
    eventId: event.eventId,
    streamId: input.streamId,
    version: outcome.version - input.events.length + 1 + i,
    position: outcome.positions[i] ?? Position.start,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: JSON.parse(event.json),
    metadata,
    recordedAt: input.recordedAt
  }))

/**
 * The span of one public operation. `Effect.fn` would also capture the
 * caller's stack trace on every call, which costs more than many of these
 * operations' own work (about 14 µs against 9 µs for the span alone); the
 * span still names the operation and nests under the caller's span.
 */
const span =
  (name: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withSpan(effect, name, { captureStackTrace: false })

const liveClock = Clock.make()

const validExact = (expected: ExpectedVersion.ExpectedVersion): boolean =>
  expected._tag !== "Exact" || (Number.isSafeInteger(expected.version) && expected.version >= 0)

/**
 * Builds an `EventStore` over the `SqlClient` in the context, running the
 * migrations first unless `migrate: false`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqlEventStore } from "@chronicle/sql-store"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* SqlEventStore.make({ tablePrefix: "bank_" })
 *   return yield* store.head
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<EventStore.EventStore["Type"], EventStore.StoreError, SqlClient.SqlClient> = Effect.fn(
  "Chronicle.SqlEventStore.make"
)(function* (options?: Options) {
  const { tables, sql } = yield* prepare("event store", options)
  const driver = yield* makeDriver(sql, tables)
  const batchSize = clampBatch(options?.batchSize, defaultBatchSize)
  const pollInterval = options?.pollInterval ?? "1 second"
  const settleTimeout = Duration.decode(options?.settleTimeout ?? "2 seconds")
  const local = yield* PubSub.sliding<void>(16)
  const inline = yield* Effect.serviceOption(InlineProjection.InlineProjections)

  // A pooled PostgreSQL connection can be handed out after its backend died
  // (the pool learns it a moment later): outside a transaction, a statement
  // that failed that way never ran, so it is tried once more on a fresh one.
  // Appends are safe to repeat in any case: their event ids make them
  // idempotent.
  // (Checked only on failure: no retry machinery on the path of every statement.)
  const reconnecting = <A>(effect: Effect.Effect<A, DriverError>): Effect.Effect<A, DriverError> =>
    Effect.catchIf(effect, isStaleConnection, (error) =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
        Option.isSome(transaction)
          ? Effect.fail(error)
          : // real time, even under a test clock: the pause waits on the pool, not the application
            Effect.zipRight(Effect.withClock(Effect.sleep("25 millis"), liveClock), effect)
      )
    )

  const failWith =
    (operation: string) =>
    <A>(effect: Effect.Effect<A, DriverError>): Effect.Effect<A, EventStore.StoreError> =>
      Effect.mapError(reconnecting(effect), toStoreError(operation))

  const settle = Duration.greaterThan(settleTimeout, Duration.zero)
    ? failWith("readAll")(driver.settle(settleTimeout))
    : Effect.void

  // PostgreSQL text cannot hold NUL: such a stream or type can never be stored.
  const hasNul = (text: string) => driver.dialect === "pg" && text.includes("\u0000")

  const current = (streamId: string) =>
    hasNul(streamId) ? Effect.succeed(0) : failWith("streamVersion")(driver.streamVersion(streamId))

  const conflict = (streamId: StreamId.StreamId, expected: ExpectedVersion.ExpectedVersion, actual: number) =>
    new EventStore.ConcurrencyError({ streamId, expected: ExpectedVersion.format(expected), actual })

  const guardedWrite = (input: AppendInput): Effect.Effect<WriteOutcome, EventStore.StoreError> =>
    validExact(input.expected)
      ? driver.write(input).pipe(
          Effect.catchIf(
            (error): error is SqlError => error._tag === "SqlError" && driver.isEventIdViolation(error),
            // Another append with the same ids committed while this one ran.
            () => Effect.succeed<WriteOutcome>({ _tag: "Duplicate" })
          ),
          failWith("append"),
          catchSqlDefects("append")
        )
      : // An Exact version that no stream can be at: only idempotency can succeed.
        Effect.flatMap(failWith("append")(driver.lookup(input.events.map((e) => e.eventId))), (existing) =>
          existing.length > 0
            ? Effect.succeed<WriteOutcome>({ _tag: "Duplicate" })
            : Effect.map(current(input.streamId), (actual): WriteOutcome => ({ _tag: "Conflict", actual }))
        )

  // With inline projections, the write and the projections' handlers run in
  // one database transaction: the handlers use the same SqlClient, so their
  // writes commit with the events, and a failing handler rolls the append back.
  const writeWithInline = (
    input: AppendInput,
    metadata: Event.EventMetadata
  ): Effect.Effect<WriteOutcome, EventStore.StoreError> =>
    Option.match(inline, {
      onNone: () => guardedWrite(input),
      onSome: (projections) =>
        sql
          .withTransaction(
            Effect.tap(guardedWrite(input), (outcome) =>
              outcome._tag === "Written" ? projections.apply(storedOf(input, metadata, outcome)) : Effect.void
            )
          )
          .pipe(Effect.mapError(toStoreError("append")), catchSqlDefects("append"))
    })

  const append = Effect.fnUntraced(function* (
    streamId: StreamId.StreamId,
    events: ReadonlyArray<Event.EventData>,
    options?: EventStore.AppendOptions
  ) {
    const prepared = yield* Backend.prepareAppend(streamId, events)
    const invalid = (reason: string) => new EventStore.InvalidAppendError({ streamId, reason })
    if (hasNul(streamId)) return yield* invalid("PostgreSQL cannot store a stream id containing NUL (\\u0000)")
    const badType = prepared.find((e) => hasNul(e.type))
    if (badType !== undefined) return yield* invalid("PostgreSQL cannot store an event type containing NUL (\\u0000)")
    const expected = options?.expectedVersion ?? ExpectedVersion.Any
    const metadata = Backend.resolveMetadata(prepared[0]?.eventId ?? "", options)
    const metadataJson = yield* Effect.try({
      try: () => JSON.stringify(metadata),
      catch: (error) => invalid(`metadata is not JSON-serialisable: ${String(error)}`)
    })
    const recordedAt = yield* DateTime.now
    const input: AppendInput = { streamId, events: prepared, expected, metadataJson, recordedAt }
    const eventIds = prepared.map((e) => e.eventId)
    // A duplicate whose first append has vanished can only come from a
    // concurrent append with the same ids that rolled back: write again.
    for (let attempt = 1; ; attempt++) {
      const outcome = yield* writeWithInline(input, metadata)
      switch (outcome._tag) {
        case "Written": {
          if (!driver.wakeupsIncludeLocal) yield* PubSub.publish(local, undefined)
          return {
            streamId,
            nextExpectedVersion: outcome.version,
            positions: outcome.positions,
            recordedAt,
            duplicate: false
          } satisfies EventStore.AppendResult
        }
        case "Duplicate": {
          const existing = yield* failWith("append")(driver.lookup(eventIds))
          const result = yield* Backend.idempotentResult(streamId, eventIds, existing)
          if (Option.isSome(result)) return result.value
          if (attempt >= 3) {
            return yield* new EventStore.StoreError({
              operation: "append",
              reason: "event ids reported as stored could not be found",
              cause: null
            })
          }
          break
        }
        case "Conflict": {
          // A write that waited on the stream's row lock saw the version of
          // its own snapshot: read it again for an accurate error.
          const actual = ExpectedVersion.isSatisfiedBy(expected, outcome.actual)
            ? yield* current(streamId)
            : outcome.actual
          return yield* conflict(streamId, expected, actual)
        }
      }
    }
  }, span("Chronicle.SqlEventStore.append"))

  const read = (
    streamId: StreamId.StreamId,
    options?: EventStore.ReadStreamOptions
  ): Stream.Stream<Event.StoredEvent, EventStore.StoreError> => {
    const direction = options?.direction ?? "forward"
    const from = Math.max(1, Math.ceil(options?.from ?? 1))
    const to = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(options?.to ?? Number.POSITIVE_INFINITY))
    const limit = Math.max(0, Math.floor(options?.limit ?? Number.POSITIVE_INFINITY))
    if (Number.isNaN(from) || Number.isNaN(to) || Number.isNaN(limit) || from > to || limit === 0) return Stream.empty
    if (hasNul(streamId)) return Stream.empty
    const readPage = (page: { from: number; to: number; limit: number }) =>
      span("Chronicle.SqlEventStore.read")(failWith("read")(driver.readStream(streamId, { ...page, direction })))
    return Stream.paginateChunkEffect({ from, to, remaining: limit }, (state) => {
      const size = Math.min(batchSize, state.remaining)
      return Effect.map(readPage({ from: state.from, to: state.to, limit: size }), (page) => {
        const last = page[page.length - 1]
        const next =
          last === undefined || page.length < size || state.remaining - page.length <= 0
            ? Option.none()
            : Option.some(
                direction === "forward"
                  ? { from: last.version + 1, to: state.to, remaining: state.remaining - page.length }
                  : { from: state.from, to: last.version - 1, remaining: state.remaining - page.length }
              )
        return [Chunk.unsafeFromArray(page), next] as const
      })
    })
  }

  // One query for the whole range: loading an aggregate needs every event at
  // once, and one round trip beats paging.
  const readEvents = (
    streamId: StreamId.StreamId,
    options?: EventStore.ReadStreamOptions
  ): Effect.Effect<ReadonlyArray<Event.StoredEvent>, EventStore.StoreError> => {
    const direction = options?.direction ?? "forward"
    const from = Math.max(1, Math.ceil(options?.from ?? 1))
    const to = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(options?.to ?? Number.POSITIVE_INFINITY))
    const limit = Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(options?.limit ?? Number.POSITIVE_INFINITY)))
    if (Number.isNaN(from) || Number.isNaN(to) || Number.isNaN(limit) || from > to || limit === 0) {
      return Effect.succeed([])
    }
    if (hasNul(streamId)) return Effect.succeed([])
    return span("Chronicle.SqlEventStore.readEvents")(
      failWith("read")(driver.readStream(streamId, { from, to, limit, direction }))
    )
  }

  const readBatch =
    (filter: EventStore.EventFilter): Backend.ReadBatch =>
    (from, limit) =>
      span("Chronicle.SqlEventStore.readBatch")(failWith("readAll")(driver.readAll(from, limit, filter)))

  // A subscription rides out a brief outage (a dropped connection, a restart):
  // it retries its read a few times before failing with the StoreError.
  const resilient =
    (readBatch: Backend.ReadBatch): Backend.ReadBatch =>
    (from, limit) =>
      Effect.retry(readBatch(from, limit), {
        schedule: Schedule.exponential("50 millis").pipe(Schedule.either(Schedule.spaced("1 second"))),
        times: 8
      })

  const localWakeups: Stream.Stream<unknown, EventStore.StoreError> = driver.wakeupsIncludeLocal
    ? Stream.never
    : Stream.fromPubSub(local)

  return EventStore.EventStore.of({
    append,
    read,
    readEvents,
    readAll: (options) =>
      Stream.unwrap(
        Effect.as(
          settle,
          Backend.readAllBatched(readBatch(options ?? {}), {
            from: options?.from ?? Position.start,
            batchSize: clampBatch(options?.batchSize, batchSize),
            limit: options?.limit === undefined ? undefined : Number.isNaN(options.limit) ? 0 : options.limit
          })
        )
      ),
    subscribe: (options) =>
      Backend.followFeed(resilient(readBatch(options ?? {})), {
        from: options?.from ?? Position.start,
        batchSize: clampBatch(options?.batchSize, batchSize),
        pollInterval: options?.pollInterval ?? pollInterval,
        wakeups: Stream.merge(driver.wakeups, localWakeups)
      }),
    streamVersion: (streamId) => span("Chronicle.SqlEventStore.streamVersion")(current(streamId)),
    head: span("Chronicle.SqlEventStore.head")(Effect.zipRight(settle, failWith("head")(driver.head)))
  })
})

/**
 * The `EventStore` layer over the `SqlClient` in the context (PostgreSQL or
 * SQLite). Runs the migrations when it builds unless `migrate: false`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { PgClient } from "@effect/sql-pg"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { SqlEventStore } from "@chronicle/sql-store"
 *
 * const onSqlite = SqlEventStore.layer().pipe(Layer.provide(SqliteClient.layer({ filename: "bank.db" })))
 * const onPostgres = SqlEventStore.layer({ tablePrefix: "bank_" }).pipe(
 *   Layer.provide(PgClient.layer({ database: "bank" }))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<EventStore.EventStore, EventStore.StoreError, SqlClient.SqlClient> =>
  Layer.effect(EventStore.EventStore, make(options))

/**
 * {@link layer} with its options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { SqlEventStore } from "@chronicle/sql-store"
 *
 * const store = SqlEventStore.layerConfig({
 *   tablePrefix: Config.string("EVENT_TABLE_PREFIX").pipe(Config.withDefault("chronicle_"))
 * })
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<EventStore.EventStore, EventStore.StoreError | ConfigError.ConfigError, SqlClient.SqlClient> =>
  Layer.effect(EventStore.EventStore, Effect.flatMap(Config.unwrap(config), make))
