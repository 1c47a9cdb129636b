/**
 * Administration of sagas, for operators, command-line tools and tests: the
 * `status` of one instance and the `list` of a saga's instances (both read
 * the instances' journals, in any process), `retry` of a failed instance,
 * `waitFor` an instance to reach a state, and the `consumerName` of a saga's
 * trigger consumer (to find it in `ProjectionAdmin.status`).
 *
 * @since 0.5.0
 */
import type { DateTime, Duration, Effect, Option } from "effect"
import type { EventDecodeError } from "./Event.js"
import type { EventStore } from "./EventStore.js"
import * as Control from "./internal/saga/control.js"
import type { SagaNotFound, SagaNotRetryable, SagaWaitTimeout } from "./SagaError.js"
import type { StoreError } from "./StoreError.js"

/**
 * What an instance is doing:
 *
 * - `running`: started, executing steps;
 * - `waiting`: waiting for an event (`awaitEvent`) or sleeping;
 * - `completed`: `run` succeeded;
 * - `failed`: `run` failed for good, and every completed step was compensated;
 * - `compensating`: `run` failed, compensations are running;
 * - `compensation-failed`: a compensation (or `onFailure`) kept failing:
 *   something stays done that should have been undone. `error` says what;
 *   fix the cause, then `SagaAdmin.retry`.
 *
 * @example
 * ```ts
 * import { SagaAdmin } from "@chronicle/core"
 *
 * const stuck: ReadonlyArray<SagaAdmin.State> = ["compensation-failed", "failed"]
 * const needingAttention = SagaAdmin.list("Fulfilment", { states: stuck })
 * ```
 * @since 0.5.0
 * @category status
 */
export type State = "running" | "waiting" | "completed" | "failed" | "compensating" | "compensation-failed"

/**
 * The status of one instance, from its journal.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { SagaAdmin } from "@chronicle/core"
 *
 * const describe = (status: SagaAdmin.Status): string =>
 *   `${status.saga}/${status.instanceId} run ${status.run}: ${status.state}` +
 *   Option.match(status.waitingFor, { onNone: () => "", onSome: (w) => ` (waiting for ${w.for})` })
 * const report = Effect.map(SagaAdmin.list("Fulfilment"), (statuses) => statuses.map(describe))
 * ```
 * @since 0.5.0
 * @category status
 */
export interface Status {
  readonly saga: string
  readonly instanceId: string
  readonly state: State
  /** 1, then one more for every retry. */
  readonly run: number
  /** The command-id generation: a retry after a clean failure starts a new attempt. */
  readonly attempt: number
  readonly mode: "in-process" | "durable" | "unknown"
  /** The steps completed in the current run, in order. */
  readonly steps: ReadonlyArray<string>
  /** The steps compensated in the current run, in the order compensated. */
  readonly compensated: ReadonlyArray<string>
  /** What a `waiting` instance waits for (`event:<signal>` or `sleep:<name>`), and until when. */
  readonly waitingFor: Option.Option<{ readonly for: string; readonly until: Option.Option<DateTime.Utc> }>
  /** Why the run failed. */
  readonly error: Option.Option<string>
  /** Each compensation that failed for good, with why. */
  readonly compensationErrors: ReadonlyArray<string>
  /** The trigger event (its payload as stored). */
  readonly trigger: Option.Option<{
    readonly eventId: string
    readonly streamId: string
    readonly type: string
    readonly correlationId: string
    readonly data: unknown
  }>
  /** The run's result, encoded (with a `success` Schema). */
  readonly result: Option.Option<unknown>
  readonly startedAt: Option.Option<DateTime.Utc>
  readonly updatedAt: Option.Option<DateTime.Utc>
}

/**
 * The status of one instance, or none when it never started.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { SagaAdmin } from "@chronicle/core"
 *
 * const describe = Effect.map(SagaAdmin.status("Transfer", "t-1"), Option.map((s) => `${s.state}: ${s.steps.join(", ")}`))
 * ```
 * @since 0.5.0
 * @category status
 */
export const status = (
  saga: string | { readonly name: string },
  instanceId: string
): Effect.Effect<Option.Option<Status>, StoreError | EventDecodeError, EventStore> => Control.status(saga, instanceId)

/**
 * Every instance of a saga (optionally only those in some states), oldest
 * first: in the order of their trigger events in the feed (a durable
 * runner may start the instances of one batch of triggers in any order).
 * It folds the saga's whole journal category: meant for operators and
 * tools, not for a hot path.
 *
 * @example
 * ```ts
 * import { SagaAdmin } from "@chronicle/core"
 *
 * const stuck = SagaAdmin.list("Transfer", { states: ["compensation-failed"] })
 * ```
 * @since 0.5.0
 * @category status
 */
export const list = (
  saga: string | { readonly name: string },
  options?: { readonly states?: ReadonlyArray<State> | undefined }
): Effect.Effect<ReadonlyArray<Status>, StoreError | EventDecodeError, EventStore> => Control.list(saga, options)

/**
 * Retries a `failed` or `compensation-failed` instance: it records a retry
 * request in the instance's journal, and the saga's runner (in whichever
 * process holds its trigger lease) starts the next run.
 *
 * - `compensation-failed`: the next run keeps the command ids, so the steps
 *   that took effect are not applied again, and the compensations that
 *   failed run again (once their cause is fixed);
 * - `failed` (everything compensated): the next run is a new attempt, with
 *   fresh command ids, so every step takes effect again.
 *
 * Returns the new run and attempt numbers.
 *
 * @example
 * ```ts
 * import { SagaAdmin } from "@chronicle/core"
 *
 * const again = SagaAdmin.retry("Transfer", "t-1")
 * ```
 * @since 0.5.0
 * @category control
 */
export const retry = (
  saga: string | { readonly name: string },
  instanceId: string
): Effect.Effect<
  { readonly run: number; readonly attempt: number },
  SagaNotFound | SagaNotRetryable | StoreError | EventDecodeError,
  EventStore
> => Control.retry(saga, instanceId)

/**
 * Waits until an instance reaches a state `until` accepts (by default an
 * end: `completed`, `failed` or `compensation-failed`), polling its
 * journal; fails with `SagaError.SagaWaitTimeout` after `timeout` (default 10 s).
 *
 * @example
 * ```ts
 * import { SagaAdmin } from "@chronicle/core"
 *
 * const outcome = SagaAdmin.waitFor("Transfer", "t-1", { timeout: "5 seconds", until: (s) => s.state !== "running" })
 * ```
 * @since 0.5.0
 * @category status
 */
export const waitFor = (
  saga: string | { readonly name: string },
  instanceId: string,
  options?: {
    readonly timeout?: Duration.DurationInput | undefined
    readonly until?: ((status: Status) => boolean) | undefined
    /** How often to look. Default 50 ms. */
    readonly interval?: Duration.DurationInput | undefined
  }
): Effect.Effect<Status, SagaWaitTimeout | StoreError | EventDecodeError, EventStore> =>
  Control.waitFor(saga, instanceId, options)

/**
 * The name of a saga's trigger consumer, as `ProjectionAdmin.status` shows it.
 *
 * @example
 * ```ts
 * import { SagaAdmin } from "@chronicle/core"
 *
 * SagaAdmin.consumerName("Transfer") // "saga:Transfer"
 * ```
 * @since 0.5.0
 * @category running
 */
export const consumerName = (saga: string | { readonly name: string }): string => Control.consumerName(saga)
