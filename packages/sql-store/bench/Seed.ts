/**
 * Fast seeding of large stores (W6, W7, W8): rows written straight into a
 * store's events and streams tables with `INSERT … SELECT … FROM
 * generate_series`, in chunks of one transaction each, instead of through
 * the API (which would take hours for millions of events).
 *
 * The rows are what the store itself writes: a fresh `event_id`, contiguous
 * stream versions from 1 (checked after seeding), event type `Deposited`
 * (schema version 1) with the benchmark's payload, the same metadata JSON,
 * `transaction_id` and `position` from their column defaults. The streams
 * table gets one row per stream with its version. The immutability trigger
 * only rejects UPDATE, DELETE and TRUNCATE, so it is not in the way. A column
 * that a later migration adds (such as a stored category) is filled when the
 * seeder knows it and has no default; an unknown required column stops the
 * seeding with an error naming it, so that this file gets updated.
 */
import type pg from "pg"
import * as Domain from "./Domain.js"

/** A pool or a client: anything that runs a query. */
export interface Queryable {
  readonly query: (text: string, values?: ReadonlyArray<unknown>) => Promise<pg.QueryResult>
}

/** Where each generated event goes: SQL expressions of `n` (bigint, 0-based event number). */
export interface Layout {
  /** The stream id of event `n`. */
  readonly stream: string
  /** Its version in that stream (1-based, contiguous per stream). */
  readonly version: string
}

/** W6: streams `<category>-0` … `<category>-<streams - 1>`, filled round-robin. */
export const roundRobin = (category: string, streams: number): Layout => ({
  stream: `'${category}-' || (n % ${streams})`,
  version: `n / ${streams} + 1`
})

/**
 * W7: blocks of 100 events in log order; in each block, event 0 belongs to
 * category `rare` (1 % of the log, over `rareStreams` streams), events 5, 15,
 * …, 95 to `tenth` (10 %, over `tenthStreams` streams), the other 89 to one
 * stream of category `rest` per block. Every category is spread evenly over
 * the whole log.
 */
export const shares = (names: {
  readonly rare: string
  readonly rareStreams: number
  readonly tenth: string
  readonly tenthStreams: number
  readonly rest: string
}): Layout => {
  const tenthIndex = "((n / 100) * 10 + (n % 100 - 5) / 10)"
  return {
    stream: `CASE WHEN n % 100 = 0 THEN '${names.rare}-' || ((n / 100) % ${names.rareStreams})
      WHEN n % 10 = 5 THEN '${names.tenth}-' || (${tenthIndex} % ${names.tenthStreams})
      ELSE '${names.rest}-' || (n / 100) END`,
    version: `CASE WHEN n % 100 = 0 THEN (n / 100) / ${names.rareStreams} + 1
      WHEN n % 10 = 5 THEN ${tenthIndex} / ${names.tenthStreams} + 1
      ELSE n % 100 - (n % 100 + 4) / 10 END`
  }
}

/** W8: one stream holding every event, event `first` at version 1. */
export const oneStream = (streamId: string, first = 0): Layout => ({
  stream: `'${streamId}'`,
  version: `n - ${first} + 1`
})

const metadataJson = JSON.stringify({ correlationId: "seed", causationId: null, user: {} })

const knownEventColumns = new Set([
  "position",
  "transaction_id",
  "event_id",
  "stream_id",
  "stream_version",
  "event_type",
  "schema_version",
  "data",
  "metadata",
  "recorded_at"
])
const knownStreamColumns = new Set(["stream_id", "version", "last_transaction_id"])

/** Values for columns added by later migrations, when they must be given. */
const extraColumn = (name: string): string | undefined =>
  name === "category" ? "split_part(stream_id, '-', 1)" : undefined

/** The required columns of `table` beyond `known`, with the expression that fills each. */
const extraColumns = async (
  db: Queryable,
  table: string,
  known: ReadonlySet<string>
): Promise<ReadonlyArray<{ readonly name: string; readonly value: string }>> => {
  const result = await db.query(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 AND is_nullable = 'NO'
        AND column_default IS NULL AND is_generated = 'NEVER' AND is_identity = 'NO'`,
    [table]
  )
  // Decoding a driver row: information_schema's text column.
  const names = (result.rows as ReadonlyArray<{ readonly column_name: string }>).map((r) => r.column_name)
  return names
    .filter((name) => !known.has(name))
    .map((name) => {
      const value = extraColumn(name)
      if (value === undefined) {
        throw new Error(`seed: ${table}.${name} is required and bench/Seed.ts does not know how to fill it`)
      }
      return { name, value }
    })
}

/**
 * Writes `count` events (numbered `first` … `first + count - 1`) into the
 * events table of `prefix` with `layout`, `chunk` events per transaction.
 * Call {@link finish} once every event is written.
 */
export const events = async (
  db: Queryable,
  prefix: string,
  layout: Layout,
  range: { readonly first: number; readonly count: number; readonly chunk?: number },
  progress?: (written: number) => void
): Promise<void> => {
  const extra = await extraColumns(db, `${prefix}events`, knownEventColumns)
  const chunk = range.chunk ?? 100_000
  const end = range.first + range.count
  for (let from = range.first; from < end; from += chunk) {
    const to = Math.min(end, from + chunk) - 1
    await db.query(
      `INSERT INTO "${prefix}events" (event_id, stream_id, stream_version, event_type, schema_version, data, metadata,
         recorded_at${extra.map((c) => `, ${c.name}`).join("")})
       SELECT event_id, stream_id, stream_version, event_type, 1, data, metadata, recorded_at${extra.map((c) => `, ${c.value}`).join("")}
       FROM (
         SELECT gen_random_uuid() AS event_id, ${layout.stream} AS stream_id, ${layout.version} AS stream_version,
           $3::text AS event_type,
           ('{"amount":' || (1 + n % 997) || ',"reference":"ref-' || lpad(n::text, 20, '0') || '"}')::json AS data,
           $4::json AS metadata, now() AS recorded_at, n
         FROM generate_series($1::bigint, $2::bigint) AS n
       ) AS g ORDER BY n`,
      [from, to, Domain.eventType, metadataJson]
    )
    progress?.(to + 1 - range.first)
  }
}

/**
 * Completes a seeded store: one streams row per stream (its version = its
 * number of events), a check that every stream's versions are exactly
 * 1 … version, and `VACUUM ANALYZE` of both tables (hint bits, visibility
 * map and planner statistics, as an established store would have).
 */
export const finish = async (db: Queryable, prefix: string): Promise<void> => {
  const extra = await extraColumns(db, `${prefix}streams`, knownStreamColumns)
  await db.query(
    `INSERT INTO "${prefix}streams" (stream_id, version, last_transaction_id${extra.map((c) => `, ${c.name}`).join("")})
     SELECT stream_id, version, pg_current_xact_id()${extra.map((c) => `, ${c.value}`).join("")}
     FROM (SELECT stream_id, max(stream_version) AS version FROM "${prefix}events" GROUP BY stream_id) AS s
     ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version`
  )
  const bad = await db.query(
    `SELECT count(*)::int AS n FROM (
       SELECT e.stream_id FROM "${prefix}events" AS e JOIN "${prefix}streams" AS s USING (stream_id)
       GROUP BY e.stream_id, s.version HAVING count(*) <> s.version OR min(e.stream_version) <> 1
     ) AS bad`
  )
  const n = Number((bad.rows[0] as { readonly n?: unknown } | undefined)?.n ?? -1)
  if (n !== 0) throw new Error(`seed: ${n} stream(s) of ${prefix} do not have contiguous versions from 1`)
  await db.query(`VACUUM ANALYZE "${prefix}events"`)
  await db.query(`VACUUM ANALYZE "${prefix}streams"`)
}

/** Events currently stored in the events table of `prefix`. */
export const count = async (db: Queryable, prefix: string): Promise<number> => {
  const result = await db.query(`SELECT count(*)::int AS n FROM "${prefix}events"`)
  return Number((result.rows[0] as { readonly n?: unknown } | undefined)?.n ?? 0)
}
