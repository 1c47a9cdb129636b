/**
 * Row codecs. Each dialect returns its own column types (pg: bigint as text,
 * json as objects, timestamptz as `Date`; SQLite: integers as numbers, JSON
 * and timestamps as text), so each has its Schema; both decode to the same
 * `StoredEvent`.
 *
 * @internal
 */
import { Backend, Event, Position, StreamId } from "@chronicle/core"
import { Schema } from "effect"

/** @internal */
export const PgEventRow = Schema.Struct({
  transaction_id: Schema.BigInt,
  position: Schema.BigInt,
  event_id: Schema.String,
  stream_id: StreamId.StreamId,
  stream_version: Schema.NumberFromString,
  event_type: Schema.String,
  schema_version: Schema.Number,
  data: Schema.Unknown,
  metadata: Event.EventMetadataSchema,
  recorded_at: Schema.DateTimeUtcFromDate
})

/**
 * SQLite integers are read as JavaScript numbers (no `SafeIntegers`): exact
 * up to 2^53, far beyond any position or version a SQLite store reaches.
 *
 * @internal
 */
export const SqliteEventRow = Schema.Struct({
  position: Schema.BigIntFromNumber,
  event_id: Schema.String,
  stream_id: StreamId.StreamId,
  stream_version: Schema.Number,
  event_type: Schema.String,
  schema_version: Schema.Number,
  data: Schema.parseJson(),
  metadata: Schema.parseJson(Event.EventMetadataSchema),
  recorded_at: Schema.DateTimeUtc
})

/** @internal */
export const decodePgEvents = Schema.decodeUnknown(Schema.Array(PgEventRow))

/** @internal */
export const decodeSqliteEvents = Schema.decodeUnknown(Schema.Array(SqliteEventRow))

/** @internal */
export const toStoredEvent = (
  row: Omit<typeof SqliteEventRow.Type, "position">,
  position: Position.Position
): Event.StoredEvent =>
  Object.freeze({
    eventId: row.event_id,
    streamId: row.stream_id,
    version: row.stream_version,
    position,
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: Backend.deepFreeze(row.data),
    metadata: Backend.deepFreeze(row.metadata),
    recordedAt: row.recorded_at
  })

/** @internal */
export const fromPgRow = (row: typeof PgEventRow.Type): Event.StoredEvent =>
  toStoredEvent(row, Position.make(row.transaction_id, row.position))

/** @internal */
export const fromSqliteRow = (row: typeof SqliteEventRow.Type): Event.StoredEvent =>
  toStoredEvent(row, Position.make(0n, row.position))

/** The columns every event read selects (pg casts its bigints to text). @internal */
export const pgEventColumns =
  "transaction_id::text AS transaction_id, position::text AS position, event_id::text AS event_id, stream_id, stream_version::text AS stream_version, event_type, schema_version, data, metadata, recorded_at"

/** @internal */
export const sqliteEventColumns =
  "position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at"

/** A row of an event-id lookup. @internal */
export const PgExistingRow = Schema.Struct({
  event_id: Schema.String,
  stream_id: Schema.String,
  stream_version: Schema.NumberFromString,
  transaction_id: Schema.BigInt,
  position: Schema.BigInt,
  recorded_at: Schema.DateTimeUtcFromDate
})

/** @internal */
export const SqliteExistingRow = Schema.Struct({
  event_id: Schema.String,
  stream_id: Schema.String,
  stream_version: Schema.Number,
  position: Schema.BigIntFromNumber,
  recorded_at: Schema.DateTimeUtc
})
