/**
 * Measurements and their statistics: one timed pass of a workload, and the
 * median, min and max over runs.
 *
 * A pass is timed by {@link startClock} (or {@link time}): wall time and this
 * process's CPU time. When a {@link Probe} is active (set by `run.ts` around
 * each side's pass), the same start and stop also read the CPU time of the
 * PostgreSQL backends serving that side and of the whole machine
 * (`PgCpu.ts`), synchronously, so that the server's CPU is taken over exactly
 * the timed region.
 */
import * as fs from "node:fs"
import { constants, PerformanceObserver } from "node:perf_hooks"

/** One timed pass of a workload on one side (Chronicle or raw). */
export interface Measurement {
  /** Operations completed (commands, appends, loads, events). */
  readonly ops: number
  readonly seconds: number
  /** CPU time of this process (user + system) during the pass, in milliseconds. */
  readonly cpuMillis: number
  /**
   * CPU time of the PostgreSQL backends serving this side's pools during the
   * pass, in milliseconds (see `PgCpu.ts`); absent when it cannot be read.
   */
  readonly pgCpuMillis?: number
  /** CPU time of PostgreSQL's background processes (WAL writer, checkpointer, …) during the pass. */
  readonly pgBackgroundMillis?: number
  /**
   * CPU time of PostgreSQL processes that exited during the pass (parallel
   * workers of this side's queries, but also other clients' backends).
   */
  readonly pgExitedMillis?: number
  /**
   * CPU time used on the machine during the pass by everything else (other
   * processes, other PostgreSQL clients), in milliseconds: the noise.
   */
  readonly otherCpuMillis?: number
  /** Backends of this side that exited during the pass (their CPU is then missing). */
  readonly lostBackends?: number
  /** W5: conflicts seen (each one a retry). */
  readonly conflicts?: number
  /** W5: commands that gave up after their last retry. */
  readonly failed?: number
  /** W6: per-operation latencies in milliseconds. */
  readonly latency?: Latency
  /** W8: memory of the loading process, in MB. */
  readonly memory?: Memory
  /** This process's garbage collection during the pass (see {@link gcOf}). */
  readonly gc?: GcReading
}

/**
 * What V8's garbage collector did in this process during a timed region:
 * the main thread's pauses (`PerformanceObserver` `gc` entries; the
 * concurrent marking on helper threads is in `cpuMillis` but not here), and
 * the heap in use when the region started.
 */
export interface GcReading {
  /** Pauses of the main thread for GC, in milliseconds. */
  readonly pauseMillis: number
  /** Of which major (mark-compact) collections. */
  readonly majorPauseMillis: number
  readonly majors: number
  readonly minors: number
  /** `heapUsed` when the region started, in MB. */
  readonly heapUsedMb: number
  /**
   * CPU time of this process's threads other than the main one during the
   * region (`/proc/self/task/<tid>/schedstat`), in milliseconds: V8's
   * concurrent marking, sweeping and compilation, and libuv's pool.
   */
  readonly helperThreadsMillis?: number
}

/** CPU time in nanoseconds of this process's main thread and of all its other threads, from `/proc`. */
const threadsCpu = (): { readonly main: number; readonly helpers: number } | undefined => {
  try {
    let main = 0
    let helpers = 0
    for (const tid of fs.readdirSync("/proc/self/task")) {
      const ns = Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0])
      if (Number(tid) === process.pid) main += ns
      else helpers += ns
    }
    return { main, helpers }
  } catch {
    return undefined
  }
}

/** Percentiles of per-operation latencies, in milliseconds. */
export interface Latency {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

/** W8: what loading one long stream costs in memory, in MB (1 MB = 2^20 bytes). */
export interface Memory {
  /** RSS after start-up, warm-up and a full GC, before the load. */
  readonly baselineRssMb: number
  /** Peak RSS during the load (the kernel's `VmHWM`, reset before the load), minus the baseline. */
  readonly peakRssGrowthMb: number
  /** The highest RSS sampled every few milliseconds during the load, minus the baseline. */
  readonly sampledRssGrowthMb: number
  /** The highest `heapUsed` sampled during the load, minus `heapUsed` after the pre-load GC. */
  readonly heapGrowthMb: number
  /** Samples taken during the load. */
  readonly samples: number
}

/** Operations per second of a measurement. */
export const rate = (m: Measurement): number => m.ops / m.seconds

/** Median, min and max of a non-empty list. */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? (sorted[mid] ?? Number.NaN)
        : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN }
}

/** The `q`-quantile (0–1) of sorted values, nearest rank. */
const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN

/** p50, p90, p99 and max of a list of latencies. */
export const latencyOf = (millis: ReadonlyArray<number>): Latency => {
  const sorted = [...millis].sort((a, b) => a - b)
  return {
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN
  }
}

/**
 * What a probe read over a timed region: the server's side of it. Read at
 * start and stop synchronously; completed after the pass by `run.ts`.
 */
export interface ProbeReading {
  readonly pgCpuMillis?: number
  readonly pgBackgroundMillis?: number
  readonly pgExitedMillis?: number
  readonly machineBusyMillis?: number
  readonly lostBackends?: number
}

/** Reads the server's CPU at the start and at the end of a timed region. */
export interface Probe {
  /** Called synchronously when a timed region starts. */
  readonly begin: () => void
  /** Called synchronously when it stops. */
  readonly end: () => void
}

let activeProbe: Probe | undefined

/** Runs `f` with `probe` reading every timed region `f` starts (one side's pass). */
export const withProbe = async <A>(probe: Probe | undefined, f: () => Promise<A>): Promise<A> => {
  activeProbe = probe
  try {
    return await f()
  } finally {
    activeProbe = undefined
  }
}

/** GC entries of this process, kept from {@link watchGc} on (pruned when read). */
let gcEntries: Array<{ readonly start: number; readonly duration: number; readonly major: boolean }> | undefined

/** Starts recording this process's GC pauses (`PerformanceObserver`), read per region by {@link gcOf}. */
export const watchGc = (): void => {
  if (gcEntries !== undefined) return
  const entries: Array<{ readonly start: number; readonly duration: number; readonly major: boolean }> = []
  gcEntries = entries
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const detail: unknown = Reflect.get(e, "detail")
      const kind =
        typeof detail === "object" && detail !== null && "kind" in detail && typeof detail.kind === "number"
          ? detail.kind
          : 0
      entries.push({ start: e.startTime, duration: e.duration, major: kind === constants.NODE_PERFORMANCE_GC_MAJOR })
    }
  })
  observer.observe({ entryTypes: ["gc"] })
}

/** The last timed region's bounds (`performance.now()`) and heap at its start, for {@link gcOf}. */
let lastRegion:
  | { readonly start: number; readonly end: number; readonly heapUsedMb: number; readonly helperThreadsMillis?: number }
  | undefined

/**
 * The GC pauses within the last timed region; `undefined` unless
 * {@link watchGc} was called. Waits one turn of the event loop first, since
 * the observer is told of a collection asynchronously.
 */
export const gcOf = async (): Promise<GcReading | undefined> => {
  const entries = gcEntries
  const region = lastRegion
  if (entries === undefined || region === undefined) return undefined
  await new Promise((resolve) => setTimeout(resolve, 5))
  let pauseMillis = 0
  let majorPauseMillis = 0
  let majors = 0
  let minors = 0
  for (const e of entries) {
    if (e.start < region.start || e.start > region.end) continue
    pauseMillis += e.duration
    if (e.major) {
      majors++
      majorPauseMillis += e.duration
    } else minors++
  }
  entries.splice(0, entries.length)
  return {
    pauseMillis,
    majorPauseMillis,
    majors,
    minors,
    heapUsedMb: region.heapUsedMb,
    ...(region.helperThreadsMillis === undefined ? {} : { helperThreadsMillis: region.helperThreadsMillis })
  }
}

/** A running clock: wall time and this process's CPU time (and the active probe's readings). */
export const startClock = (): (() => { readonly seconds: number; readonly cpuMillis: number }) => {
  const probe = activeProbe
  const watched = gcEntries !== undefined
  const heapUsedMb = watched ? process.memoryUsage().heapUsed / 2 ** 20 : Number.NaN
  const threadsBefore = watched ? threadsCpu() : undefined
  probe?.begin()
  const start = performance.now()
  const cpu = process.cpuUsage()
  return () => {
    const used = process.cpuUsage(cpu)
    const end = performance.now()
    const seconds = (end - start) / 1000
    probe?.end()
    const threadsAfter = threadsBefore === undefined ? undefined : threadsCpu()
    lastRegion = {
      start,
      end,
      heapUsedMb,
      ...(threadsBefore === undefined || threadsAfter === undefined
        ? {}
        : { helperThreadsMillis: (threadsAfter.helpers - threadsBefore.helpers) / 1e6 })
    }
    return { seconds, cpuMillis: (used.user + used.system) / 1000 }
  }
}

/** Wall and CPU time while `f` runs, with its result. */
export const time = async <A>(
  f: () => Promise<A>
): Promise<{ readonly seconds: number; readonly cpuMillis: number; readonly value: A }> => {
  const stop = startClock()
  const value = await f()
  return { ...stop(), value }
}

/**
 * The delay before retry `attempt` (1-based) after a conflict, the same shape
 * as `Repository.defaultRetry`: exponential from 2 ms (× 1.5), capped at
 * 25 ms, jittered by a factor in [0.8, 1.2).
 */
export const backoffMillis = (attempt: number): number =>
  Math.min(2 * 1.5 ** (attempt - 1), 25) * (0.8 + Math.random() * 0.4)

/** Retries per command before W5 gives up on it (both sides). */
export const maxRetries = 50

/**
 * A small deterministic pseudo-random generator (mulberry32), so that both
 * sides of a pass pick the same sequence (W6's target streams).
 */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
