/**
 * The PostgreSQL driver.
 *
 * Gap safety: every event row carries the writing transaction's id
 * (`transaction_id xid8 DEFAULT pg_current_xact_id()`). Readers take only rows
 * of transactions older than every running one
 * (`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`), in
 * `(transaction_id, position)` order, so a reader can never pass an event
 * that commits later. The streams row keeps its last writer's transaction
 * id, and a write requires `last_transaction_id <= pg_current_xact_id()`, so
 * a transaction that got its id before the stream's last writer cannot put
 * version n+1 before version n in the global order (it gets a retryable
 * conflict instead). `<=` rather than `<` lets one transaction append to the
 * same stream twice: its rows share the id and keep their position order.
 *
 * An append is ONE statement (an implicit transaction, or part of the
 * caller's): a call of the append function (created by migration 5, its
 * statements planned once per connection): the streams row write comes
 * first, then the insert, and nothing is read back after it (`RETURNING`).
 * Duplicate event ids are checked first only inside a caller's transaction
 * (where an error would abort it); otherwise the insert's unique violation
 * reports them. It does not notify: a transaction that
 * has called `pg_notify` takes a global lock at commit, which would
 * serialize every writer; the store notifies after commit, coalesced.
 *
 * The streams row is a cache of the stream's version for the guarded write;
 * the events are the truth: the version a reader is told is the highest
 * stored one, and a row found missing or behind is repaired from them.
 *
 * @internal
 */
import { type Event, type EventStore, FeedStatus, Position } from "@chronicle/core"
import type { SqlClient } from "@effect/sql/SqlClient"
import type { PgClient } from "@effect/sql-pg/PgClient"
import { Clock, DateTime, Duration, Effect, Option, Schema } from "effect"
import { type AppendInput, activeFilter, type Driver, type DriverError, type WriteOutcome } from "./driver.js"
import { constraintName, inconsistent, isOutcomeUnknown, sqlState } from "./errors.js"
import * as PgListen from "./pgListen.js"
import * as Rows from "./rows.js"

const liveClock = Clock.make()

import type { Tables } from "./tables.js"

const WriteRow = Schema.Struct({
  kind: Schema.Literal("w", "d", "c"),
  version: Schema.NullOr(Schema.NumberFromString),
  commit: Schema.NullOr(Schema.BigInt),
  sequence: Schema.NullOr(Schema.BigInt)
})
type WriteRow = typeof WriteRow.Type

// Every append decodes its RETURNING rows: checked by hand, with the Schema
// for the error message when a row is not of the expected shape.
const fastWriteRow = (row: Rows.RawRow): WriteRow | undefined => {
  const { kind } = row
  if (kind !== "w" && kind !== "d" && kind !== "c") return undefined
  const version = row.version === null ? null : Rows.numberOfText(row.version)
  const commit = row.commit === null ? null : Rows.bigIntOfText(row.commit)
  const sequence = row.sequence === null ? null : Rows.bigIntOfText(row.sequence)
  if (version === undefined || commit === undefined || sequence === undefined) return undefined
  return { kind, version, commit, sequence }
}
const decodeWriteRows = Rows.decodeRows(
  fastWriteRow,
  Schema.decodeUnknown(Schema.Array(WriteRow)),
  (row: WriteRow) => row
)

/** Events by version: a page's window is read without ORDER BY (see `forwardPage`), in heap order. */
const inVersionOrder = (events: ReadonlyArray<Event.StoredEvent>): ReadonlyArray<Event.StoredEvent> => {
  for (let i = 1; i < events.length; i++) {
    const previous = events[i - 1]
    const current = events[i]
    if (previous !== undefined && current !== undefined && current.version <= previous.version) {
      return [...events].sort((a, b) => a.version - b.version)
    }
  }
  return events
}

const VersionRow = Schema.Struct({ version: Schema.NullOr(Schema.NumberFromString) })
const decodeVersionRows = Schema.decodeUnknown(Schema.Array(VersionRow))

const StateRow = Schema.Struct({ row: Schema.NullOr(Schema.NumberFromString), events: Schema.NumberFromString })
const decodeStateRows = Schema.decodeUnknown(Schema.Array(StateRow))

const FeedRow = Schema.Struct({
  hidden: Schema.Number,
  since: Schema.NullOr(Schema.DateTimeUtcFromDate),
  waited: Schema.NullOr(Schema.Number),
  pid: Schema.NullOr(Schema.Number),
  database: Schema.NullOr(Schema.String),
  application: Schema.NullOr(Schema.String),
  state: Schema.NullOr(Schema.String),
  open_for: Schema.NullOr(Schema.Number)
})
const decodeFeedRows = Schema.decodeUnknown(Schema.Array(FeedRow))

const secondsToDuration = (seconds: number | null): Duration.Duration =>
  Duration.millis(Math.max(0, Math.round((seconds ?? 0) * 1000)))

const HeadRow = Schema.Struct({ transaction_id: Schema.BigInt, position: Schema.BigInt })
const decodeHeadRows = Schema.decodeUnknown(Schema.Array(HeadRow))

const CountRow = Schema.Struct({ n: Schema.NumberFromString })
const decodeCountRows = (rows: unknown) =>
  Effect.map(Schema.decodeUnknown(Schema.Array(CountRow))(rows), (decoded) => decoded[0]?.n ?? 0)

const SnapshotRow = Schema.Struct({ xmin: Schema.BigInt, xmax: Schema.BigInt, own: Schema.Boolean })
const decodeSnapshotRows = Schema.decodeUnknown(Schema.Array(SnapshotRow))

const decodeExistingRows = Schema.decodeUnknown(Schema.Array(Rows.PgExistingRow))

/** @internal */
export const make = (options: {
  readonly sql: SqlClient
  readonly tables: Tables
  readonly channel: string
  /** The `PgClient` and the `pg` driver to LISTEN with; none: subscribers poll. */
  readonly listen: Option.Option<{ readonly client: PgClient; readonly driver: PgListen.Driver }>
}): Driver => {
  const { channel, sql, tables } = options
  const events = sql.literal(tables.events)
  const streams = sql.literal(tables.streams)
  const columns = sql.literal(Rows.pgEventColumns)
  const visible = sql.literal("transaction_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))")

  // The append's text, built once: each call passes only its parameters
  // (`sql.unsafe`), so no statement template is assembled and compiled per append.
  const appendText = `SELECT w_kind AS kind, w_version::text AS version, w_commit::text AS commit,
        w_sequence::text AS sequence
      FROM "${tables.appendName}"($1, $2, $3::bigint, $4::uuid[], $5::text[], $6::int4[], $7::text[], $8::json,
        $9::timestamptz, $10)`

  // The expected version as the append function takes it.
  const expectation = (expected: AppendInput["expected"]): readonly [string, string] => {
    switch (expected._tag) {
      case "Any":
        return ["any", "0"]
      case "NoStream":
        return ["new", "0"]
      case "StreamExists":
        return ["exists", "0"]
      case "Exact":
        return expected.version === 0 ? ["new", "0"] : ["exact", String(expected.version)]
    }
  }

  // The parameters of one append function call.
  const appendParameters = (input: AppendInput, checkDuplicates: boolean): Array<unknown> => {
    const ids: Array<string> = []
    const types: Array<string> = []
    const schemaVersions: Array<number> = []
    const payloads: Array<string> = []
    for (const e of input.events) {
      ids.push(e.eventId)
      types.push(e.type)
      schemaVersions.push(e.schemaVersion)
      payloads.push(e.json)
    }
    const [kind, version] = expectation(input.expected)
    return [
      input.streamId,
      kind,
      version,
      ids,
      types,
      schemaVersions,
      payloads,
      input.metadataJson,
      DateTime.formatIso(input.recordedAt),
      checkDuplicates
    ]
  }

  // What one call of the append function returned.
  const outcomeOf = (rows: ReadonlyArray<WriteRow>, count: number): Effect.Effect<WriteOutcome, DriverError> => {
    const first = rows[0]
    if (first === undefined) return Effect.fail(inconsistent("the append statement returned no row"))
    if (first.kind === "d") return Effect.succeed({ _tag: "Duplicate" })
    if (first.kind === "c") return Effect.succeed({ _tag: "Conflict", actual: first.version ?? 0 })
    const written = rows
      .flatMap((r) =>
        r.version === null || r.commit === null || r.sequence === null
          ? []
          : [{ version: r.version, position: Position.make(r.commit, r.sequence) }]
      )
      .sort((a, b) => a.version - b.version)
    const last = written[written.length - 1]
    if (last === undefined || written.length !== count)
      return Effect.fail(inconsistent("the append statement returned fewer rows than it wrote"))
    return Effect.succeed({ _tag: "Written", version: last.version, positions: written.map((w) => w.position) })
  }

  const write = (input: AppendInput, checkDuplicates: boolean): Effect.Effect<WriteOutcome, DriverError> =>
    Effect.flatMap(
      Effect.flatMap(sql.unsafe(appendText, appendParameters(input, checkDuplicates)), decodeWriteRows),
      (rows) => outcomeOf(rows, input.events.length)
    )

  // `writeMany`'s text for n calls, built once per n: one call of the append
  // function per input, its rows tagged with the input's index.
  const manyTexts = new Map<number, string>()
  const manyText = (n: number): string => {
    const known = manyTexts.get(n)
    if (known !== undefined) return known
    const calls = Array.from({ length: n }, (_, i) => {
      const p = (k: number) => `$${i * 10 + k}`
      return `SELECT ${i} AS i, w_kind AS kind, w_version::text AS version, w_commit::text AS commit,
        w_sequence::text AS sequence
      FROM "${tables.appendName}"(${p(1)}, ${p(2)}, ${p(3)}::bigint, ${p(4)}::uuid[], ${p(5)}::text[], ${p(6)}::int4[],
        ${p(7)}::text[], ${p(8)}::json, ${p(9)}::timestamptz, ${p(10)})`
    })
    const text = calls.join("\n      UNION ALL\n      ")
    manyTexts.set(n, text)
    return text
  }

  const writeMany = (inputs: ReadonlyArray<AppendInput>): Effect.Effect<ReadonlyArray<WriteOutcome>, DriverError> =>
    Effect.flatMap(
      sql.unsafe<Rows.RawRow>(
        manyText(inputs.length),
        // No duplicate check up front: a duplicate fails the whole statement (a unique
        // violation), and the store then makes each append alone, where it is resolved.
        // Checked up front, the lookup ran on every call, and PL/pgSQL's cached plan for
        // it, made while the table was small, grew with the table (SG1: PostgreSQL CPU
        // per saga 13.7, 17.9, 21.5 ms over three runs of 500, against 10-12 ms flat).
        inputs.flatMap((input) => appendParameters(input, false))
      ),
      (raw) => {
        const byInput: Array<Array<Rows.RawRow>> = inputs.map(() => [])
        for (const row of raw) {
          const i = Number(row.i)
          const rows = byInput[i]
          if (rows === undefined) return Effect.fail(inconsistent("the append statement returned a row of no input"))
          rows.push(row)
        }
        return Effect.forEach(inputs, (input, i) =>
          Effect.flatMap(decodeWriteRows(byInput[i] ?? []), (rows) => outcomeOf(rows, input.events.length))
        )
      }
    )

  const lookup = (eventIds: ReadonlyArray<string>) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT event_id::text AS event_id, stream_id, stream_version::text AS stream_version,
            transaction_id::text AS transaction_id, position::text AS position, recorded_at,
            event_type, schema_version, data
          FROM ${events} WHERE event_id = ANY(${eventIds}::uuid[])`,
        decodeExistingRows
      ),
      (rows) => rows.map((r) => Rows.toExistingEvent(r, r.transaction_id))
    )

  // The highest stored version (the unique index on (stream_id, stream_version) answers it).
  const streamVersion = (streamId: string) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT max(stream_version)::text AS version FROM ${events} WHERE stream_id = ${streamId}`,
        decodeVersionRows
      ),
      (rows) => rows[0]?.version ?? 0
    )

  const streamState = (streamId: string) =>
    Effect.map(
      Effect.flatMap(
        sql`SELECT (SELECT version::text FROM ${streams} WHERE stream_id = ${streamId}) AS row,
          coalesce((SELECT max(stream_version) FROM ${events} WHERE stream_id = ${streamId}), 0)::text AS events`,
        decodeStateRows
      ),
      (rows) => ({ row: rows[0]?.row ?? null, events: rows[0]?.events ?? 0 })
    )

  // The repairing transaction becomes the row's last writer: younger than
  // every event already stored, so the guard keeps the feed in stream order.
  const repairStream = (streamId: string) =>
    Effect.map(
      sql`INSERT INTO ${streams} AS s (stream_id, version, last_transaction_id)
        SELECT stream_id, max(stream_version), pg_current_xact_id() FROM ${events}
          WHERE stream_id = ${streamId} GROUP BY stream_id
        ON CONFLICT (stream_id) DO UPDATE
          SET version = EXCLUDED.version, last_transaction_id = EXCLUDED.last_transaction_id
          WHERE s.version < EXCLUDED.version
        RETURNING version`,
      (rows) => rows.length > 0
    )

  // A forward page asks for the versions it can hold, `from` up to
  // `from + limit - 1`: PostgreSQL estimates `stream_version >= from` over the
  // whole table, so with many short streams it expects a handful of rows from
  // a long stream and plans a bitmap scan of the REST of the stream with a
  // top-N sort, per page: a long load was quadratic (W4 in the full round:
  // 73 against 15 ms of PostgreSQL CPU per 10,000-event load). The window's
  // bound keeps each page's work to the page whatever the plan.
  //
  // The window has no ORDER BY: its rows are exactly the page (it holds at
  // most `limit` versions), and with a right estimate PostgreSQL answers it
  // with a bitmap scan, which then needed a sort of the page's wide rows
  // (W4 alone: 1.8 × raw's PostgreSQL CPU per load, with the read-past
  // branch below in the same statement). The rows come back in heap order,
  // which is a stream's version order unless rows were moved; they are put
  // in version order here (one pass, a sort only when they are not).
  //
  // A window that returns all its versions is the page. Otherwise the stream
  // ends inside it, or versions are missing: deleted by hand with the
  // immutability triggers off (`Repository.verify` reports the gap), and a
  // read must not end early there. The rest of the page is then read by a
  // second statement from just after the last version seen (so an event
  // appended between the two statements is not skipped either): an empty
  // index probe at a stream's end, once per load of a long stream.
  const plainPage = (streamId: string, from: number, to: number, limit: number) =>
    Effect.flatMap(
      sql`SELECT ${columns} FROM ${events} AS e
        WHERE stream_id = ${streamId} AND stream_version BETWEEN ${String(from)}::bigint AND ${String(to)}::bigint
        ORDER BY e.stream_version LIMIT ${limit}`,
      (rows) => Rows.decodePgEvents(rows, { needVersion: true })
    )

  const forwardPage = (
    streamId: string,
    from: number,
    to: number,
    limit: number
  ): Effect.Effect<ReadonlyArray<Event.StoredEvent>, DriverError> => {
    const windowEnd = Math.min(to, from + limit - 1)
    // From version 1 the estimate is right (every row of the stream is in
    // range), and most streams are short: one plain statement; and so for a
    // window that reaches `to`.
    if (from <= 1 || windowEnd >= to) return plainPage(streamId, from, to, limit)
    return Effect.flatMap(
      Effect.flatMap(
        sql`SELECT ${columns} FROM ${events}
          WHERE stream_id = ${streamId} AND stream_version BETWEEN ${String(from)}::bigint AND ${String(windowEnd)}::bigint`,
        (rows) => Rows.decodePgEvents(rows, { needVersion: true })
      ),
      (read) => {
        const page = inVersionOrder(read)
        if (page.length >= limit) return Effect.succeed(page)
        const next = (page[page.length - 1]?.version ?? from - 1) + 1
        return Effect.map(plainPage(streamId, next, to, limit - page.length), (rest) =>
          rest.length === 0 ? page : [...page, ...rest]
        )
      }
    )
  }

  const readStream: Driver["readStream"] = (streamId, page) =>
    page.direction === "forward"
      ? forwardPage(streamId, page.from, page.to, page.limit)
      : Effect.flatMap(
          sql`SELECT ${columns} FROM ${events} AS e
            WHERE stream_id = ${streamId} AND stream_version BETWEEN ${String(page.from)}::bigint AND ${String(page.to)}::bigint
            ORDER BY e.stream_version DESC LIMIT ${page.limit}`,
          (rows) => Rows.decodePgEvents(rows, { needVersion: true })
        )

  // The feed filter's SQL, shared by readAll and countAll so that a count is
  // always of the rows readAll would return. The stored category column and
  // its index (migration 6); one category is an equality, which the index
  // answers in the feed's order.
  const filterClauses = (filter: EventStore.EventFilter) => {
    const { categories, types } = activeFilter(filter)
    const byCategory =
      categories === null
        ? sql.literal("")
        : categories.length === 1
          ? sql`AND category = ${categories[0] ?? ""}`
          : sql`AND category = ANY(${categories}::text[])`
    const byType = types === null ? sql.literal("") : sql`AND event_type = ANY(${types}::text[])`
    return { byCategory, byType }
  }

  const readAll: Driver["readAll"] = (from, limit, filter) => {
    const { byCategory, byType } = filterClauses(filter)
    return Effect.flatMap(
      sql`SELECT ${columns} FROM ${events} AS e
        WHERE (transaction_id, position) > (${String(from.commit)}::xid8, ${String(from.sequence)}::bigint)
          AND ${visible} ${byCategory} ${byType}
        ORDER BY e.transaction_id, e.position LIMIT ${limit}`,
      (rows) => Rows.decodePgEvents(rows, { needVersion: false })
    )
  }

  // The rows readAll would return, counted in the database (none is sent);
  // the inner LIMIT stops the scan at `limit`.
  const countAll: Driver["countAll"] = (from, upTo, limit, filter) => {
    const { byCategory, byType } = filterClauses(filter)
    const bounded =
      upTo === undefined
        ? sql.literal("")
        : sql`AND (transaction_id, position) <= (${String(upTo.commit)}::xid8, ${String(upTo.sequence)}::bigint)`
    const limited = limit === undefined ? sql.literal("") : sql`LIMIT ${limit}`
    return Effect.flatMap(
      sql`SELECT count(*)::text AS n FROM (SELECT 1 FROM ${events} AS e
        WHERE (transaction_id, position) > (${String(from.commit)}::xid8, ${String(from.sequence)}::bigint)
          ${bounded} AND ${visible} ${byCategory} ${byType} ${limited}) AS c`,
      decodeCountRows
    )
  }

  const head = Effect.map(
    Effect.flatMap(
      sql`SELECT transaction_id::text AS transaction_id, position::text AS position FROM ${events} AS e
        WHERE ${visible} ORDER BY e.transaction_id DESC, e.position DESC LIMIT 1`,
      decodeHeadRows
    ),
    (rows) => {
      const row = rows[0]
      return row === undefined ? Position.start : Position.make(row.transaction_id, row.position)
    }
  )

  const snapshot = Effect.flatMap(
    sql`SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax,
        pg_current_xact_id_if_assigned() IS NOT NULL AS own
      FROM pg_current_snapshot() AS s`,
    decodeSnapshotRows
  )

  // Readers only see transactions older than every running one. Right after
  // an append commits, an older transaction (of any session of the cluster)
  // may still be running and hide it: wait for the transactions that were
  // running at the start, briefly, so that readAll and head read your writes.
  // Inside a transaction that has written, there is nothing to wait for.
  // The wait is bounded by real time even under a test clock: it waits on
  // other database sessions, not on the application's notion of time.
  const settle = (timeout: Duration.Duration) =>
    Effect.withClock(
      Effect.gen(function* () {
        const start = (yield* snapshot)[0]
        if (start === undefined || start.own || start.xmin >= start.xmax) return true
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(timeout)
        let delay = 1
        while ((yield* Clock.currentTimeMillis) < deadline) {
          yield* Effect.sleep(Duration.millis(delay))
          delay = Math.min(delay * 2, 20)
          const now = (yield* snapshot)[0]
          if (now === undefined || now.xmin >= start.xmax) return true
        }
        return false
      }),
      liveClock
    )

  // Hidden: committed events of transactions at or after the readers'
  // horizon (the oldest running transaction id, cluster-wide). The blocker:
  // the running transaction with the oldest id, in any database, or a
  // prepared one (sessions of other roles show no xid without
  // pg_read_all_stats, and are then left out).
  const feedStatus = Effect.map(
    Effect.flatMap(
      sql`WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
      hidden AS (
        SELECT count(*)::int AS hidden, min(e.recorded_at) AS since,
          extract(epoch FROM clock_timestamp() - min(e.recorded_at))::float8 AS waited
        FROM ${events} AS e, horizon h
        WHERE e.transaction_id >= h.xmin AND e.transaction_id IS DISTINCT FROM pg_current_xact_id_if_assigned()
      ),
      blocker AS (
        SELECT pid, database, application, state, extract(epoch FROM clock_timestamp() - started)::float8 AS open_for
        FROM (
          SELECT pid, datname::text AS database, application_name AS application, coalesce(state, 'unknown') AS state,
            xact_start AS started, age(backend_xid) AS age
          FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
          UNION ALL
          SELECT NULL, database::text, gid, 'prepared', prepared, age(transaction) FROM pg_prepared_xacts
        ) AS running
        ORDER BY age DESC LIMIT 1
      )
      SELECT h.hidden, h.since, h.waited, b.pid, b.database, b.application, b.state, b.open_for
      FROM hidden h LEFT JOIN blocker b ON h.hidden > 0`,
      decodeFeedRows
    ),
    (rows): FeedStatus.FeedStatus => {
      const row = rows[0]
      if (row === undefined || row.hidden === 0) return FeedStatus.current
      // Hidden events committed after the blocker took its transaction id,
      // so the feed is held back no longer than the blocker is open (this
      // also bounds a recorded_at from another clock, or from an import).
      const waited = secondsToDuration(row.waited)
      return {
        hiddenEvents: row.hidden,
        heldBackSince: Option.fromNullable(row.since),
        heldBackFor: row.open_for === null ? waited : Duration.min(waited, secondsToDuration(row.open_for)),
        blocker:
          row.state === null
            ? Option.none()
            : Option.some({
                processId: Option.fromNullable(row.pid),
                database: Option.fromNullable(row.database),
                applicationName: row.application ?? "",
                state: row.state,
                openFor: secondsToDuration(row.open_for)
              })
      }
    }
  )

  const notify = (payload: string) => Effect.asVoid(sql`SELECT pg_notify(${channel}, ${payload})`)

  return {
    dialect: "pg",
    write,
    writeMany,
    lookup,
    streamVersion,
    streamState,
    repairStream,
    readStream,
    readAll,
    countAll,
    head,
    settle,
    feedStatus,
    isEventIdViolation: (error) => sqlState(error) === "23505" && constraintName(error) === tables.eventIdConstraint,
    isStreamVersionViolation: (error) =>
      sqlState(error) === "23505" && constraintName(error) === `${tables.eventsName}_stream_version_key`,
    isOutcomeUnknown,
    notify: Option.some(notify),
    notifications: Option.map(options.listen, ({ client, driver }) => ({
      channel,
      listen: PgListen.listen(driver, client.config, channel),
      notify
    }))
  }
}
