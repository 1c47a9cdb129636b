/**
 * Measurements and their statistics: one timed pass of a workload, and the
 * median, min and max over runs.
 */

/** One timed pass of a workload on one side (Chronicle or raw). */
export interface Measurement {
  /** Operations completed (commands, appends, loads). */
  readonly ops: number
  readonly seconds: number
  /** CPU time of this process (user + system) during the pass, in milliseconds. */
  readonly cpuMillis: number
  /** W5: conflicts seen (each one a retry). */
  readonly conflicts?: number
  /** W5: commands that gave up after their last retry. */
  readonly failed?: number
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

/** A running clock: wall time and this process's CPU time. */
export const startClock = (): (() => { readonly seconds: number; readonly cpuMillis: number }) => {
  const start = performance.now()
  const cpu = process.cpuUsage()
  return () => {
    const used = process.cpuUsage(cpu)
    return { seconds: (performance.now() - start) / 1000, cpuMillis: (used.user + used.system) / 1000 }
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
 * as `Repository.defaultRetry`: exponential from 5 ms, capped at 250 ms,
 * jittered by a factor in [0.8, 1.2).
 */
export const backoffMillis = (attempt: number): number =>
  Math.min(5 * 2 ** (attempt - 1), 250) * (0.8 + Math.random() * 0.4)

/** Retries per command before W5 gives up on it (both sides). */
export const maxRetries = 50
