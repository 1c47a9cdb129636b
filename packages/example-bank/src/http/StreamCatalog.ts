/**
 * The stream catalog: a read model of every stream in the store (all
 * categories, every event type), for the explorer's "streams by category"
 * view. The event store reads streams and the global feed but does not list
 * streams, so the catalog is a projection like any other: it follows the
 * global feed and keeps one row per stream (its category, version and last
 * event) in `bank_stream_catalog_v<n>`.
 *
 * It reads events of every type without decoding their payloads, through a
 * codec of its own ({@link anyEvent}): it needs only what every stored event
 * has (stream, version, position, type, time). A corrupt row still counts
 * for its stream. Rows are upserted only forward (a lower version never
 * overwrites a higher one), so a batch applied twice changes nothing.
 *
 * @since 0.5.0
 */
import { Event, type EventCodec, Position, Projection, StreamId } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Either, Option, Schema } from "effect"
import * as Projections from "../Projections.js"
import { Integer } from "../readModels/Tables.js"

/**
 * An event of any type, as the catalog sees it: its type name only.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { StreamCatalog } from "@chronicle/example-bank/http"
 *
 * const typeName = (event: StreamCatalog.AnyEvent) => event._tag
 * Either.map(StreamCatalog.anyEvent.decodePayload("MoneyDeposited", { amount: 500 }), typeName) // Either.right("MoneyDeposited")
 * ```
 * @since 0.5.0
 * @category models
 */
export interface AnyEvent {
  readonly _tag: string
}

/**
 * A codec that reads every stored event, of any type and schema version, as
 * an {@link AnyEvent}, and writes none. Its `storedTypes` is empty, which an
 * `EventFilter` reads as "every type".
 *
 * @example
 * ```ts
 * import { StreamCatalog } from "@chronicle/example-bank/http"
 *
 * StreamCatalog.anyEvent.storedTypes // []
 * ```
 * @since 0.5.0
 * @category codec
 */
export const anyEvent: EventCodec.EventCodec<AnyEvent> = {
  types: [],
  storedTypes: [],
  versionOf: () => 1,
  encode: (event) =>
    Either.left(
      new Event.EventEncodeError({ eventType: event._tag, reason: "the stream catalog reads events, it writes none" })
    ),
  decode: (stored) => Either.right(Event.recordedAs(stored, { _tag: stored.type })),
  decodePayload: (type) => Either.right({ _tag: type }),
  upcasters: []
}

const catalogTable = "stream_catalog"

const CatalogRow = Schema.Struct({
  stream_id: Schema.String,
  category: Schema.String,
  version: Integer,
  last_type: Schema.String,
  last_position: Schema.String,
  last_recorded_at: Schema.DateTimeUtc
})

const CategoryRow = Schema.Struct({ category: Schema.String, streams: Integer, events: Integer })

/**
 * The stream catalog projection (`stream-catalog`, version 1).
 *
 * @example
 * ```ts
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 * import { Stream } from "effect"
 * import { StreamCatalog } from "@chronicle/example-bank/http"
 *
 * const refresh = ProjectionAdmin.catchUp(StreamCatalog.StreamCatalog).pipe(Stream.runDrain)
 * ```
 * @since 0.5.0
 * @category projections
 */
export const StreamCatalog: Projection.Projection<AnyEvent, Projections.HandlerError, SqlClient.SqlClient> =
  Projection.make<AnyEvent, Projections.HandlerError, SqlClient.SqlClient>({
    name: "stream-catalog",
    version: 1,
    from: anyEvent,
    setup: (context) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`CREATE TABLE IF NOT EXISTS ${sql(Projections.tableName(catalogTable, context.version))} (
          stream_id TEXT PRIMARY KEY,
          category TEXT NOT NULL,
          version BIGINT NOT NULL,
          last_type TEXT NOT NULL,
          last_position TEXT NOT NULL,
          last_recorded_at TEXT NOT NULL)`
      ),
    reset: (context) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`DELETE FROM ${sql(Projections.tableName(catalogTable, context.version))}`
      ),
    teardown: (context) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`DROP TABLE IF EXISTS ${sql(Projections.tableName(catalogTable, context.version))}`
      ),
    handleBatch: (events, context) =>
      Effect.gen(function* () {
        const last = new Map<string, (typeof events)[number]>()
        for (const recorded of events) {
          const seen = last.get(recorded.streamId)
          if (seen === undefined || recorded.version > seen.version) last.set(recorded.streamId, recorded)
        }
        if (last.size === 0) return
        const sql = yield* SqlClient.SqlClient
        const table = sql(Projections.tableName(catalogTable, context.version))
        const values = [...last.values()].map((recorded) => ({
          stream_id: recorded.streamId,
          category: StreamId.category(recorded.streamId),
          version: recorded.version,
          last_type: recorded.type,
          last_position: Position.encode(recorded.position),
          last_recorded_at: DateTime.formatIso(recorded.recordedAt)
        }))
        yield* sql`INSERT INTO ${table} ${sql.insert(values)}
          ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_type = excluded.last_type,
            last_position = excluded.last_position, last_recorded_at = excluded.last_recorded_at
          WHERE ${table}.version < excluded.version`
      })
  })

/**
 * One stream in the catalog.
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import { StreamCatalog } from "@chronicle/example-bank/http"
 *
 * const line = (entry: StreamCatalog.StreamEntry) =>
 *   `${entry.streamId} v${entry.version}: ${entry.lastType} at ${DateTime.formatIso(entry.lastRecordedAt)}`
 * const lines = Effect.map(StreamCatalog.streams({ category: "Account", limit: 20 }), (page) => page.items.map(line))
 * ```
 * @since 0.5.0
 * @category models
 */
export interface StreamEntry {
  readonly streamId: string
  readonly category: string
  readonly version: number
  readonly lastType: string
  readonly lastPosition: string
  readonly lastRecordedAt: DateTime.Utc
}

/**
 * One category: how many streams and events.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StreamCatalog } from "@chronicle/example-bank/http"
 *
 * const line = ({ category, streams, events }: StreamCatalog.CategoryCount) => `${category}: ${streams} streams, ${events} events`
 * const lines = Effect.map(StreamCatalog.categories, (counts) => counts.map(line))
 * ```
 * @since 0.5.0
 * @category models
 */
export interface CategoryCount {
  readonly category: string
  readonly streams: number
  readonly events: number
}

const table = (sql: SqlClient.SqlClient) => sql(Projections.tableName(catalogTable, StreamCatalog.version))

/**
 * Every category in the catalog with its counts, by name.
 *
 * @example
 * ```ts
 * import { StreamCatalog } from "@chronicle/example-bank/http"
 *
 * const categories = StreamCatalog.categories
 * ```
 * @since 0.5.0
 * @category queries
 */
export const categories: Effect.Effect<
  ReadonlyArray<CategoryCount>,
  Projections.HandlerError,
  SqlClient.SqlClient
> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* StreamCatalog.setup(StreamCatalog)
  const rows = yield* sql`SELECT category, COUNT(*) AS streams, SUM(version) AS events
      FROM ${table(sql)} GROUP BY category ORDER BY category`
  const counts: ReadonlyArray<CategoryCount> = yield* Schema.decodeUnknown(Schema.Array(CategoryRow))(rows)
  return counts
}).pipe(Effect.withSpan("Bank.StreamCatalog.categories"))

/**
 * A page of streams by id, after `after`, optionally of one category: at
 * most `limit` rows, and the id to continue after when there are more.
 *
 * @example
 * ```ts
 * import { StreamCatalog } from "@chronicle/example-bank/http"
 *
 * const firstAccounts = StreamCatalog.streams({ category: "Account", limit: 20 })
 * ```
 * @since 0.5.0
 * @category queries
 */
export const streams = Effect.fn("Bank.StreamCatalog.streams")(function* (options: {
  readonly category?: string | undefined
  readonly after?: string | undefined
  readonly limit: number
}) {
  const sql = yield* SqlClient.SqlClient
  yield* StreamCatalog.setup(StreamCatalog)
  const byCategory = options.category === undefined ? sql`` : sql`AND category = ${options.category}`
  const rows = yield* sql`SELECT stream_id, category, version, last_type, last_position, last_recorded_at
    FROM ${table(sql)} WHERE stream_id > ${options.after ?? ""} ${byCategory}
    ORDER BY stream_id LIMIT ${options.limit + 1}`
  const decoded = yield* Schema.decodeUnknown(Schema.Array(CatalogRow))(rows)
  const items: ReadonlyArray<StreamEntry> = decoded.slice(0, options.limit).map((row) => ({
    streamId: row.stream_id,
    category: row.category,
    version: row.version,
    lastType: row.last_type,
    lastPosition: row.last_position,
    lastRecordedAt: row.last_recorded_at
  }))
  const next = decoded.length > options.limit ? Option.fromNullable(items[items.length - 1]?.streamId) : Option.none()
  return { items, next }
})
