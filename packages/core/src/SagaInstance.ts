/**
 * A running saga instance, the contract between a saga's code and the
 * runner that carries it out (in-process `Saga.layer` or
 * `DurableSaga.layer`): what `run` gets (`RunContext`), what `onFailure`
 * gets (`FailureContext`), and the `Instance` service (an `InstanceRuntime`)
 * that `Saga.step`, `Saga.awaitEvent` and `Saga.sleep` ask to run a step
 * (given as a `StepSpec`), wait or sleep. The runners provide it; users
 * never build one.
 *
 * @since 0.7.0
 */
import { type Cause, Context, type Duration, type Effect, type Option, type Schedule, type Schema } from "effect"
import type { RecordedEvent } from "./Event.js"
import type * as EventCodec from "./EventCodec.js"
import type { Signal } from "./Saga.js"
import type { EventTimeout, StepFailed } from "./SagaError.js"
import type { CompensationContext, StepContext } from "./SagaStep.js"

/**
 * What `run` knows besides the trigger event.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { SagaInstance } from "@chronicle/core"
 *
 * const started = <T>(run: SagaInstance.RunContext<T>) =>
 *   Effect.log(`${run.saga} ${run.instanceId}: attempt ${run.attempt}, trigger ${run.recorded.eventId}`)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface RunContext<T> {
  readonly saga: string
  readonly instanceId: string
  /** The trigger event with its metadata. */
  readonly recorded: RecordedEvent<T>
  /** 1 for the first run; a retry of a failed instance starts the next attempt (fresh command ids). */
  readonly attempt: number
}

/**
 * What `onFailure` gets: how the run failed (the error's tag, a readable
 * reason and the whole cause), and, like a step, a deterministic command id
 * (of the step `on-failure`) and metadata to execute its command with.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { SagaInstance } from "@chronicle/core"
 *
 * const logFailure = (failure: SagaInstance.FailureContext) =>
 *   Effect.logWarning(`${failure.saga} ${failure.instanceId} failed (${failure.errorTag ?? "defect"}): ${failure.reason}`)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface FailureContext extends StepContext {
  readonly reason: string
  readonly errorTag: string | undefined
  readonly cause: Cause.Cause<unknown>
}

/**
 * A step, as the runners execute it (see `Saga.step`).
 *
 * @example
 * ```ts
 * import type { SagaInstance } from "@chronicle/core"
 *
 * // what a runner receives for each step; `Saga.step` builds it from the step's options
 * const retried = (spec: SagaInstance.StepSpec<unknown, unknown, unknown, never, never, never, never>) => spec.retryWhile
 * ```
 * @since 0.5.0
 * @category models
 */
export interface StepSpec<A, I, E, R, EA, EI, RC> {
  /** The step's effect, given its command id. */
  readonly run: (context: StepContext) => Effect.Effect<A, E, R>
  readonly success: Schema.Schema<A, I, never>
  readonly error: Schema.Schema<EA, EI, never> | undefined
  /** Undoes the step, given its result and why the saga failed. */
  readonly compensate: ((result: A, context: CompensationContext) => Effect.Effect<unknown, unknown, RC>) | undefined
  readonly retry: Schedule.Schedule<unknown, unknown>
  /** Which failures of `run` are retried. */
  readonly retryWhile: (error: E) => boolean
  readonly compensationRetry: Schedule.Schedule<unknown, unknown>
}

/**
 * What runs a saga instance: `Saga.step`, `Saga.awaitEvent` and
 * `Saga.sleep` ask it. The runners provide it (in-process or durable);
 * users never build one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SagaInstance } from "@chronicle/core"
 *
 * const where = Effect.map(SagaInstance.Instance, (runtime: SagaInstance.InstanceRuntime) => `${runtime.saga} run ${runtime.run}`)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface InstanceRuntime {
  readonly saga: string
  readonly instanceId: string
  readonly run: number
  readonly attempt: number
  /** Runs a step (see `Saga.step`). */
  readonly step: <A, I, E, R, EA, EI, RC>(
    name: string,
    spec: StepSpec<A, I, E, R, EA, EI, RC>
  ) => Effect.Effect<A, EA | StepFailed, R | RC>
  /** Waits for a signal's event (see `Saga.awaitEvent`). */
  readonly awaitEvent: <S extends EventCodec.Tagged>(
    signal: Signal<S>,
    timeout: Option.Option<Duration.Duration>
  ) => Effect.Effect<S, EventTimeout>
  /** Sleeps (see `Saga.sleep`). */
  readonly sleep: (name: string, duration: Duration.Duration) => Effect.Effect<void>
}

/**
 * The running instance, provided by the runners to `run`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SagaInstance } from "@chronicle/core"
 *
 * const whoAmI = Effect.map(SagaInstance.Instance, (instance) => `${instance.saga} ${instance.instanceId}`)
 * ```
 * @since 0.5.0
 * @category tags
 */
export class Instance extends Context.Tag("@chronicle/core/SagaInstance/Instance")<Instance, InstanceRuntime>() {}
