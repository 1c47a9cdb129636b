/**
 * The SQLite driver.
 *
 * SQLite has a single writer, so positions come from an AUTOINCREMENT key and
 * `position > checkpoint` is gap-safe; the commit half of a `Position` is
 * always `0n`. An append is one transaction whose first statement writes the
 * streams row (so the write lock is taken before anything is read, and a
 * second process waits on the busy timeout instead of failing on a stale
 * snapshot), then inserts every event with one statement over `json_each`.
 * Lists are passed as one JSON parameter, so no batch size hits SQLite's
 * parameter limit and every statement's text stays the same (prepared once).
 *
 * @internal
 */
import { type EventStore, FeedStatus, Position } from "@chronicle/core"
import type { SqlClient } from "@effect/sql/SqlClient"
import { DateTime, Effect, Option, Schema } from "effect"
import { type AppendInput, activeFilter, type Driver, type DriverError, type WriteOutcome } from "./driver.js"
import { constraintName, inconsistent, sqlState } from "./errors.js"
import * as Rows from "./rows.js"
import type { Tables } from "./tables.js"

const VersionRow = Schema.Struct({ version: Schema.Number })
const decodeVersionRows = Schema.decodeUnknown(Schema.Array(VersionRow))

const StateRow = Schema.Struct({ row: Schema.NullOr(Schema.Number), events: Schema.Number })
const decodeStateRows = Schema.decodeUnknown(Schema.Array(StateRow))

const SlowPathRow = Schema.Struct({ version: Schema.NullOr(Schema.Number), dup: Schema.Number })
const decodeSlowPathRows = Schema.decodeUnknown(Schema.Array(SlowPathRow))

const InsertedRow = Schema.Struct({ position: Schema.BigIntFromNumber, stream_version: Schema.Number })
const decodeInsertedRows = Schema.decodeUnknown(Schema.Array(InsertedRow))

const HeadRow = Schema.Struct({ position: Schema.NullOr(Schema.BigIntFromNumber) })
const decodeHeadRows = Schema.decodeUnknown(Schema.Array(HeadRow))

const CountRow = Schema.Struct({ n: Schema.Number })
const decodeCountRows = (rows: unknown) =>
  Effect.map(Schema.decodeUnknown(Schema.Array(CountRow))(rows), (decoded) => decoded[0]?.n ?? 0)

const decodeExistingRows = Schema.decodeUnknown(Schema.Array(Rows.SqliteExistingRow))

/** @internal */
export const make = (options: { readonly sql: SqlClient; readonly tables: Tables }): Driver => {
  const { sql, tables } = options
  const events = sql.literal(tables.events)
  const streams = sql.literal(tables.streams)
  const columns = sql.literal(Rows.sqliteEventColumns)

  const streamWrite = (input: AppendInput, count: number, idsJson: string) => {
    const { expected, streamId } = input
    const notDuplicate = sql`NOT EXISTS (SELECT 1 FROM ${events} WHERE event_id IN (SELECT value FROM json_each(${idsJson})))`
    const insertNew = sql`INSERT INTO ${streams} (stream_id, version) SELECT ${streamId}, ${count} WHERE ${notDuplicate}
      ON CONFLICT (stream_id) DO NOTHING RETURNING version`
    switch (expected._tag) {
      case "Any":
        return sql`INSERT INTO ${streams} (stream_id, version) SELECT ${streamId}, ${count} WHERE ${notDuplicate}
          ON CONFLICT (stream_id) DO UPDATE SET version = version + excluded.version RETURNING version`
      case "NoStream":
        return insertNew
      case "StreamExists":
        return sql`UPDATE ${streams} SET version = version + ${count}
          WHERE stream_id = ${streamId} AND ${notDuplicate} RETURNING version`
      case "Exact":
        return expected.version === 0
          ? insertNew
          : sql`UPDATE ${streams} SET version = version + ${count}
          WHERE stream_id = ${streamId} AND version = ${expected.version} AND ${notDuplicate} RETURNING version`
    }
  }

  const write = (input: AppendInput): Effect.Effect<WriteOutcome, DriverError> =>
    sql.withTransaction(
      Effect.gen(function* () {
        const count = input.events.length
        const idsJson = JSON.stringify(input.events.map((e) => e.eventId))
        const updated = yield* Effect.flatMap(streamWrite(input, count, idsJson), decodeVersionRows)
        const stream = updated[0]
        if (stream === undefined) {
          const found = yield* Effect.flatMap(
            sql`SELECT (SELECT version FROM ${streams} WHERE stream_id = ${input.streamId}) AS version,
              EXISTS (SELECT 1 FROM ${events} WHERE event_id IN (SELECT value FROM json_each(${idsJson}))) AS dup`,
            decodeSlowPathRows
          )
          const row = found[0]
          return row !== undefined && row.dup === 1
            ? ({ _tag: "Duplicate" } as const)
            : ({ _tag: "Conflict", actual: row?.version ?? 0 } as const)
        }
        const base = stream.version - count
        const rowsJson = JSON.stringify(input.events.map((e) => [e.eventId, e.type, e.schemaVersion, e.json]))
        const inserted = yield* Effect.flatMap(
          sql`INSERT INTO ${events}
              (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
            SELECT e.value ->> 0, ${input.streamId}, ${base + 1} + e.key, e.value ->> 1, e.value ->> 2, e.value ->> 3,
              ${input.metadataJson}, ${DateTime.formatIso(input.recordedAt)}
            FROM json_each(${rowsJson}) AS e ORDER BY e.key
            RETURNING position, stream_version`,
          decodeInsertedRows
        )
        if (inserted.length !== count) {
          return yield* Effect.fail(inconsistent("the insert returned fewer rows than it wrote"))
        }
        const sorted = [...inserted].sort((a, b) => a.stream_version - b.stream_version)
        return {
          _tag: "Written",
          version: stream.version,
          positions: sorted.map((r) => Position.make(0n, r.position))
        } as const
      })
    )

  const lookup = (eventIds: ReadonlyArray<string>) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT event_id, stream_id, stream_version, position, recorded_at, event_type, schema_version, data
          FROM ${events} WHERE event_id IN (SELECT value FROM json_each(${JSON.stringify(eventIds)}))`,
        decodeExistingRows
      ),
      (rows) => rows.map((r) => Rows.toExistingEvent(r, 0n))
    )

  // The highest stored version (the unique index on (stream_id, stream_version) answers it).
  const streamVersion = (streamId: string) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT coalesce(max(stream_version), 0) AS version FROM ${events} WHERE stream_id = ${streamId}`,
        decodeVersionRows
      ),
      (rows) => rows[0]?.version ?? 0
    )

  const streamState = (streamId: string) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT (SELECT version FROM ${streams} WHERE stream_id = ${streamId}) AS row,
          coalesce((SELECT max(stream_version) FROM ${events} WHERE stream_id = ${streamId}), 0) AS events`,
        decodeStateRows
      ),
      (rows) => ({ row: rows[0]?.row ?? null, events: rows[0]?.events ?? 0 })
    )

  const repairStream = (streamId: string) =>
    Effect.map(
      sql`INSERT INTO ${streams} (stream_id, version)
        SELECT stream_id, max(stream_version) FROM ${events} WHERE stream_id = ${streamId} GROUP BY stream_id
        ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version WHERE version < excluded.version
        RETURNING version`,
      (rows) => rows.length > 0
    )

  const readStream: Driver["readStream"] = (streamId, page) =>
    Effect.flatMap(
      page.direction === "forward"
        ? sql`SELECT ${columns} FROM ${events}
            WHERE stream_id = ${streamId} AND stream_version BETWEEN ${page.from} AND ${page.to}
            ORDER BY stream_version LIMIT ${page.limit}`
        : sql`SELECT ${columns} FROM ${events}
            WHERE stream_id = ${streamId} AND stream_version BETWEEN ${page.from} AND ${page.to}
            ORDER BY stream_version DESC LIMIT ${page.limit}`,
      (rows) => Rows.decodeSqliteEvents(rows, { needVersion: true })
    )

  // The feed filter's SQL, shared by readAll and countAll so that a count is
  // always of the rows readAll would return.
  const filterClauses = (filter: EventStore.EventFilter) => {
    const { categories, types } = activeFilter(filter)
    const byCategory =
      categories === null
        ? sql.literal("")
        : categories.length === 1
          ? sql`AND category = ${categories[0] ?? ""}`
          : sql`AND category IN (SELECT value FROM json_each(${JSON.stringify(categories)}))`
    const byType =
      types === null ? sql.literal("") : sql`AND event_type IN (SELECT value FROM json_each(${JSON.stringify(types)}))`
    return { byCategory, byType }
  }

  const readAll: Driver["readAll"] = (from, limit, filter) => {
    // Every SQLite position has commit 0: nothing comes after a position with a later commit.
    if (from.commit > 0n) return Effect.succeed([])
    const { byCategory, byType } = filterClauses(filter)
    return Effect.flatMap(
      sql`SELECT ${columns} FROM ${events}
        WHERE position > ${from.sequence} ${byCategory} ${byType}
        ORDER BY position LIMIT ${limit}`,
      (rows) => Rows.decodeSqliteEvents(rows, { needVersion: false })
    )
  }

  // The rows readAll would return, counted in the database (none is sent).
  const countAll: Driver["countAll"] = (from, upTo, limit, filter) => {
    if (from.commit > 0n) return Effect.succeed(0)
    const { byCategory, byType } = filterClauses(filter)
    // Every SQLite position has commit 0: a bound with a later commit bounds nothing.
    const bounded = upTo === undefined || upTo.commit > 0n ? sql.literal("") : sql`AND position <= ${upTo.sequence}`
    const limited = limit === undefined ? sql.literal("") : sql`LIMIT ${limit}`
    return Effect.flatMap(
      sql`SELECT count(*) AS n FROM (SELECT 1 FROM ${events}
        WHERE position > ${from.sequence} ${bounded} ${byCategory} ${byType} ${limited})`,
      decodeCountRows
    )
  }

  const head = Effect.map(
    Effect.flatMap(sql`SELECT max(position) AS position FROM ${events}`, decodeHeadRows),
    (rows) => {
      const position = rows[0]?.position
      return position === undefined || position === null ? Position.start : Position.make(0n, position)
    }
  )

  return {
    dialect: "sqlite",
    write,
    lookup,
    streamVersion,
    readStream,
    readAll,
    countAll,
    head,
    streamState,
    repairStream,
    settle: () => Effect.succeed(true),
    // one writer at a time: a committed event is readable at once
    feedStatus: Effect.succeed(FeedStatus.current),
    isEventIdViolation: (error) =>
      sqlState(error) === "SQLITE_CONSTRAINT_UNIQUE" &&
      constraintName(error) === undefined &&
      String(error.cause).includes(`${tables.eventsName}.event_id`),
    // The insert's own event ids were checked free in the same write
    // transaction: a refused insert can only be a taken stream version (the
    // trigger that refuses overwriting a stored event, or the unique key).
    isStreamVersionViolation: (error) =>
      (sqlState(error) === "SQLITE_CONSTRAINT_TRIGGER" && String(error.cause).includes("already stored")) ||
      (sqlState(error) === "SQLITE_CONSTRAINT_UNIQUE" &&
        String(error.cause).includes(`${tables.eventsName}.stream_version`)),
    isOutcomeUnknown: () => false,
    notify: Option.none(),
    notifications: Option.none()
  }
}
