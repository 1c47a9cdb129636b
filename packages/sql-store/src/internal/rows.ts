/**
 * Row codecs. Each dialect returns its own column types (pg: bigint as text,
 * json as objects, timestamptz as `Date`; SQLite: integers as numbers, JSON
 * and timestamps as text), so each has its Schema; both decode to the same
 * `StoredEvent`.
 *
 * Reads are hot (every command loads its stream, a rehydration decodes
 * thousands of rows), so the event rows are first checked by hand, column by
 * column, with `typeof` tests that accept only the exact shapes the driver
 * returns. When any row fails such a check, the whole result is decoded by
 * its Schema instead: a malformed row still becomes the Schema's
 * `ParseError` (hence a typed `StoreError`), with the same message, and an
 * unusual but valid value gets exactly the Schema's decoding.
 *
 * @internal
 */
import { Backend, Event, Position, StreamId } from "@chronicle/core"
import { DateTime, Effect, type ParseResult, Schema } from "effect"

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

const decodePgEventsBySchema = Schema.decodeUnknown(Schema.Array(PgEventRow))

const decodeSqliteEventsBySchema = Schema.decodeUnknown(Schema.Array(SqliteEventRow))

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

/**
 * A stored event found by its id, as the idempotency check needs it; `commit`
 * is the transaction id on PostgreSQL, `0n` on SQLite.
 *
 * @internal
 */
export const toExistingEvent = (
  row: {
    readonly event_id: string
    readonly stream_id: string
    readonly stream_version: number
    readonly position: bigint
    readonly recorded_at: DateTime.Utc
  },
  commit: bigint
): Backend.ExistingEvent => ({
  eventId: row.event_id,
  streamId: row.stream_id,
  version: row.stream_version,
  position: Position.make(commit, row.position),
  recordedAt: row.recorded_at
})

/** A driver row, as an object whose columns may be read (row decoding). @internal */
export type RawRow = { readonly [column: string]: unknown }

const isRow = (row: unknown): row is RawRow => typeof row === "object" && row !== null

/**
 * `true` for a non-empty string of ASCII digits: the text of a non-negative
 * integer column, which `BigInt`, `Number` and the Schema transformations all
 * read alike (and `BigInt` cannot throw on).
 *
 * @internal
 */
export const isDigits = (text: string): boolean => {
  if (text.length === 0) return false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** The value of a non-negative bigint column read as text, or `undefined`. @internal */
export const bigIntOfText = (value: unknown): bigint | undefined =>
  typeof value === "string" && isDigits(value) ? BigInt(value) : undefined

/** The value of a non-negative integer column read as text, or `undefined`. @internal */
export const numberOfText = (value: unknown): number | undefined =>
  typeof value === "string" && isDigits(value) ? Number(value) : undefined

const isStreamId = (value: unknown): value is StreamId.StreamId =>
  typeof value === "string" && value.length > 0 && value.length <= 1000

const isPlainObject = (value: unknown): value is { readonly [key: string]: unknown } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The metadata column, checked by hand: exactly what `EventMetadataSchema`
 * keeps (its three fields, excess keys dropped), or `undefined` when the
 * value needs the Schema.
 */
const metadataOf = (value: unknown): Event.EventMetadata | undefined => {
  if (!isPlainObject(value)) return undefined
  const { correlationId, causationId, user } = value
  if (typeof correlationId !== "string") return undefined
  if (causationId !== null && typeof causationId !== "string") return undefined
  if (!isPlainObject(user)) return undefined
  return Object.freeze({ correlationId, causationId, user: Backend.deepFreeze(user) })
}

/**
 * Runs `fast` on every row; if it rejects any (returns `undefined`), decodes
 * the whole array by `bySchema` instead, so errors and edge cases are the
 * Schema's own.
 *
 * @internal
 */
export const decodeRows =
  <Row, A>(
    fast: (row: RawRow) => A | undefined,
    bySchema: (rows: unknown) => Effect.Effect<ReadonlyArray<Row>, ParseResult.ParseError>,
    fromRow: (row: Row) => A
  ) =>
  (rows: unknown): Effect.Effect<ReadonlyArray<A>, ParseResult.ParseError> => {
    if (Array.isArray(rows)) {
      const decoded: Array<A> = []
      for (const row of rows) {
        const value = isRow(row) ? fast(row) : undefined
        if (value === undefined) break
        decoded.push(value)
      }
      if (decoded.length === rows.length) return Effect.succeed(decoded)
    }
    return Effect.map(bySchema(rows), (valid) => valid.map(fromRow))
  }

const fastPgEvent = (row: RawRow): Event.StoredEvent | undefined => {
  const commit = bigIntOfText(row.transaction_id)
  const sequence = bigIntOfText(row.position)
  const { event_id, stream_id, stream_version, event_type, schema_version, data, recorded_at } = row
  if (commit === undefined || sequence === undefined) return undefined
  if (typeof event_id !== "string" || !isStreamId(stream_id) || typeof event_type !== "string") return undefined
  const version = numberOfText(stream_version)
  if (version === undefined || typeof schema_version !== "number") return undefined
  if (data === undefined || !(recorded_at instanceof Date) || Number.isNaN(recorded_at.getTime())) return undefined
  const metadata = metadataOf(row.metadata)
  if (metadata === undefined) return undefined
  return Object.freeze({
    eventId: event_id,
    streamId: stream_id,
    version,
    position: Position.make(commit, sequence),
    type: event_type,
    schemaVersion: schema_version,
    data: Backend.deepFreeze(data),
    metadata,
    recordedAt: DateTime.unsafeFromDate(recorded_at)
  })
}

/**
 * PostgreSQL event rows to `StoredEvent`s (a `ParseError` for a malformed row).
 *
 * @internal
 */
export const decodePgEvents: (
  rows: unknown
) => Effect.Effect<ReadonlyArray<Event.StoredEvent>, ParseResult.ParseError> = decodeRows(
  fastPgEvent,
  decodePgEventsBySchema,
  (row) => fromPgRow(row)
)

/** `JSON.parse`, as `Schema.parseJson()` runs it, or `undefined` when the text does not parse. */
const parseJsonText = (value: unknown): { readonly parsed: unknown } | undefined => {
  if (typeof value !== "string") return undefined
  try {
    return { parsed: JSON.parse(value) }
  } catch {
    return undefined
  }
}

/** `DateTime.unsafeMake`, as `Schema.DateTimeUtc` runs it, or `undefined` when it throws. */
const dateTimeOfText = (value: unknown): DateTime.Utc | undefined => {
  if (typeof value !== "string") return undefined
  try {
    return DateTime.unsafeMake(value)
  } catch {
    return undefined
  }
}

const fastSqliteEvent = (row: RawRow): Event.StoredEvent | undefined => {
  const { position, event_id, stream_id, stream_version, event_type, schema_version } = row
  if (typeof position !== "number" || !Number.isSafeInteger(position)) return undefined
  if (typeof event_id !== "string" || !isStreamId(stream_id) || typeof event_type !== "string") return undefined
  if (typeof stream_version !== "number" || typeof schema_version !== "number") return undefined
  const data = parseJsonText(row.data)
  const metadataJson = parseJsonText(row.metadata)
  const recordedAt = dateTimeOfText(row.recorded_at)
  if (data === undefined || metadataJson === undefined || recordedAt === undefined) return undefined
  const metadata = metadataOf(metadataJson.parsed)
  if (metadata === undefined) return undefined
  return Object.freeze({
    eventId: event_id,
    streamId: stream_id,
    version: stream_version,
    position: Position.make(0n, BigInt(position)),
    type: event_type,
    schemaVersion: schema_version,
    data: Backend.deepFreeze(data.parsed),
    metadata,
    recordedAt
  })
}

/**
 * SQLite event rows to `StoredEvent`s (a `ParseError` for a malformed row).
 *
 * @internal
 */
export const decodeSqliteEvents: (
  rows: unknown
) => Effect.Effect<ReadonlyArray<Event.StoredEvent>, ParseResult.ParseError> = decodeRows(
  fastSqliteEvent,
  decodeSqliteEventsBySchema,
  (row) => fromSqliteRow(row)
)
