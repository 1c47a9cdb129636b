/**
 * W8: the memory of loading one long stream (200,000 events by default, no
 * snapshots), measured in a child process of its own so that nothing else
 * the benchmark holds (other workloads' pools, rows, JIT state) is in the
 * numbers.
 *
 * The child (this file run as a script, with `--expose-gc`) builds its side
 * (Chronicle: `Repository.load` over `SqlEventStore` with default options;
 * raw: keyset-paged `SELECT`s of 1,000 rows folded one page at a time),
 * warms up on a short stream, runs a full GC, takes the RSS as the baseline,
 * resets the kernel's peak-RSS mark (`/proc/self/clear_refs`), then loads the
 * long stream while sampling `process.memoryUsage()` every 5 ms. It reports
 * the peak RSS growth (the kernel's `VmHWM` minus the baseline: exact, not
 * sampled), the sampled RSS and heap growth, its CPU time, and the CPU time
 * of its PostgreSQL backend (`PgCpu.ts`), as one JSON line on stdout.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Repository } from "@chronicle/core"
import { SqlEventStore } from "@chronicle/sql-store"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import pg from "pg"
import * as Domain from "./Domain.js"
import * as Interrupt from "./Interrupt.js"
import type { Measurement } from "./Measure.js"
import { startClock, withProbe } from "./Measure.js"
import * as PgCpu from "./PgCpu.js"

/** What the parent tells the child. */
export interface Job {
  readonly side: "chronicle" | "raw"
  readonly url: string
  readonly tablePrefix: string
  /** The aggregate id (stream `Acct-<key>`) of the long stream, and its length. */
  readonly key: string
  readonly events: number
  /** A short stream to warm up on, and its length. */
  readonly warmKey: string
  readonly warmEvents: number
  /** The `application_name` of the side's connections (its PostgreSQL CPU is read by it). */
  readonly applicationName: string
  /** The `application_name` of the connection that reads `pg_stat_activity` (not counted). */
  readonly adminApplicationName: string
}

const mb = (bytes: number): number => bytes / 2 ** 20

/** `VmHWM` (peak RSS since the last reset) of this process in bytes, if readable. */
const peakRss = (): number | undefined => {
  try {
    const line = fs
      .readFileSync("/proc/self/status", "utf8")
      .split("\n")
      .find((l) => l.startsWith("VmHWM:"))
    const kb = Number(line?.replace(/\D+/g, ""))
    return Number.isFinite(kb) && kb > 0 ? kb * 1024 : undefined
  } catch {
    return undefined
  }
}

const resetPeakRss = (): boolean => {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5")
    return true
  } catch {
    return false
  }
}

const collectGarbage = () => {
  const gc: unknown = Reflect.get(globalThis, "gc")
  if (typeof gc === "function") {
    Reflect.apply(gc, undefined, [])
    Reflect.apply(gc, undefined, [])
  }
}

/** The two sides' loaders: each returns the folded event count of a stream. */
const loader = async (job: Job) => {
  if (job.side === "chronicle") {
    const runtime = ManagedRuntime.make(
      SqlEventStore.layer({ tablePrefix: job.tablePrefix }).pipe(
        Layer.provide(
          PgClient.layer({ url: Redacted.make(job.url), maxConnections: 2, applicationName: job.applicationName })
        )
      )
    )
    const repository = await runtime.runPromise(Repository.make(Domain.Account))
    return {
      load: (key: string) => runtime.runPromise(Effect.map(repository.load(key), ({ state }) => state.count)),
      end: () => runtime.dispose()
    }
  }
  const pool = new pg.Pool({ connectionString: job.url, max: 1, application_name: job.applicationName })
  const page = `SELECT transaction_id::text AS transaction_id, position::text AS position, event_id::text AS event_id,
      stream_id, stream_version::text AS stream_version, event_type, schema_version, data, metadata, recorded_at
    FROM "${job.tablePrefix}events" AS e WHERE e.stream_id = $1 AND e.stream_version > $2::bigint
    ORDER BY e.stream_version LIMIT 1000`
  return {
    load: async (key: string) => {
      let state = Domain.initialState
      let after = 0
      for (;;) {
        const result = await pool.query(page, [Domain.streamIdOf(key), String(after)])
        for (const row of result.rows) {
          // Decoding a driver row: pg has parsed the json column already.
          state = Domain.evolve(state, (row as { readonly data: { readonly amount: number } }).data)
        }
        if (result.rows.length < 1000) return state.count
        after += result.rows.length
      }
    },
    end: () => pool.end()
  }
}

const child = async (job: Job) => {
  const admin = new pg.Client({ connectionString: job.url, application_name: job.adminApplicationName })
  await admin.connect()
  const side = await loader(job)
  try {
    for (let i = 0; i < 3; i++) {
      const n = await side.load(job.warmKey)
      if (n !== job.warmEvents) throw new Error(`W8 warm-up: loaded ${n} events, expected ${job.warmEvents}`)
    }
    collectGarbage()
    const baseline = process.memoryUsage()
    const reset = resetPeakRss()
    let maxRss = baseline.rss
    let maxHeap = baseline.heapUsed
    let samples = 0
    const sample = () => {
      const now = process.memoryUsage()
      maxRss = Math.max(maxRss, now.rss)
      maxHeap = Math.max(maxHeap, now.heapUsed)
      samples++
    }
    const probe = PgCpu.makeProbe(admin, job.applicationName)
    await probe.refresh()
    const timer = setInterval(sample, 5)
    const { count, stop } = await withProbe(probe, async () => {
      const stop = startClock()
      const count = await side.load(job.key)
      return { count, stop: stop() }
    })
    clearInterval(timer)
    sample()
    if (count !== job.events) throw new Error(`W8 ${job.side}: loaded ${count} events, expected ${job.events}`)
    const peak = reset ? peakRss() : undefined
    const reading = await probe.result()
    const measurement: Measurement = PgCpu.complete(
      {
        ops: 1,
        ...stop,
        memory: {
          baselineRssMb: mb(baseline.rss),
          peakRssGrowthMb: mb((peak ?? maxRss) - baseline.rss),
          sampledRssGrowthMb: mb(maxRss - baseline.rss),
          heapGrowthMb: mb(maxHeap - baseline.heapUsed),
          samples
        }
      },
      reading
    )
    process.stdout.write(`${JSON.stringify(measurement)}\n`)
  } finally {
    await side.end()
    await admin.end()
  }
}

const isJob = (value: unknown): value is Job =>
  typeof value === "object" && value !== null && "side" in value && "url" in value && "key" in value

/** Runs the W8 child for one side and returns its measurement. */
export const measure = (job: Job): Promise<Measurement> =>
  new Promise((resolve, reject) => {
    const script = fileURLToPath(import.meta.url)
    Interrupt.check()
    const proc = spawn(process.execPath, [...process.execArgv, "--expose-gc", script], {
      env: { ...process.env, BENCH_W8_JOB: JSON.stringify(job) },
      stdio: ["ignore", "pipe", "inherit"]
    })
    Interrupt.child(proc, `W8's ${job.side} process`)
    let out = ""
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
    })
    proc.on("error", reject)
    proc.on("close", (code) => {
      const last = out.trim().split("\n").at(-1) ?? ""
      if (code !== 0) return reject(new Error(`W8 ${job.side}: the child exited with ${code}`))
      try {
        const parsed: unknown = JSON.parse(last)
        if (typeof parsed !== "object" || parsed === null || !("ops" in parsed)) throw new Error("not a measurement")
        // Decoding the child's JSON line: written by `child` above from a Measurement.
        resolve(parsed as Measurement)
      } catch (error) {
        reject(new Error(`W8 ${job.side}: unreadable child output ${JSON.stringify(last)}: ${String(error)}`))
      }
    })
  })

const job = process.env.BENCH_W8_JOB
if (job !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const parsed: unknown = JSON.parse(job)
  if (!isJob(parsed)) throw new Error("BENCH_W8_JOB is not a W8 job")
  child(parsed).catch((error: unknown) => {
    console.error("W8 child failed:", error)
    process.exitCode = 1
  })
}
