/**
 * Row codecs. Each dialect returns its own column types (pg: bigint as text,
 * json as objects, and the event reads' timestamptz and metadata as text, see
 * {@link pgTimestamp} and {@link pgEventColumns}; SQLite: integers as numbers,
 * JSON and timestamps as text), so each has its Schema; both decode to the
 * same `StoredEvent`.
 *
 * Reads are hot (every command loads its stream, a rehydration decodes
 * thousands of rows), so the event rows are first checked by hand, column by
 * column, with `typeof` tests that accept only the exact shapes the driver
 * returns. A row that fails such a check is decoded again column by column,
 * leniently: a column that does not decode (metadata of the wrong shape, a
 * timestamp or a payload that does not parse) gets a safe stand-in, and the
 * row is marked `corrupt` with what is wrong, so it still takes its place in
 * the feed and every codec refuses it with an error naming it. Only a row
 * that cannot be placed at all (no readable position, or, for a stream read,
 * no readable version) fails the read, with a `StoreError` naming the row.
 *
 * @internal
 */
import { Event, Position, StoreError, StreamId } from "@chronicle/core"
import * as Backend from "@chronicle/core/Backend"
import { DateTime, Effect, Either, ParseResult, Schema } from "effect"

/**
 * The columns every event read selects. pg casts its bigints to text, and its
 * timestamp and metadata too: the text the server sends anyway, which the
 * driver would otherwise parse (into a `Date`, with `JSON.parse`) on every
 * row; the store parses each once per distinct text (the events of one
 * append share both), see {@link pgTimestamp}.
 *
 * @internal
 */
export const pgEventColumns =
  "transaction_id::text AS transaction_id, position::text AS position, event_id::text AS event_id, stream_id, stream_version::text AS stream_version, event_type, schema_version, data, metadata::text AS metadata, recorded_at::text AS recorded_at"

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
  recorded_at: Schema.DateTimeUtcFromDate,
  event_type: Schema.String,
  schema_version: Schema.Number,
  data: Schema.Unknown
})

/** @internal */
export const SqliteExistingRow = Schema.Struct({
  event_id: Schema.String,
  stream_id: Schema.String,
  stream_version: Schema.Number,
  position: Schema.BigIntFromNumber,
  recorded_at: Schema.DateTimeUtc,
  event_type: Schema.String,
  schema_version: Schema.Number,
  data: Schema.parseJson()
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
    readonly event_type: string
    readonly schema_version: number
    readonly data: unknown
  },
  commit: bigint
): Backend.ExistingEvent => ({
  eventId: row.event_id,
  streamId: row.stream_id,
  version: row.stream_version,
  position: Position.make(commit, row.position),
  recordedAt: row.recorded_at,
  type: row.event_type,
  schemaVersion: row.schema_version,
  data: row.data
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

/**
 * What consecutive rows of one read often share, kept from the previous row
 * so that it is built once: the events of one append have one transaction
 * id, one timestamp and one metadata. Shared values are immutable (a bigint,
 * a `DateTime.Utc`, frozen metadata), so sharing them changes no value.
 */
interface Shared {
  commitText: unknown
  commit: bigint | undefined
  recordedAtText: string | undefined
  recordedAt: DateTime.Utc | undefined
  metadataText: string | undefined
  metadata: Event.EventMetadata | undefined
}

const newShared = (): Shared => ({
  commitText: undefined,
  commit: undefined,
  recordedAtText: undefined,
  recordedAt: undefined,
  metadataText: undefined,
  metadata: undefined
})

/** `JSON.parse`, as `Schema.parseJson()` runs it, or `undefined` when the text does not parse. */
const parseJsonText = (value: unknown): { readonly parsed: unknown } | undefined => {
  if (typeof value !== "string") return undefined
  try {
    return { parsed: JSON.parse(value) }
  } catch {
    return undefined
  }
}

/**
 * The metadata column's JSON text by {@link metadataOf}, or the previous
 * row's metadata when the text is the same (the events of one append share
 * it): the text is parsed once per distinct value, not on every row.
 */
const sharedMetadata = (value: unknown, shared: Shared): Event.EventMetadata | undefined => {
  if (typeof value !== "string") return undefined
  if (value === shared.metadataText && shared.metadata !== undefined) return shared.metadata
  const parsed = parseJsonText(value)
  const metadata = parsed === undefined ? undefined : metadataOf(parsed.parsed)
  if (metadata !== undefined) {
    shared.metadataText = value
    shared.metadata = metadata
  }
  return metadata
}

/**
 * The milliseconds of a timestamptz as PostgreSQL writes it in its ISO
 * DateStyle (`2024-01-31 12:34:56.789012+00`, `…-03:30`, `…+00:53:28`,
 * `0044-03-15 … BC`, years of five or six digits), computed exactly as the
 * `pg` driver's parser (postgres-date 1.x) computes its `Date`: the fraction
 * as `1000 * parseFloat(".ffffff")` (so microseconds are cut, not rounded),
 * `Date.UTC`, years 0–99 set back with `setUTCFullYear`, then the offset
 * subtracted. `NaN` when out of the `Date` range; `undefined` when the text is
 * not of that form (another DateStyle, `infinity`), which the driver did not
 * read as a `Date` either.
 */
const pgTimestampMillis = (text: string): number | undefined => {
  const length = text.length
  let i = 0
  let year = 0
  while (i < length) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) break
    year = year * 10 + (c - 48)
    i++
  }
  if (i === 0 || i > 9) return undefined
  const two = (at: number): number => {
    const a = text.charCodeAt(at) - 48
    const b = text.charCodeAt(at + 1) - 48
    return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
  }
  // -MM-DD HH:MM:SS
  if (i + 15 > length) return undefined
  if (text[i] !== "-" || text[i + 3] !== "-" || text[i + 6] !== " " || text[i + 9] !== ":" || text[i + 12] !== ":")
    return undefined
  const month = two(i + 1)
  const day = two(i + 4)
  const hour = two(i + 7)
  const minute = two(i + 10)
  const second = two(i + 13)
  if (month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined
  i += 15
  let millis = 0
  if (text[i] === ".") {
    const start = i
    i++
    while (i < length) {
      const c = text.charCodeAt(i)
      if (c < 48 || c > 57) break
      i++
    }
    if (i === start + 1) return undefined
    millis = 1000 * Number.parseFloat(text.slice(start, i))
  }
  const sign = text[i] === "+" ? 1 : text[i] === "-" ? -1 : 0
  if (sign === 0) return undefined
  let offset = two(i + 1)
  if (offset < 0) return undefined
  offset *= 3600
  i += 3
  for (const factor of [60, 1]) {
    if (text[i] !== ":") break
    const part = two(i + 1)
    if (part < 0) return undefined
    offset += part * factor
    i += 3
  }
  if (i + 3 === length && text.endsWith(" BC")) {
    year = 1 - year
    i += 3
  }
  if (i !== length) return undefined
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis))
  if (year >= 0 && year < 100) date.setUTCFullYear(year)
  if (offset !== 0) date.setTime(date.getTime() - sign * offset * 1000)
  return date.getTime()
}

/**
 * A timestamptz column of an event read (selected as text, see
 * {@link pgEventColumns}) as the `DateTime` the driver's `Date` gave, or
 * `undefined` when it is not a readable timestamp.
 *
 * @internal
 */
export const pgTimestamp = (value: unknown): DateTime.Utc | undefined => {
  if (typeof value !== "string") return undefined
  const millis = pgTimestampMillis(value)
  return millis === undefined || Number.isNaN(millis) ? undefined : DateTime.unsafeMake(millis)
}

/**
 * The timestamp column by `parse`, or the previous row's `DateTime` when the
 * column holds the same text.
 */
const sharedTime = (
  value: unknown,
  parse: (value: unknown) => DateTime.Utc | undefined,
  shared: Shared
): DateTime.Utc | undefined => {
  if (value === shared.recordedAtText && shared.recordedAt !== undefined) return shared.recordedAt
  const recordedAt = parse(value)
  if (recordedAt !== undefined && typeof value === "string") {
    shared.recordedAtText = value
    shared.recordedAt = recordedAt
  }
  return recordedAt
}

const fastPgEvent = (row: RawRow, shared: Shared): Event.StoredEvent | undefined => {
  const { event_id, stream_id, stream_version, event_type, schema_version, data, recorded_at } = row
  const commitText = row.transaction_id
  const commit = commitText === shared.commitText ? shared.commit : bigIntOfText(commitText)
  const sequence = bigIntOfText(row.position)
  if (commit === undefined || sequence === undefined) return undefined
  shared.commitText = commitText
  shared.commit = commit
  if (typeof event_id !== "string" || !isStreamId(stream_id) || typeof event_type !== "string") return undefined
  const version = numberOfText(stream_version)
  if (version === undefined || typeof schema_version !== "number") return undefined
  if (data === undefined) return undefined
  const recordedAt = sharedTime(recorded_at, pgTimestamp, shared)
  if (recordedAt === undefined) return undefined
  const metadata = sharedMetadata(row.metadata, shared)
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
    recordedAt
  })
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

const fastSqliteEvent = (row: RawRow, shared: Shared): Event.StoredEvent | undefined => {
  const { position, event_id, stream_id, stream_version, event_type, schema_version } = row
  if (typeof position !== "number" || !Number.isSafeInteger(position)) return undefined
  if (typeof event_id !== "string" || !isStreamId(stream_id) || typeof event_type !== "string") return undefined
  if (typeof stream_version !== "number" || !Number.isSafeInteger(stream_version) || stream_version < 1)
    return undefined
  if (typeof schema_version !== "number" || !Number.isInteger(schema_version)) return undefined
  const data = parseJsonText(row.data)
  const recordedAt = sharedTime(row.recorded_at, dateTimeOfText, shared)
  if (data === undefined || recordedAt === undefined) return undefined
  const metadata = sharedMetadata(row.metadata, shared)
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

/** The metadata of a corrupt row: empty, so that nothing downstream trips on it. */
const standInMetadata: Event.EventMetadata = Object.freeze({
  correlationId: "",
  causationId: null,
  user: Object.freeze({})
})

const standInTime = DateTime.unsafeMake(0)

const decodeMetadata = Schema.decodeUnknownEither(Event.EventMetadataSchema)

const shortly = (value: unknown): string => {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value)
  return text.length > 60 ? `${text.slice(0, 60)}…` : text
}

/** Why a value is not the metadata, one line: `correlationId: is missing; user: ...`. */
const metadataProblem = (value: unknown): string | undefined => {
  const decoded = decodeMetadata(value)
  if (Either.isRight(decoded)) return undefined
  const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
  return issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ")
}

/**
 * The columns of one event row, as the driver returned them, in neutral
 * form: what {@link lenient} needs to rebuild a row the fast path refused.
 */
interface LooseRow {
  readonly position: Position.Position | undefined
  readonly eventId: unknown
  readonly streamId: unknown
  readonly version: number | undefined
  readonly type: unknown
  readonly schemaVersion: unknown
  /** The payload, parsed, or why it does not parse. */
  readonly data: Either.Either<unknown, string>
  /** The metadata, parsed from JSON (not yet checked), or why it does not parse. */
  readonly metadata: Either.Either<unknown, string>
  readonly recordedAt: DateTime.Utc | undefined
  readonly rawRecordedAt: unknown
}

/** The row's identity for an error message: whatever of it is readable. */
const nameRow = (row: LooseRow): string =>
  [
    row.position === undefined ? undefined : `position ${row.position.toString()}`,
    typeof row.eventId === "string" ? `event id ${row.eventId}` : undefined,
    typeof row.streamId === "string"
      ? `stream ${shortly(row.streamId)}${row.version === undefined ? "" : `@${row.version}`}`
      : undefined
  ]
    .filter((part) => part !== undefined)
    .join(", ")

/**
 * Rebuilds an event row column by column: a column that does not decode gets
 * a stand-in and is named in `corrupt`. Fails (with the reason) only when the
 * row cannot be placed: no readable position, or, when `needVersion`, no
 * readable stream version.
 */
const lenient = (row: LooseRow, needVersion: boolean): Either.Either<Event.StoredEvent, string> => {
  if (row.position === undefined) return Either.left(`a stored row has no readable position (${nameRow(row)})`)
  if (row.version === undefined && needVersion) {
    return Either.left(`the stored row at ${nameRow(row)} has no readable stream version`)
  }
  const problems: Array<string> = []
  const text = (value: unknown, column: string): string => {
    if (typeof value === "string") return value
    problems.push(`${column}: expected text, got ${shortly(value)}`)
    return String(value)
  }
  const eventId = text(row.eventId, "event_id")
  const rawStream = text(row.streamId, "stream_id")
  if (rawStream.length === 0) problems.push("stream_id: empty")
  const type = text(row.type, "event_type")
  let schemaVersion = 0
  if (typeof row.schemaVersion === "number" && Number.isInteger(row.schemaVersion)) schemaVersion = row.schemaVersion
  else problems.push(`schema_version: expected an integer, got ${shortly(row.schemaVersion)}`)
  if (row.version === undefined) problems.push("stream_version: not a positive integer")
  const data = Either.getOrElse(row.data, (reason) => {
    problems.push(`data: ${reason}`)
    return null
  })
  const metadata = Either.match(row.metadata, {
    onLeft: (reason) => {
      problems.push(`metadata: ${reason}`)
      return standInMetadata
    },
    onRight: (parsed) => {
      const checked = metadataOf(parsed)
      if (checked !== undefined) return checked
      problems.push(`metadata: ${metadataProblem(parsed) ?? "not the metadata object"}`)
      return standInMetadata
    }
  })
  if (row.recordedAt === undefined) problems.push(`recorded_at: not a timestamp (${shortly(row.rawRecordedAt)})`)
  const event: Event.StoredEvent = {
    eventId,
    streamId: StreamId.StreamId.make(rawStream, { disableValidation: true }),
    version: row.version ?? 0,
    position: row.position,
    type,
    schemaVersion,
    data: Backend.deepFreeze(data),
    metadata,
    recordedAt: row.recordedAt ?? standInTime,
    ...(problems.length > 0 ? { corrupt: problems.join("; ") } : {})
  }
  return Either.right(Object.freeze(event))
}

const jsonColumn = (value: unknown): Either.Either<unknown, string> => {
  const parsed = parseJsonText(value)
  return parsed === undefined ? Either.left(`not JSON text (${shortly(value)})`) : Either.right(parsed.parsed)
}

const looseOfPg = (row: RawRow): LooseRow => {
  const commit = bigIntOfText(row.transaction_id)
  const sequence = bigIntOfText(row.position)
  const recordedAt = row.recorded_at
  return {
    position: commit === undefined || sequence === undefined ? undefined : Position.make(commit, sequence),
    eventId: row.event_id,
    streamId: row.stream_id,
    version: numberOfText(row.stream_version),
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: row.data === undefined ? Either.left("missing") : Either.right(row.data),
    metadata: jsonColumn(row.metadata),
    recordedAt: pgTimestamp(recordedAt),
    rawRecordedAt: recordedAt
  }
}

const looseOfSqlite = (row: RawRow): LooseRow => {
  const { position, stream_version } = row
  return {
    position:
      typeof position === "number" && Number.isSafeInteger(position) ? Position.make(0n, BigInt(position)) : undefined,
    eventId: row.event_id,
    streamId: row.stream_id,
    version:
      typeof stream_version === "number" && Number.isSafeInteger(stream_version) && stream_version > 0
        ? stream_version
        : undefined,
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: jsonColumn(row.data),
    metadata: jsonColumn(row.metadata),
    recordedAt: dateTimeOfText(row.recorded_at),
    rawRecordedAt: row.recorded_at
  }
}

const rowFailure = (detail: string) => StoreError.make({ operation: "read", reason: "corrupt", detail })

const decodeEvents =
  (fast: (row: RawRow, shared: Shared) => Event.StoredEvent | undefined, loose: (row: RawRow) => LooseRow) =>
  (
    rows: unknown,
    options: { readonly needVersion: boolean }
  ): Effect.Effect<ReadonlyArray<Event.StoredEvent>, StoreError.StoreError> => {
    if (!Array.isArray(rows)) return Effect.fail(rowFailure("the driver returned no rows array"))
    const decoded: Array<Event.StoredEvent> = []
    const shared = newShared()
    for (const row of rows) {
      if (!isRow(row))
        return Effect.fail(rowFailure(`the driver returned a row that is not an object: ${shortly(row)}`))
      const event = fast(row, shared)
      if (event !== undefined) {
        decoded.push(event)
        continue
      }
      const rebuilt = lenient(loose(row), options.needVersion)
      if (Either.isLeft(rebuilt)) return Effect.fail(rowFailure(rebuilt.left))
      decoded.push(rebuilt.right)
    }
    return Effect.succeed(decoded)
  }

/**
 * PostgreSQL event rows to `StoredEvent`s; a row that does not decode comes
 * back marked `corrupt` (or, when it cannot be placed, fails naming it).
 *
 * @internal
 */
export const decodePgEvents = decodeEvents(fastPgEvent, looseOfPg)

/**
 * SQLite event rows to `StoredEvent`s; a row that does not decode comes back
 * marked `corrupt` (or, when it cannot be placed, fails naming it).
 *
 * @internal
 */
export const decodeSqliteEvents = decodeEvents(fastSqliteEvent, looseOfSqlite)
