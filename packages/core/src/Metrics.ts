/**
 * Chronicle's metrics, as Effect `Metric`s: export them with any metrics
 * backend Effect supports (for example `@effect/opentelemetry`).
 *
 * - `chronicle_append_duration_seconds` (histogram): how long appends take,
 *   tagged with the `outcome` (`written`, `duplicate`, `conflict`, `failed`);
 * - `chronicle_append_conflicts_total` (counter): appends refused with a
 *   `ConcurrencyError`;
 * - `chronicle_command_retries_total` (counter): commands decided again after
 *   a conflict;
 * - `chronicle_projection_lag` (gauge): events a projection still has to
 *   process, tagged with `projection` and `version`.
 *
 * The SQL store adds `chronicle_feed_held_back_seconds` and
 * `chronicle_feed_hidden_events` (see `SqlEventStore`).
 *
 * @since 0.6.0
 */
import { Cause, Clock, Effect, Exit, Metric, MetricBoundaries, Option } from "effect"
import type { AppendResult } from "./Append.js"
import { isConcurrencyError } from "./AppendError.js"

/**
 * How long appends take, in seconds, tagged with their `outcome`.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Metrics } from "@chronicle/core"
 *
 * const written = Metric.value(Metrics.appendDuration.pipe(Metric.tagged("outcome", "written")))
 * ```
 * @since 0.6.0
 * @category metrics
 */
export const appendDuration = Metric.histogram(
  "chronicle_append_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 16 }),
  "How long appends take, by outcome (written, duplicate, conflict, failed)"
)

/**
 * Appends refused with a `ConcurrencyError`.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Metrics } from "@chronicle/core"
 *
 * const conflicts = Metric.value(Metrics.appendConflicts)
 * ```
 * @since 0.6.0
 * @category metrics
 */
export const appendConflicts = Metric.counter("chronicle_append_conflicts_total", {
  description: "Appends refused because the stream was not at the expected version",
  incremental: true
})

/**
 * Commands decided again after a conflict (a repository's retries).
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Metrics } from "@chronicle/core"
 *
 * const countRetry = Metric.increment(Metrics.commandRetries)
 * ```
 * @since 0.6.0
 * @category metrics
 */
export const commandRetries = Metric.counter("chronicle_command_retries_total", {
  description: "Commands decided again after a concurrency conflict",
  incremental: true
})

/**
 * Events a projection still has to process, counted up to its lag limit,
 * tagged with `projection` and `version`.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Metrics } from "@chronicle/core"
 *
 * const balancesLag = Metrics.projectionLag.pipe(Metric.tagged("projection", "balances"))
 * ```
 * @since 0.6.0
 * @category metrics
 */
export const projectionLag = Metric.gauge("chronicle_projection_lag", {
  description: "Events a projection still has to process (counted up to its lag limit)"
})

type Outcome = "written" | "duplicate" | "conflict" | "failed"

// One tagged histogram per outcome, made once: tagging on every append built
// a new metric key (and hashed it) per call.
const appendDurationOf: Record<Outcome, Metric.Metric.Histogram<number>> = {
  written: appendDuration.pipe(Metric.tagged("outcome", "written")),
  duplicate: appendDuration.pipe(Metric.tagged("outcome", "duplicate")),
  conflict: appendDuration.pipe(Metric.tagged("outcome", "conflict")),
  failed: appendDuration.pipe(Metric.tagged("outcome", "failed"))
}

const outcomeOf = <E>(exit: Exit.Exit<AppendResult, E>): Outcome =>
  Exit.match(exit, {
    onSuccess: (result) => (result.duplicate ? "duplicate" : "written"),
    onFailure: (cause) => (Option.exists(Cause.failureOption(cause), isConcurrencyError) ? "conflict" : "failed")
  })

/**
 * Records an append in {@link appendDuration} and, when it is refused with
 * a `ConcurrencyError`, in {@link appendConflicts}. Event stores wrap their
 * `append` with it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore, Metrics, StreamId } from "@chronicle/core"
 *
 * const measured = EventStore.append(StreamId.forAggregate("Account", "a-1"), []).pipe(Metrics.trackAppend)
 * ```
 * @since 0.6.0
 * @category combinators
 */
export const trackAppend = <E, R>(append: Effect.Effect<AppendResult, E, R>): Effect.Effect<AppendResult, E, R> =>
  Effect.flatMap(Clock.currentTimeNanos, (started) =>
    Effect.onExit(append, (exit) =>
      Effect.flatMap(Clock.currentTimeNanos, (ended) => {
        const seconds = Number(ended - started) / 1e9
        const outcome = outcomeOf(exit)
        const timing = Metric.update(appendDurationOf[outcome], seconds)
        return outcome === "conflict" ? Effect.zipRight(timing, Metric.increment(appendConflicts)) : timing
      })
    )
  )
