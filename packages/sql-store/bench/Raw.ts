/**
 * The raw `pg` baseline: what a careful hand-written implementation does on
 * the very same tables (created by Chronicle's own migrations under the
 * `raw_` prefix, so shapes, indexes, constraints and the immutability trigger
 * are identical), with parameterised queries, real transactions and the same
 * payloads.
 *
 * - A command (W1, W2, W5) is one transaction: `BEGIN`, select the stream's
 *   version, insert version+1, `COMMIT`. The insert also moves the streams
 *   row (one statement, a conditional upsert in a CTE), so both sides keep
 *   the same rows; no row means a conflict, detected without an error.
 * - A batch append (W3) is `BEGIN`, the streams row, one multi-row `INSERT`
 *   of the 100 events, `COMMIT`.
 * - A rehydration (W4) is one `SELECT` of the stream (the columns Chronicle
 *   reads), `pg`'s own `JSON.parse` of the json columns, and a fold with no
 *   validation.
 * - A single-event append to a known stream (W6) is the command's insert
 *   alone, in one implicit transaction, with the version the caller knows.
 * - A filtered catch-up (W7) is P1's loop without the read model: `SELECT`
 *   500 events of the category after the checkpoint, then move the
 *   checkpoint; its tables have an expression index on the category, as a
 *   careful implementation would add.
 */
import pg from "pg"
import * as Domain from "./Domain.js"
import { backoffMillis, latencyOf, type Measurement, maxRetries, prng, time } from "./Measure.js"

/** W5: workers on the one stream, and commands each. */
export const w5Workers = 8
export const w5PerWorker = 25

/** The prefix of the baseline's tables. */
export const prefix = "raw_"

const events = `"${prefix}events"`
const streams = `"${prefix}streams"`

/** The columns Chronicle's PostgreSQL driver selects for every event read. */
const eventColumns =
  "transaction_id::text AS transaction_id, position::text AS position, event_id::text AS event_id, stream_id, stream_version::text AS stream_version, event_type, schema_version, data, metadata, recorded_at"

const selectVersion = `SELECT version::text AS version FROM ${streams} WHERE stream_id = $1`

/** The command's insert of version $2 of stream $1 into the tables of `tablePrefix`. */
const insertNextInto = (tablePrefix: string) => `WITH s AS (
    INSERT INTO "${tablePrefix}streams" AS s (stream_id, version, last_transaction_id)
    VALUES ($1, $2::bigint, pg_current_xact_id())
    ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, last_transaction_id = EXCLUDED.last_transaction_id
      WHERE s.version = $2::bigint - 1
    RETURNING version
  )
  INSERT INTO "${tablePrefix}events" (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
  SELECT $3::uuid, $1, s.version, $4, 1, $5::json, $6::json, now() FROM s`

const insertNext = insertNextInto(prefix)

/** The statements of a raw command, for `--explain`. */
export const statements = { selectVersion, insertNext }

const metadataJson = (commandId: string): string =>
  JSON.stringify({ correlationId: commandId, causationId: commandId, user: {} })

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** The baseline over one pool. */
export interface RawBench {
  readonly pool: pg.Pool
  readonly w1: (run: number) => Promise<Measurement>
  readonly w2: (run: number) => Promise<Measurement>
  readonly w3: (run: number) => Promise<Measurement>
  readonly w4: (loads: number) => Promise<Measurement>
  readonly w5: (run: number) => Promise<Measurement & { readonly stored: number; readonly version: number }>
  /** Writes the 10,000-event stream W4 reads (not timed). */
  readonly setupLongStream: () => Promise<void>
  /**
   * P1: writes the projection's 100,000 events (1,000 streams, interleaved)
   * into the events table of `tablePrefix` (both sides' tables have the same
   * shape), in one transaction (not timed).
   */
  readonly setupP1Events: (tablePrefix: string) => Promise<void>
  /**
   * P1: catches a balances read model up with every P1 event, from scratch
   * (a fresh table and checkpoint per run): SELECT a batch after the
   * checkpoint, then in one transaction UPSERT one row per stream of the
   * batch and move the checkpoint.
   */
  readonly p1: (run: number) => Promise<Measurement>
  /** W6: the same single-event appends as Chronicle's, with the command's insert alone (one statement). */
  readonly w6: (
    tablePrefix: string,
    target: { readonly category: string; readonly streams: number; readonly version: number },
    appends: number,
    seed: number
  ) => Promise<Measurement>
  /** W7: adds the category index to a seeded store of the baseline (not timed). */
  readonly indexCategories: (tablePrefix: string) => Promise<void>
  /** W7: catches a checkpoint up with every event of `category`, batches of 500, from scratch. */
  readonly w7: (tablePrefix: string, category: string, expected: number, name: string) => Promise<Measurement>
  /** The same warm-up as Chronicle's: 300 sequential commands, then 16 workers × 20. */
  readonly warmUp: (options?: { readonly concurrent?: boolean }) => Promise<void>
  readonly end: () => Promise<void>
}

const VersionRow = (row: unknown): number => {
  // Decoding a driver row: bigint columns arrive as text.
  const version = (row as { readonly version?: unknown } | undefined)?.version
  return typeof version === "string" ? Number(version) : 0
}

/** Builds the baseline on a pool of `maxConnections` connections to `url`. */
export const make = (url: string, maxConnections: number, applicationName: string): RawBench => {
  // idleTimeoutMillis 0: the pool keeps its connections between passes, as Chronicle's does.
  const pool = new pg.Pool({
    connectionString: url,
    max: maxConnections,
    application_name: applicationName,
    idleTimeoutMillis: 0
  })
  pool.on("error", () => undefined)

  /** One command: `true` when it committed, `false` on a conflict (rolled back). */
  const command = async (key: string, n: number): Promise<boolean> => {
    const streamId = Domain.streamIdOf(key)
    const commandId = crypto.randomUUID()
    const client = await pool.connect()
    try {
      await client.query("BEGIN")
      const current = VersionRow((await client.query(selectVersion, [streamId])).rows[0])
      const event = Domain.payload(n)
      if (event.amount <= 0) throw new Error("raw: the command is refused")
      const written = await client.query(insertNext, [
        streamId,
        String(current + 1),
        crypto.randomUUID(),
        Domain.eventType,
        JSON.stringify(event),
        metadataJson(commandId)
      ])
      if (written.rowCount === 1) {
        await client.query("COMMIT")
        return true
      }
      await client.query("ROLLBACK")
      return false
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }

  const commands = async (keys: ReadonlyArray<string>, first: number): Promise<void> => {
    for (const [i, key] of keys.entries()) {
      if (!(await command(key, first + i))) throw new Error(`raw: unexpected conflict on ${key}`)
    }
  }

  /** W1's 2,000 commands, in order, as (stream key, command number). */
  const w1Keys = (run: number, workload: string): ReadonlyArray<string> =>
    Array.from({ length: 2000 }, (_, i) => Domain.streamKey(run, workload, i % 200))

  const appendBatch = async (streamId: string, base: number, count: number, first: number): Promise<void> => {
    const metadata = metadataJson(crypto.randomUUID())
    const values: Array<string> = []
    const params: Array<string> = [streamId, Domain.eventType, metadata, new Date().toISOString()]
    for (let i = 0; i < count; i++) {
      const p = params.length
      values.push(`($${p + 1}::uuid, $1, $${p + 2}::bigint, $2, 1, $${p + 3}::json, $3::json, $4::timestamptz)`)
      params.push(crypto.randomUUID(), String(base + i + 1), JSON.stringify(Domain.payload(first + i)))
    }
    const client = await pool.connect()
    try {
      await client.query("BEGIN")
      const stream =
        base === 0
          ? await client.query(
              `INSERT INTO ${streams} (stream_id, version, last_transaction_id) VALUES ($1, $2::bigint, pg_current_xact_id())
               ON CONFLICT (stream_id) DO NOTHING`,
              [streamId, String(count)]
            )
          : await client.query(
              `UPDATE ${streams} SET version = version + $2::bigint, last_transaction_id = pg_current_xact_id()
               WHERE stream_id = $1 AND version = $3::bigint`,
              [streamId, String(count), String(base)]
            )
      if (stream.rowCount !== 1) throw new Error(`raw: unexpected conflict on ${streamId}`)
      await client.query(
        `INSERT INTO ${events} (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
         VALUES ${values.join(", ")}`,
        params
      )
      await client.query("COMMIT")
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }

  const longStream = Domain.streamIdOf(Domain.streamKey(0, "long", 0))

  const rehydrate = async (): Promise<number> => {
    const result = await pool.query(
      // Qualified: ORDER BY stream_version alone names the text alias of the
      // select list, so PostgreSQL would sort the rows as text (and in the
      // wrong order: "10" before "9").
      `SELECT ${eventColumns} FROM ${events} AS e WHERE stream_id = $1 ORDER BY e.stream_version`,
      [longStream]
    )
    let state = Domain.initialState
    for (const row of result.rows) {
      // Decoding a driver row: pg has parsed the json column already.
      state = Domain.evolve(state, (row as { readonly data: { readonly amount: number } }).data)
    }
    return state.count
  }

  const setupP1Events = async (tablePrefix: string): Promise<void> => {
    const metadata = metadataJson(crypto.randomUUID())
    await pool.query(
      `WITH e AS (
         SELECT n, $1 || '-' || (n % $3) AS stream_id, n / $3 + 1 AS stream_version FROM generate_series(0, $2 - 1) AS n
       ),
       s AS (
         INSERT INTO "${tablePrefix}streams" (stream_id, version, last_transaction_id)
         SELECT $1 || '-' || k, $2 / $3, pg_current_xact_id() FROM generate_series(0, $3 - 1) AS k
       )
       INSERT INTO "${tablePrefix}events" (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
       SELECT gen_random_uuid(), e.stream_id, e.stream_version, $4, 1,
         json_build_object('amount', 1 + n % 997, 'reference', 'ref-' || lpad(n::text, 20, '0')), $5::json, now()
       FROM e ORDER BY n`,
      [Domain.p1Category, Domain.p1Events, Domain.p1Streams, Domain.eventType, metadata]
    )
  }

  const p1 = async (run: number): Promise<Measurement> => {
    const balances = `"${prefix}p1_balances_r${run}"`
    const checkpoints = `"${prefix}p1_checkpoints"`
    await pool.query(
      `CREATE TABLE ${balances} (stream_id text PRIMARY KEY, balance bigint NOT NULL, events int NOT NULL)`
    )
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${checkpoints} (name text PRIMARY KEY, transaction_id xid8 NOT NULL, position bigint NOT NULL)`
    )
    const name = `p1_r${run}`
    await pool.query(`INSERT INTO ${checkpoints} VALUES ($1, '0'::xid8, 0)`, [name])
    // Qualified: ORDER BY on the text aliases would sort as text.
    const select = `SELECT e.transaction_id::text AS transaction_id, e.position::text AS position, e.stream_id, e.data
      FROM ${events} AS e
      WHERE (e.transaction_id, e.position) > ($1::xid8, $2::bigint)
        AND e.transaction_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
        AND split_part(e.stream_id, '-', 1) = $3 AND e.event_type = $4
      ORDER BY e.transaction_id, e.position LIMIT 500`
    let processed = 0
    const { seconds, cpuMillis } = await time(async () => {
      let commit = "0"
      let sequence = "0"
      for (;;) {
        const batch = await pool.query(select, [commit, sequence, Domain.p1Category, Domain.eventType])
        if (batch.rows.length === 0) return
        const byStream = new Map<string, { balance: number; events: number }>()
        for (const row of batch.rows) {
          // Decoding a driver row: pg has parsed the json column already.
          const { stream_id, data } = row as { readonly stream_id: string; readonly data: { readonly amount: number } }
          const current = byStream.get(stream_id) ?? { balance: 0, events: 0 }
          byStream.set(stream_id, { balance: current.balance + data.amount, events: current.events + 1 })
        }
        const last = batch.rows[batch.rows.length - 1] as { readonly transaction_id: string; readonly position: string }
        commit = last.transaction_id
        sequence = last.position
        const client = await pool.connect()
        try {
          await client.query("BEGIN")
          await client.query(
            `INSERT INTO ${balances} AS b (stream_id, balance, events)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[])
             ON CONFLICT (stream_id) DO UPDATE SET balance = b.balance + excluded.balance, events = b.events + excluded.events`,
            [
              [...byStream.keys()],
              [...byStream.values()].map((v) => v.balance),
              [...byStream.values()].map((v) => v.events)
            ]
          )
          await client.query(
            `UPDATE ${checkpoints} SET transaction_id = $2::xid8, position = $3::bigint WHERE name = $1`,
            [name, commit, sequence]
          )
          await client.query("COMMIT")
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined)
          throw error
        } finally {
          client.release()
        }
        processed += batch.rows.length
      }
    })
    const total = await pool.query(`SELECT sum(events)::int AS n FROM ${balances}`)
    const stored = Number((total.rows[0] as { readonly n?: unknown } | undefined)?.n ?? 0)
    if (processed !== Domain.p1Events || stored !== Domain.p1Events) {
      throw new Error(`raw P1: processed ${processed} events, ${stored} in the read model, expected ${Domain.p1Events}`)
    }
    return { ops: processed, seconds, cpuMillis }
  }

  const w6Versions = new Map<string, Map<number, number>>()
  const w6: RawBench["w6"] = async (tablePrefix, target, appends, seed) => {
    const versions = w6Versions.get(tablePrefix) ?? new Map<number, number>()
    w6Versions.set(tablePrefix, versions)
    const random = prng(seed)
    const insert = insertNextInto(tablePrefix)
    const metadata = metadataJson(crypto.randomUUID())
    const picks = Array.from({ length: appends }, (_, i) => {
      const stream = Math.floor(random() * target.streams)
      const version = versions.get(stream) ?? target.version
      versions.set(stream, version + 1)
      return { stream, version, n: seed * 1_000_000 + i }
    })
    const latencies: Array<number> = []
    const { seconds, cpuMillis } = await time(async () => {
      for (const { stream, version, n } of picks) {
        const start = performance.now()
        const written = await pool.query(insert, [
          `${target.category}-${stream}`,
          String(version + 1),
          crypto.randomUUID(),
          Domain.eventType,
          JSON.stringify(Domain.payload(n)),
          metadata
        ])
        if (written.rowCount !== 1) throw new Error(`raw W6: unexpected conflict on ${target.category}-${stream}`)
        latencies.push(performance.now() - start)
      }
    })
    return { ops: appends, seconds, cpuMillis, latency: latencyOf(latencies) }
  }

  const indexCategories = async (tablePrefix: string) => {
    await pool.query(
      `CREATE INDEX IF NOT EXISTS "${tablePrefix}events_category" ON "${tablePrefix}events" (split_part(stream_id, '-', 1), transaction_id, position)`
    )
    await pool.query(`ANALYZE "${tablePrefix}events"`)
  }

  const w7: RawBench["w7"] = async (tablePrefix, category, expected, name) => {
    const checkpoints = `"${tablePrefix}w7_checkpoints"`
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${checkpoints} (name text PRIMARY KEY, transaction_id xid8 NOT NULL, position bigint NOT NULL)`
    )
    await pool.query(`INSERT INTO ${checkpoints} VALUES ($1, '0'::xid8, 0)`, [name])
    const select = `SELECT e.transaction_id::text AS transaction_id, e.position::text AS position, e.stream_id, e.data
      FROM "${tablePrefix}events" AS e
      WHERE split_part(e.stream_id, '-', 1) = $3
        AND (e.transaction_id, e.position) > ($1::xid8, $2::bigint)
        AND e.transaction_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
        AND e.event_type = $4
      ORDER BY split_part(e.stream_id, '-', 1), e.transaction_id, e.position LIMIT 500`
    let processed = 0
    const { seconds, cpuMillis } = await time(async () => {
      let commit = "0"
      let sequence = "0"
      for (;;) {
        const batch = await pool.query(select, [commit, sequence, category, Domain.eventType])
        if (batch.rows.length === 0) return
        let sum = 0
        for (const row of batch.rows) {
          // Decoding a driver row: pg has parsed the json column already.
          sum += (row as { readonly data: { readonly amount: number } }).data.amount
        }
        if (!Number.isFinite(sum)) throw new Error("raw W7: bad amounts")
        const last = batch.rows[batch.rows.length - 1] as { readonly transaction_id: string; readonly position: string }
        commit = last.transaction_id
        sequence = last.position
        await pool.query(`UPDATE ${checkpoints} SET transaction_id = $2::xid8, position = $3::bigint WHERE name = $1`, [
          name,
          commit,
          sequence
        ])
        processed += batch.rows.length
      }
    })
    if (processed !== expected) throw new Error(`raw W7 ${name}: processed ${processed} events, expected ${expected}`)
    return { ops: processed, seconds, cpuMillis }
  }

  return {
    pool,
    setupP1Events,
    p1,
    w6,
    w7,
    indexCategories,
    w1: async (run) => {
      const keys = w1Keys(run, "w1")
      const { seconds, cpuMillis } = await time(() => commands(keys, 0))
      return { ops: keys.length, seconds, cpuMillis }
    },
    w2: async (run) => {
      const keys = w1Keys(run, "w2")
      const workers = Array.from({ length: 16 }, (_, w) => keys.filter((_, i) => (i % 200) % 16 === w))
      const { seconds, cpuMillis } = await time(() => Promise.all(workers.map((own) => commands(own, 0))))
      return { ops: keys.length, seconds, cpuMillis }
    },
    w3: async (run) => {
      const { seconds, cpuMillis } = await time(async () => {
        for (let i = 0; i < 100; i++) await appendBatch(Domain.streamIdOf(Domain.streamKey(run, "w3", i)), 0, 100, 0)
      })
      return { ops: 100, seconds, cpuMillis }
    },
    w4: async (loads) => {
      const { seconds, cpuMillis } = await time(async () => {
        for (let i = 0; i < loads; i++) {
          const count = await rehydrate()
          if (count !== 10_000) throw new Error(`raw: rehydrated ${count} events, expected 10000`)
        }
      })
      return { ops: loads, seconds, cpuMillis }
    },
    w5: async (run) => {
      const key = Domain.streamKey(run, "w5", 0)
      let conflicts = 0
      let failed = 0
      let succeeded = 0
      const worker = async (w: number) => {
        for (let c = 0; c < w5PerWorker; c++) {
          for (let attempt = 1; ; attempt++) {
            if (await command(key, w * 1000 + c)) {
              succeeded++
              break
            }
            conflicts++
            if (attempt > maxRetries) {
              failed++
              break
            }
            await sleep(backoffMillis(attempt))
          }
        }
      }
      const { seconds, cpuMillis } = await time(() =>
        Promise.all(Array.from({ length: w5Workers }, (_, w) => worker(w)))
      )
      const streamId = Domain.streamIdOf(key)
      const counted = await pool.query(`SELECT count(*)::int AS n FROM ${events} WHERE stream_id = $1`, [streamId])
      const stored = Number((counted.rows[0] as { readonly n?: unknown } | undefined)?.n ?? 0)
      const version = VersionRow((await pool.query(selectVersion, [streamId])).rows[0])
      return { ops: succeeded, seconds, cpuMillis, conflicts, failed, stored, version }
    },
    setupLongStream: async () => {
      for (let b = 0; b < 100; b++) await appendBatch(longStream, b * 100, 100, b * 100)
    },
    warmUp: async (options) => {
      await commands(w1Keys(0, "warm").slice(0, 300), 0)
      if (options?.concurrent === false) return
      await Promise.all(
        Array.from({ length: 16 }, (_, w) =>
          commands(
            Array.from({ length: 20 }, (_, i) => Domain.streamKey(0, "warm-concurrent", w * 20 + (i % 20))),
            0
          )
        )
      )
    },
    end: () => pool.end()
  }
}
