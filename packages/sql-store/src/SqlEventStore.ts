/**
 * The `EventStore` over `@effect/sql`: one layer for any `SqlClient`, with
 * PostgreSQL (`@effect/sql-pg`) for production and SQLite
 * (`@effect/sql-sqlite-node`) as the embedded default. Dialect differences
 * stay inside this module.
 *
 * It keeps the same contract as `EventStore.layerMemory()` (the conformance
 * suite from `@chronicle/core/testing` runs against both dialects):
 * - a trigger refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of events;
 * - the expected version is enforced by the database, atomically: the
 *   streams row is written first, with a conditional UPDATE or
 *   `INSERT ... ON CONFLICT`, and a write that matches no row is a conflict;
 * - appending the same event ids again returns the first result;
 * - on PostgreSQL the global order is gap-safe: events carry their
 *   transaction id, readers only take rows of transactions older than every
 *   running one, and a `Position` is the pair `(transaction id, position)`;
 *   on SQLite the single writer makes an AUTOINCREMENT position gap-safe;
 * - subscribers wake on PostgreSQL `LISTEN` (which requires the `PgClient`
 *   of `@effect/sql-pg` unless `listen: false`; listened to again by itself
 *   after the connection is lost) or on appends of this process (in-process);
 *   appends notify after commit, coalesced (never inside their own
 *   transaction, where `pg_notify` would serialize commits); subscribers
 *   always poll with a bounded interval,
 *   catching up from their last position; they ride out outages by
 *   themselves, retrying with a backoff capped at about a second;
 * - an append whose answer is lost with the connection is checked on a new
 *   one (its event ids are looked up): found, it succeeds; not found, it is
 *   written again; when even the check fails, the caller gets an
 *   `UnknownOutcomeError`, never a `StoreError` that would read as "nothing
 *   was written";
 * - the streams row only caches a stream's version: the events are the
 *   truth, and a row found missing or behind them is repaired;
 * - a row that no longer decodes reaches readers marked `corrupt`, and
 *   `feedStatus` (with a gauge and a warning log) tells when an open
 *   transaction holds the PostgreSQL feed back.
 *
 * @since 0.1.0
 */

import { createHash } from "node:crypto"
import {
  type Append,
  AppendError,
  type Event,
  EventStore,
  ExpectedVersion,
  FeedStatus,
  Metrics,
  Position,
  StoreError,
  type StreamId
} from "@chronicle/core"
import * as Backend from "@chronicle/core/Backend"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import {
  Cause,
  Chunk,
  Clock,
  Config,
  type ConfigError,
  DateTime,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Layer,
  Metric,
  Option,
  PubSub,
  RcRef,
  Schedule,
  Schema,
  Scope,
  Stream
} from "effect"
import type { AppendInput, Driver, DriverError, WriteOutcome } from "./internal/driver.js"
import {
  catchSqlDefects,
  describe,
  isAcquireFailure,
  isNotSent,
  isStaleConnection,
  isTransient,
  toStoreError
} from "./internal/errors.js"
import * as Listener from "./internal/listener.js"
import * as Pg from "./internal/pg.js"
import { PgClient } from "./internal/pgClient.js"
import * as PgListen from "./internal/pgListen.js"
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
  /**
   * PostgreSQL only: while anyone subscribes, how often the store checks
   * that its LISTEN connection still delivers (listening again on a new one
   * when it does not) and whether the feed is held back (updating
   * {@link heldBackMetric}). Defaults to 5 seconds.
   */
  readonly healthCheckInterval?: Duration.DurationInput | undefined
  /**
   * PostgreSQL only: appends wake other processes' subscribers with a
   * notification sent after they commit, at most one per this interval (the
   * appends committed meanwhile share it). Defaults to 20 milliseconds: a
   * notification costs the sender a statement, and sequential commands
   * should not each pay for one. The first append after a quiet interval
   * notifies at once.
   */
  readonly notifyInterval?: Duration.DurationInput | undefined
  /**
   * PostgreSQL only: log a warning once the feed has been held back this
   * long by an open transaction (see `EventStore.feedStatus`), and again
   * every minute while it lasts. Defaults to 10 seconds.
   */
  readonly heldBackWarning?: Duration.DurationInput | undefined
  /**
   * PostgreSQL only: whether subscribers wake on `LISTEN`/`NOTIFY`. That
   * needs the `PgClient` of `@effect/sql-pg` in the context (its
   * `PgClient.layer` provides it with the `SqlClient`): without one, the
   * store's layer fails (`misconfigured`) rather than silently polling.
   * The store listens on a connection of its own (outside the pool, opened
   * through the `pg` driver, a peer of this package, with the `PgClient`'s
   * `config`: URL, host, port, database, user, password, SSL, application
   * name, types), and listens again on a new one as soon as it breaks. A
   * client from `PgClient.fromPool` whose pool connects with more than that
   * (a password function, say) cannot open it: LISTEN is then reported
   * lost and subscribers poll; pass `false` to say so up front.
   * `false` makes subscribers poll every `pollInterval`. Defaults to `true`.
   */
  readonly listen?: boolean | undefined
}

/**
 * {@link Options}, plus the hook the store runs inside every append (see
 * `Append.AppendHook`, `InlineProjection.hook`): the store's layer then
 * requires what the hook requires, and runs the hook's setup when it builds.
 *
 * @example
 * ```ts
 * import { EventStore, InlineProjection, Projection } from "@chronicle/core"
 * import { SqlEventStore } from "@chronicle/sql-store"
 * import { Effect, Schema } from "effect"
 *
 * class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String }) {}
 * const Owners = Projection.make({ name: "owners", events: Opened, handle: () => Effect.void })
 *
 * const options: SqlEventStore.StoreOptions = { tablePrefix: "bank_", onAppend: InlineProjection.hook([Owners]) }
 * const store = SqlEventStore.layer(options)
 * ```
 * @since 0.6.0
 * @category models
 */
export interface StoreOptions<R = never> extends Options {
  readonly onAppend?: Append.AppendHook<R> | undefined
}

/**
 * How long the oldest committed event that readers of the feed cannot see
 * yet has waited, in seconds (0 when the feed is current), tagged with the
 * store's `table_prefix`. Set whenever the feed status is read: on
 * `feedStatus`, every `healthCheckInterval` while anyone subscribes, and
 * when `readAll` or `head` gave up waiting for older transactions.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { SqlEventStore } from "@chronicle/sql-store"
 *
 * const current = Metric.value(SqlEventStore.heldBackMetric.pipe(Metric.tagged("table_prefix", "chronicle_")))
 * ```
 * @since 0.2.0
 * @category metrics
 */
export const heldBackMetric = Metric.gauge("chronicle_feed_held_back_seconds", {
  description: "How long the oldest committed event that readers of the feed cannot see yet has waited"
})

/**
 * How many committed events readers of the feed cannot see yet, tagged
 * like {@link heldBackMetric}.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SqlEventStore } from "@chronicle/sql-store"
 *
 * const hidden = Metric.value(SqlEventStore.hiddenEventsMetric.pipe(Metric.tagged("table_prefix", "chronicle_")))
 * ```
 * @since 0.2.0
 * @category metrics
 */
export const hiddenEventsMetric = Metric.gauge("chronicle_feed_hidden_events", {
  description: "Committed events that readers of the feed cannot see yet"
})

/**
 * PostgreSQL: 1 while the store's LISTEN connection delivers (its probe came
 * back), 0 while it does not: lost and being listened to again, or not
 * started because nobody subscribes (or the layer is closed). While it is 0,
 * subscribers wake only on this process's appends and on their poll
 * interval, so other processes' events reach them later. Tagged with the
 * store's `table_prefix`.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { SqlEventStore } from "@chronicle/sql-store"
 *
 * const up = Metric.value(SqlEventStore.listeningMetric.pipe(Metric.tagged("table_prefix", "chronicle_")))
 * ```
 * @since 0.10.0
 * @category metrics
 */
export const listeningMetric = Metric.gauge("chronicle_listen_up", {
  description: "1 while the store's PostgreSQL LISTEN delivers, 0 while subscribers only poll"
})

/**
 * What one try at an append did: a driver outcome, or an answer lost with
 * the connection (`Unknown`), or a stream version found taken because the
 * streams row is behind its events (`VersionTaken`).
 */
type Attempt =
  | WriteOutcome
  | { readonly _tag: "Unknown"; readonly error: unknown }
  | { readonly _tag: "VersionTaken"; readonly error: SqlError }

/**
 * Retries of a write that the PostgreSQL transaction-id guard refused
 * although the expected version held: a younger transaction took the
 * stream's row lock first, which says nothing about the stream's state.
 * Prompt, jittered so that racing writers spread out, and bounded.
 */
const guardRetry = Schedule.exponential("2 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("50 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(50))
)

/** Reconnect-and-check after an append's answer was lost: about 3.5 s in all. */
const outcomeCheck = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(6))
)

/** A subscription's read retries during an outage: prompt, then about once a second, forever. */
const subscriptionRetry = Schedule.exponential("50 millis").pipe(
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.jittered
)

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
  function* (sql: SqlClient.SqlClient, tables: Tables.Tables, listen: boolean) {
    return yield* sql.onDialectOrElse({
      pg: () =>
        Effect.gen(function* () {
          const rows = yield* Effect.flatMap(
            sql`SELECT current_schema() AS schema`,
            Schema.decodeUnknown(Schema.Array(SchemaRow))
          )
          const channel = channelName(rows[0]?.schema ?? "public", tables.prefix)
          // LISTEN needs the PgClient: asked for explicitly, never dropped silently
          const pg = listen ? yield* Effect.serviceOption(PgClient) : Option.none()
          if (listen && Option.isNone(pg)) {
            return yield* configError(
              "subscribers wake on LISTEN, which needs the PgClient of @effect/sql-pg in the context (PgClient.layer provides it); provide it, or pass listen: false to poll"
            )
          }
          // its own LISTEN connection needs the pg driver, resolved from this package
          const listenWith = Option.isSome(pg)
            ? Option.some({
                client: pg.value,
                driver: yield* Effect.mapError(PgListen.load, (cause) =>
                  configError(
                    "subscribers wake on LISTEN, which needs the pg package (the driver of @effect/sql-pg, an optional peer of @chronicle/sql-store); install it, or pass listen: false to poll",
                    cause
                  )
                )
              })
            : Option.none()
          yield* Effect.logDebug(
            Option.isSome(pg) ? `subscribers wake on LISTEN ${channel}` : "subscribers poll (listen: false)"
          )
          const driver: Driver = Pg.make({ sql, tables, channel, listen: listenWith })
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
 * The span of one public operation (`Backend.withSpan`): `Effect.fn` would
 * also capture the caller's stack trace on every call, which costs more than
 * many of these operations' own work (about 14 µs against 9 µs for the span
 * alone); the span still names the operation and nests under the caller's
 * span. None under Effect's built-in tracer, which keeps spans nowhere.
 */
const span = Backend.withSpan

const liveClock = Clock.make()

const validExact = (expected: ExpectedVersion.ExpectedVersion): boolean =>
  expected._tag !== "Exact" || (Number.isSafeInteger(expected.version) && expected.version >= 0)

/**
 * Builds an `EventStore` over the `SqlClient` in the context, running the
 * migrations first unless `migrate: false`. Run inside a `Scope` (as
 * {@link layer} runs it), its LISTEN listener and a notification still
 * waiting for `notifyInterval` stop when the scope closes; outside one, they
 * last as long as the process.
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
export function make(
  options?: Options
): Effect.Effect<EventStore.EventStore["Type"], StoreError.StoreError, SqlClient.SqlClient>
export function make<R>(
  options: StoreOptions<R>
): Effect.Effect<EventStore.EventStore["Type"], StoreError.StoreError, SqlClient.SqlClient | R>
export function make<R>(
  options?: StoreOptions<R>
): Effect.Effect<EventStore.EventStore["Type"], StoreError.StoreError, SqlClient.SqlClient | R> {
  return Effect.flatMap(Effect.context<R>(), (context) => {
    const hook = options?.onAppend
    return makeWith(
      options,
      hook === undefined
        ? Option.none()
        : Option.some({
            names: hook.names,
            setup: Effect.provide(hook.setup, context),
            apply: (events) => Effect.provide(hook.apply(events), context)
          })
    )
  })
}

const makeWith = Effect.fn("Chronicle.SqlEventStore.make")(function* (
  options: Options | undefined,
  inline: Option.Option<Append.AppendHook>
) {
  const { tables, sql } = yield* prepare("event store", options)
  const driver = yield* makeDriver(sql, tables, options?.listen ?? true)
  if (Option.isSome(inline)) {
    // an inline projection's tables exist before the first append
    yield* inline.value.setup
    yield* Effect.logDebug(`inline projections run inside every append: ${inline.value.names.join(", ")}`)
  }
  const batchSize = clampBatch(options?.batchSize, defaultBatchSize)
  const pollInterval = options?.pollInterval ?? "1 second"
  const settleTimeout = Duration.decode(options?.settleTimeout ?? "2 seconds")
  const healthCheckInterval = Duration.decode(options?.healthCheckInterval ?? "5 seconds")
  const heldBackWarning = Duration.decode(options?.heldBackWarning ?? "10 seconds")
  const notifyInterval = Duration.toMillis(Duration.decode(options?.notifyInterval ?? "20 millis"))
  const local = yield* PubSub.sliding<void>(16)

  // A pooled PostgreSQL connection can be handed out after its backend died
  // (the pool learns it a moment later), or die under a statement: outside
  // a transaction, a statement that failed that way is tried once more on a
  // fresh one. Everything run through `failWith` is safe to repeat (reads,
  // and the streams-row repair, which only moves a row forward); the append's
  // own write has its own handling of a lost answer.
  // (Checked only on failure: no retry machinery on the path of every statement.)
  const reconnectingIf =
    (retryable: (error: unknown) => boolean) =>
    <A>(effect: Effect.Effect<A, DriverError>): Effect.Effect<A, DriverError> =>
      Effect.catchIf(effect, retryable, (error) =>
        Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
          Option.isSome(transaction)
            ? Effect.fail(error)
            : // real time, even under a test clock: the pause waits on the pool, not the application
              Effect.zipRight(Effect.withClock(Effect.sleep("25 millis"), liveClock), effect)
        )
      )
  const reconnecting = reconnectingIf((error) => isStaleConnection(error) || driver.isOutcomeUnknown(error))

  const failWith =
    (operation: string) =>
    <A>(effect: Effect.Effect<A, DriverError>): Effect.Effect<A, StoreError.StoreError> =>
      Effect.mapError(reconnecting(effect), toStoreError(operation))

  // Feed status: the gauges, and a warning (at most once a minute) while
  // the feed is held back longer than `heldBackWarning`.
  const heldBackGauge = heldBackMetric.pipe(Metric.tagged("table_prefix", tables.prefix))
  const hiddenGauge = hiddenEventsMetric.pipe(Metric.tagged("table_prefix", tables.prefix))
  const listeningGauge = listeningMetric.pipe(Metric.tagged("table_prefix", tables.prefix))
  let warnedAt: number | undefined
  const observe = (status: FeedStatus.FeedStatus) =>
    Effect.gen(function* () {
      yield* Metric.set(heldBackGauge, Duration.toSeconds(status.heldBackFor))
      yield* Metric.set(hiddenGauge, status.hiddenEvents)
      const now = liveClock.unsafeCurrentTimeMillis()
      if (status.hiddenEvents > 0 && Duration.greaterThanOrEqualTo(status.heldBackFor, heldBackWarning)) {
        if (warnedAt !== undefined && now - warnedAt < 60_000) return
        warnedAt = now
        yield* Effect.logWarning(
          `${tables.eventsName}: ${FeedStatus.format(status)}; readAll, subscriptions and projections ` +
            "deliver nothing newer until it ends (see idle_in_transaction_session_timeout)"
        )
      } else if (status.hiddenEvents === 0 && warnedAt !== undefined) {
        warnedAt = undefined
        yield* Effect.logInfo(`${tables.eventsName}: the feed is current again`)
      }
    })
  const feedStatus = span("Chronicle.SqlEventStore.feedStatus")(
    Effect.tap(failWith("feedStatus")(driver.feedStatus), observe)
  )

  const settle = Duration.greaterThan(settleTimeout, Duration.zero)
    ? Effect.flatMap(failWith("readAll")(driver.settle(settleTimeout)), (settled) =>
        settled ? Effect.void : Effect.ignore(feedStatus)
      )
    : Effect.void

  // One LISTEN connection for all of this store's subscribers, started with
  // the first and stopped with the last (the RcRef), listened to again after
  // it is lost. It wakes them on other processes' appends; this process's
  // appends wake them in-process (see `wake`).
  const ownWakeup = `chronicle:wake:${crypto.randomUUID()}`
  // Closed with the store's layer (a child of its scope), which stops a
  // notification still waiting for its interval; `make` run outside any
  // scope keeps it open for the life of the process.
  const outerScope = yield* Effect.serviceOption(Scope.Scope)
  const listenerScope = Option.isSome(outerScope)
    ? yield* Scope.fork(outerScope.value, ExecutionStrategy.sequential)
    : yield* Scope.make()
  const listener = yield* Option.match(driver.notifications, {
    onNone: () => Effect.succeedNone,
    onSome: (notifications) =>
      Effect.map(
        RcRef.make({
          acquire: Listener.start({
            channel: notifications.channel,
            listen: notifications.listen,
            notify: notifications.notify,
            ownWakeup,
            checkInterval: healthCheckInterval,
            onHealth: (listening) => Metric.set(listeningGauge, listening ? 1 : 0)
          })
        }),
        Option.some
      )
  }).pipe(Scope.extend(listenerScope))

  // Waking other processes' subscribers. The append itself does not notify:
  // a PostgreSQL transaction that has called `pg_notify` takes a global lock
  // at commit, which serializes every writer. After a commit, one
  // notification is sent at once, or, if one went less than `notifyInterval`
  // ago, at the end of that interval for every append committed meanwhile.
  // It carries nothing a reader needs: a woken subscriber reads from its own
  // position, and one that misses it polls. Inside a caller's transaction
  // the append notifies in the transaction (delivered if it commits).
  let notifyPending = false
  let notifiedAt = Number.NEGATIVE_INFINITY
  const notifyLater = Option.match(driver.notify, {
    onNone: () => Effect.void,
    onSome: (send) =>
      Effect.suspend(() => {
        if (notifyPending) return Effect.void
        notifyPending = true
        const delay = Math.max(0, notifiedAt + notifyInterval - liveClock.unsafeCurrentTimeMillis())
        const sendNow = Effect.suspend(() => {
          notifyPending = false
          notifiedAt = liveClock.unsafeCurrentTimeMillis()
          return Effect.ignore(send(ownWakeup))
        })
        return Effect.asVoid(
          Effect.forkIn(
            delay === 0 ? sendNow : Effect.zipRight(Effect.withClock(Effect.sleep(delay), liveClock), sendNow),
            listenerScope
          )
        )
      })
  })
  const notifyInTransaction = Option.match(driver.notify, {
    onNone: () => PubSub.publish(local, undefined),
    onSome: (send) => Effect.ignore(send(""))
  })
  /** After an append: wake this store's subscribers now, other processes' soon. */
  const wake = (inTransaction: boolean) =>
    inTransaction ? notifyInTransaction : Effect.zipRight(PubSub.publish(local, undefined), notifyLater)

  // PostgreSQL text cannot hold NUL: such a stream or type can never be stored.
  const hasNul = (text: string) => driver.dialect === "pg" && text.includes("\u0000")

  const current = (streamId: string) =>
    hasNul(streamId) ? Effect.succeed(0) : failWith("streamVersion")(driver.streamVersion(streamId))

  const conflict = (streamId: StreamId.StreamId, expected: ExpectedVersion.ExpectedVersion, actual: number) =>
    new AppendError.ConcurrencyError({ streamId, expected: ExpectedVersion.format(expected), actual })

  /** What a failed write means: a known outcome, or a `StoreError`. */
  const classify =
    (inTransaction: boolean) =>
    (error: DriverError): Effect.Effect<Attempt, StoreError.StoreError> => {
      if (error instanceof SqlError) {
        // Another append with the same ids committed while this one ran.
        if (driver.isEventIdViolation(error)) return Effect.succeed({ _tag: "Duplicate" })
        if (driver.isStreamVersionViolation(error)) return Effect.succeed({ _tag: "VersionTaken", error })
        // Inside a caller's transaction a lost connection rolls everything back.
        if (!inTransaction && driver.isOutcomeUnknown(error)) return Effect.succeed({ _tag: "Unknown", error })
      }
      return Effect.fail(toStoreError("append")(error))
    }

  const guardedWrite = (input: AppendInput, inTransaction: boolean): Effect.Effect<Attempt, StoreError.StoreError> =>
    validExact(input.expected)
      ? driver
          .write(input, inTransaction)
          .pipe(reconnectingIf(isNotSent), Effect.catchAll(classify(inTransaction)), catchSqlDefects("append"))
      : // An Exact version that no stream can be at: only idempotency can succeed.
        Effect.flatMap(failWith("append")(driver.lookup(input.events.map((e) => e.eventId))), (existing) =>
          existing.length > 0
            ? Effect.succeed<Attempt>({ _tag: "Duplicate" })
            : Effect.map(current(input.streamId), (actual): Attempt => ({ _tag: "Conflict", actual }))
        )

  // With inline projections, the write and the projections' handlers run in
  // one database transaction: the handlers use the same SqlClient, so their
  // writes commit with the events, and a failing handler rolls the append back.
  // A COMMIT that fails with the connection may have committed: `Unknown`.
  const writeWithInline = (
    input: AppendInput,
    metadata: Event.EventMetadata,
    inTransaction: boolean
  ): Effect.Effect<Attempt, StoreError.StoreError> =>
    Option.match(inline, {
      onNone: () => guardedWrite(input, inTransaction),
      onSome: (projections) =>
        Effect.suspend(() => {
          let committing = false
          return sql
            .withTransaction(
              Effect.tap(guardedWrite(input, true), (outcome) =>
                outcome._tag === "Written"
                  ? Effect.tap(projections.apply(storedOf(input, metadata, outcome)), () => {
                      committing = true
                    })
                  : Effect.void
              )
            )
            .pipe(
              Effect.mapError(toStoreError("append")),
              Effect.catchAllCause((cause): Effect.Effect<Attempt, StoreError.StoreError> => {
                const defect = Cause.dieOption(cause)
                if (
                  committing &&
                  !inTransaction &&
                  defect._tag === "Some" &&
                  defect.value instanceof SqlError &&
                  driver.isOutcomeUnknown(defect.value)
                ) {
                  return Effect.succeed({ _tag: "Unknown", error: defect.value })
                }
                return Effect.failCause(cause)
              }),
              catchSqlDefects("append")
            )
        })
    })

  const unknownOutcome = (streamId: StreamId.StreamId, lost: unknown, reason: string, cause: unknown) =>
    new AppendError.UnknownOutcomeError({
      operation: "append",
      streamId,
      reason: `the connection was lost after the append was sent (${describe(lost)}), and ${reason}; retrying with the same event ids is safe`,
      cause
    })

  // After a lost answer: look the event ids up on a new connection, for a
  // few seconds if need be. Found: the append committed. Not found: it did
  // not (or has not yet: the write is tried again, and idempotency sorts it).
  const resolveOutcome = (input: AppendInput, lost: unknown) =>
    driver.lookup(input.events.map((e) => e.eventId)).pipe(
      Effect.retry({
        schedule: outcomeCheck,
        while: (error) => isAcquireFailure(error) || isNotSent(error) || driver.isOutcomeUnknown(error)
      }),
      Effect.withClock(liveClock),
      Effect.mapError((error) =>
        unknownOutcome(input.streamId, lost, `checking whether it was committed failed too: ${describe(error)}`, error)
      )
    )

  /** What a written append returns. */
  const appended = (
    streamId: StreamId.StreamId,
    recordedAt: DateTime.Utc,
    outcome: { readonly version: number; readonly positions: ReadonlyArray<Position.Position> }
  ): Append.AppendResult => ({
    streamId,
    nextExpectedVersion: outcome.version,
    positions: outcome.positions,
    recordedAt,
    duplicate: false
  })

  // After a first write that did not go through: duplicates, a lost answer,
  // a streams row behind its events, conflicts. Only this path builds the
  // retry machinery; an append whose first write succeeds never gets here.
  const afterFirstWrite = Effect.fnUntraced(function* (
    input: AppendInput,
    metadata: Event.EventMetadata,
    inTransaction: boolean,
    first: Attempt
  ) {
    const { streamId, events: prepared, expected, recordedAt } = input
    const eventIds = prepared.map((e) => e.eventId)
    // made on the first conflict only
    let guard: Schedule.ScheduleDriver<unknown, unknown> | undefined
    const retryGuard = Effect.suspend(() =>
      guard === undefined ? Schedule.driver(guardRetry) : Effect.succeed(guard)
    ).pipe(
      Effect.flatMap((driver) => {
        guard = driver
        return driver.next(undefined)
      }),
      Effect.as(true),
      Effect.orElseSucceed(() => false),
      Effect.withClock(liveClock)
    )
    const repair = failWith("append")(driver.repairStream(streamId))
    const idempotent = (existing: ReadonlyArray<Backend.ExistingEvent>) =>
      Backend.idempotentResult(streamId, prepared, existing)
    let lost: unknown
    let duplicates = 0
    let repairs = 0
    let rewrites = 0
    let outcome: Attempt = first
    for (;;) {
      switch (outcome._tag) {
        case "Written": {
          yield* wake(inTransaction)
          return appended(streamId, recordedAt, outcome)
        }
        case "Duplicate": {
          const result = yield* idempotent(yield* failWith("append")(driver.lookup(eventIds)))
          if (Option.isSome(result)) return result.value
          // The first append with these ids rolled back meanwhile: write again.
          if (++duplicates >= 3) {
            return yield* StoreError.make({
              operation: "append",
              reason: "internal",
              detail: "event ids reported as stored could not be found"
            })
          }
          break
        }
        case "Unknown": {
          lost = outcome.error
          const result = yield* idempotent(yield* resolveOutcome(input, lost))
          if (Option.isSome(result)) {
            yield* wake(inTransaction)
            return result.value
          }
          if (++rewrites > 3) {
            return yield* unknownOutcome(streamId, lost, "the answer was lost on every try", lost)
          }
          break
        }
        case "VersionTaken": {
          // The streams row is behind the events (deleted or edited by hand):
          // repair it (or find it repaired by a concurrent append) and write again.
          if (repairs++ < 3) {
            yield* repair
            break
          }
          return yield* StoreError.make({
            operation: "append",
            reason: "internal",
            detail: `a stream version of ${streamId} is already taken: ${describe(outcome.error)}`,
            cause: outcome.error
          })
        }
        case "Conflict": {
          // A write tried again after a lost answer may find its own first try.
          if (lost !== undefined) {
            const result = yield* idempotent(yield* failWith("append")(driver.lookup(eventIds)))
            if (Option.isSome(result)) return result.value
          }
          // The stream was as expected: on PostgreSQL, the transaction-id
          // guard refused the write (a younger transaction took the row
          // first), or the version moved while the write waited for the row
          // lock. A new transaction settles it. A caller's transaction must
          // be retried by the caller (its transaction id is too old).
          if (!inTransaction && ExpectedVersion.isSatisfiedBy(expected, outcome.actual) && (yield* retryGuard)) break
          // The streams row is past the version expected: the stream has
          // moved on (a row is never ahead of its events), so this is a
          // conflict, told without another round trip. (A row behind its
          // events, or missing, reads as a lower version and is checked below.)
          const exactVersion =
            expected._tag === "Exact" ? expected.version : expected._tag === "NoStream" ? 0 : undefined
          if (lost === undefined && exactVersion !== undefined && outcome.actual > exactVersion) {
            return yield* conflict(streamId, expected, outcome.actual)
          }
          const state = yield* failWith("append")(driver.streamState(streamId))
          // A row behind the events: repair it (a concurrent append may have
          // just done so) and write again; the check then runs on a true row.
          if (state.events > (state.row ?? 0) && repairs++ < 3) {
            yield* repair
            break
          }
          // The stream is as expected after all (its row was missing when the
          // write ran, and a concurrent append has repaired it since).
          if (!inTransaction && ExpectedVersion.isSatisfiedBy(expected, state.events) && (yield* retryGuard)) break
          return yield* conflict(streamId, expected, state.events)
        }
      }
      outcome = yield* writeWithInline(input, metadata, inTransaction)
    }
  })

  // The common case, a first write that succeeds, as a plain chain of
  // steps: no generator, no retry state (see `afterFirstWrite`).
  const append = (
    streamId: StreamId.StreamId,
    events: ReadonlyArray<Event.EventData>,
    options?: Append.AppendOptions
  ): Effect.Effect<Append.AppendResult, AppendError.AppendError> =>
    Effect.flatMap(Backend.prepareAppend(streamId, events), (prepared) => {
      const invalid = (reason: string) => Effect.fail(new AppendError.InvalidAppendError({ streamId, reason }))
      if (hasNul(streamId)) return invalid("PostgreSQL cannot store a stream id containing NUL (\\u0000)")
      if (prepared.some((e) => hasNul(e.type))) {
        return invalid("PostgreSQL cannot store an event type containing NUL (\\u0000)")
      }
      const expected = options?.expectedVersion ?? ExpectedVersion.Any
      return Effect.flatMap(
        Backend.prepareMetadata(streamId, prepared[0]?.eventId ?? "", options),
        ({ metadata, json: metadataJson }) =>
          Effect.flatMap(DateTime.now, (recordedAt) =>
            Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) => {
              const inTransaction = Option.isSome(transaction)
              const input: AppendInput = { streamId, events: prepared, expected, metadataJson, recordedAt }
              return Effect.flatMap(writeWithInline(input, metadata, inTransaction), (outcome) =>
                outcome._tag === "Written"
                  ? Effect.as(wake(inTransaction), appended(streamId, recordedAt, outcome))
                  : afterFirstWrite(input, metadata, inTransaction, outcome)
              )
            })
          )
      )
    }).pipe(span("Chronicle.SqlEventStore.append"))

  // Several appends to distinct streams, as one statement when the driver
  // can (PostgreSQL, no inline projections, outside a caller's transaction,
  // no expected version): one round trip and one commit for all of them.
  // An append the statement did not write (a duplicate, a conflict), or all
  // of them when the statement fails, goes through `append` on its own, so
  // each gets the outcome and the error it would get alone.
  const appendMany = (
    requests: ReadonlyArray<EventStore.AppendRequest>
  ): Effect.Effect<ReadonlyArray<Either.Either<Append.AppendResult, AppendError.AppendError>>> => {
    const alone = (request: EventStore.AppendRequest) =>
      Effect.either(Metrics.trackAppend(append(request.streamId, request.events, request.options)))
    const separately = (all: ReadonlyArray<EventStore.AppendRequest>) =>
      Effect.forEach(all, alone, { concurrency: "unbounded" })
    const writeMany = driver.writeMany
    const streams = new Set(requests.map((r) => r.streamId))
    if (
      writeMany === undefined ||
      Option.isSome(inline) ||
      requests.length < 2 ||
      streams.size < requests.length ||
      requests.some(
        (r) =>
          (r.options?.expectedVersion ?? ExpectedVersion.Any)._tag !== "Any" ||
          hasNul(r.streamId) ||
          r.events.length === 0
      )
    ) {
      return separately(requests)
    }
    return Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
      Option.isSome(transaction)
        ? separately(requests)
        : Effect.gen(function* () {
            const recordedAt = yield* DateTime.now
            // invalid appends are refused on their own, as `append` refuses them
            const inputs: Array<AppendInput | undefined> = []
            for (const request of requests) {
              const prepared = yield* Effect.either(
                Effect.flatMap(Backend.prepareAppend(request.streamId, request.events), (events) =>
                  events.some((e) => hasNul(e.type))
                    ? Effect.fail(
                        new AppendError.InvalidAppendError({
                          streamId: request.streamId,
                          reason: "PostgreSQL cannot store an event type containing NUL (\\u0000)"
                        })
                      )
                    : Effect.map(
                        Backend.prepareMetadata(request.streamId, events[0]?.eventId ?? "", request.options),
                        ({ json }): AppendInput => ({
                          streamId: request.streamId,
                          events,
                          expected: ExpectedVersion.Any,
                          metadataJson: json,
                          recordedAt
                        })
                      )
                )
              )
              inputs.push(Either.getOrUndefined(prepared))
            }
            const valid = inputs.flatMap((input) => (input === undefined ? [] : [input]))
            const outcomes =
              valid.length < 2
                ? Option.none()
                : Either.getRight(
                    yield* Effect.either(reconnectingIf(isNotSent)(writeMany(valid)).pipe(catchSqlDefects("append")))
                  )
            if (Option.isNone(outcomes)) return yield* separately(requests)
            const written = new Map<AppendInput, WriteOutcome>()
            valid.forEach((input, i) => {
              const outcome = outcomes.value[i]
              if (outcome?._tag === "Written") written.set(input, outcome)
            })
            if (written.size > 0) yield* wake(false)
            return yield* Effect.forEach(
              requests,
              (request, i) => {
                const input = inputs[i]
                const outcome = input === undefined ? undefined : written.get(input)
                return input === undefined || outcome === undefined || outcome._tag !== "Written"
                  ? alone(request)
                  : Effect.either(Metrics.trackAppend(Effect.succeed(appended(request.streamId, recordedAt, outcome))))
              },
              { concurrency: "unbounded" }
            )
          }).pipe(span("Chronicle.SqlEventStore.appendMany"))
    )
  }

  const read = (
    streamId: StreamId.StreamId,
    options?: EventStore.ReadStreamOptions
  ): Stream.Stream<Event.StoredEvent, StoreError.StoreError> => {
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
  ): Effect.Effect<ReadonlyArray<Event.StoredEvent>, StoreError.StoreError> => {
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

  // A subscription rides out any outage by itself: a read that fails for a
  // passing reason (see isTransient) is retried with a backoff capped at
  // about a second, for as long as it takes. It says so once per outage (a
  // warning), and again when it reads again (info). Other failures (a
  // missing table or privilege) end the subscription with the StoreError.
  const resilient = <A>(
    readBatch: (from: Position.Position, limit: number) => Effect.Effect<A, StoreError.StoreError>,
    label: string
  ): ((from: Position.Position, limit: number) => Effect.Effect<A, StoreError.StoreError>) => {
    let outageSince: number | undefined
    return (from, limit) =>
      readBatch(from, limit).pipe(
        Effect.tapError((error) =>
          Effect.suspend(() => {
            if (outageSince !== undefined || !isTransient(error)) return Effect.void
            outageSince = liveClock.unsafeCurrentTimeMillis()
            return Effect.logWarning(
              `subscription to ${label} cannot read (${error.reason}: ${error.detail}); retrying until the database answers`
            )
          })
        ),
        Effect.retry({ while: isTransient, schedule: subscriptionRetry }),
        Effect.withClock(liveClock),
        Effect.tap(() =>
          Effect.suspend(() => {
            if (outageSince === undefined) return Effect.void
            const seconds = ((liveClock.unsafeCurrentTimeMillis() - outageSince) / 1000).toFixed(1)
            outageSince = undefined
            return Effect.logInfo(`subscription to ${label} reads again after ${seconds} s`)
          })
        )
      )
  }

  // While a PostgreSQL subscription runs, the feed status is checked every
  // `healthCheckInterval` (for the gauges and the warning).
  const watchFeed =
    driver.dialect === "pg"
      ? Effect.ignore(feedStatus).pipe(
          Effect.delay(healthCheckInterval),
          Effect.forever,
          Effect.withClock(liveClock),
          Effect.forkScoped,
          Effect.asVoid
        )
      : Effect.void

  const describeFilter = (filter: EventStore.EventFilter): string => {
    const parts = [
      filter.categories !== undefined && filter.categories.length > 0
        ? `categories ${filter.categories.join(", ")}`
        : "",
      filter.types !== undefined && filter.types.length > 0 ? `types ${filter.types.join(", ")}` : ""
    ].filter((part) => part.length > 0)
    return parts.length > 0 ? `${tables.eventsName} (${parts.join("; ")})` : tables.eventsName
  }

  return EventStore.EventStore.of({
    append: EventStore.withAppendMany(
      (streamId, events, appendOptions) => Metrics.trackAppend(append(streamId, events, appendOptions)),
      appendMany
    ),
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
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const remote = Option.isSome(listener) ? Stream.fromPubSub(yield* RcRef.get(listener.value)) : Stream.never
          yield* watchFeed
          return Backend.followFeed(resilient(readBatch(options ?? {}), describeFilter(options ?? {})), {
            from: options?.from ?? Position.start,
            batchSize: clampBatch(options?.batchSize, batchSize),
            pollInterval: options?.pollInterval ?? pollInterval,
            wakeups: Stream.merge(remote, Stream.fromPubSub(local))
          })
        })
      ),
    // The scan reaches the gap-safe head read just before each batch: on
    // PostgreSQL never past an event of a transaction still in flight.
    subscribeScanned: (options) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const remote = Option.isSome(listener) ? Stream.fromPubSub(yield* RcRef.get(listener.value)) : Stream.never
          yield* watchFeed
          const scan = Backend.scanUpToHead(readBatch(options ?? {}), failWith("head")(driver.head))
          return Backend.followScanned(resilient(scan, describeFilter(options ?? {})), {
            from: options?.from ?? Position.start,
            batchSize: clampBatch(options?.batchSize, batchSize),
            pollInterval: options?.pollInterval ?? pollInterval,
            wakeups: Stream.merge(remote, Stream.fromPubSub(local))
          })
        })
      ),
    count: (options) => {
      const limit = options.limit === undefined ? undefined : Math.max(0, Math.floor(options.limit))
      if (limit === 0 || Number.isNaN(limit)) return Effect.succeed(0)
      return span("Chronicle.SqlEventStore.count")(
        Effect.zipRight(
          settle,
          failWith("readAll")(
            driver.countAll(
              options.from ?? Position.start,
              options.upTo,
              limit === undefined || !Number.isFinite(limit) ? undefined : limit,
              options
            )
          )
        )
      )
    },
    streamVersion: (streamId) => span("Chronicle.SqlEventStore.streamVersion")(current(streamId)),
    head: span("Chronicle.SqlEventStore.head")(Effect.zipRight(settle, failWith("head")(driver.head))),
    feedStatus
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
export function layer(options?: Options): Layer.Layer<EventStore.EventStore, StoreError.StoreError, SqlClient.SqlClient>
export function layer<R>(
  options: StoreOptions<R>
): Layer.Layer<EventStore.EventStore, StoreError.StoreError, SqlClient.SqlClient | R>
export function layer<R>(
  options?: StoreOptions<R>
): Layer.Layer<EventStore.EventStore, StoreError.StoreError, SqlClient.SqlClient | R> {
  return Layer.scoped(EventStore.EventStore, options === undefined ? make() : make(options))
}

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
export const layerConfig = <R = never>(
  config: Config.Config.Wrap<Options>,
  hooks?: { readonly onAppend?: Append.AppendHook<R> | undefined }
): Layer.Layer<EventStore.EventStore, StoreError.StoreError | ConfigError.ConfigError, SqlClient.SqlClient | R> =>
  Layer.scoped(
    EventStore.EventStore,
    Effect.flatMap(Config.unwrap(config), (options) => make({ ...options, onAppend: hooks?.onAppend }))
  )
