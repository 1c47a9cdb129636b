/**
 * The steps of a saga, as its code sees them: what a step's `run` gets
 * (`StepContext`, with the step's deterministic `commandId`), what its
 * compensation gets (`CompensationContext`), the options of `Saga.step`
 * (`StepOptions`), and the defaults they fall back on: the retry
 * (`defaultRetry`) and which errors are retried (`isTransient`). Build a
 * step with `Saga.step`.
 *
 * @since 0.7.0
 */
import { type Cause, Schedule, type Schema } from "effect"
import { isConcurrencyError, isUnknownOutcomeError } from "./AppendError.js"
import * as Correlation from "./Correlation.js"
import type { UserMetadata } from "./Event.js"
import { isRetryable } from "./StoreError.js"

/**
 * What a step's `run` gets: the deterministic command id to execute its
 * command with, and metadata naming the saga, the instance, the step and
 * the trigger event. It is shaped like `Repository.ExecuteOptions`, so it
 * can be passed as is: `accounts.execute(id, command, step)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { SagaStep } from "@chronicle/core"
 *
 * const logStep = (step: SagaStep.StepContext) =>
 *   Effect.log(`${step.saga} ${step.instanceId}: ${step.step} runs as command ${step.commandId}`)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface StepContext {
  readonly commandId: string
  readonly metadata: UserMetadata
  readonly saga: string
  readonly instanceId: string
  readonly step: string
  /** The instance's attempt (see `SagaInstance.RunContext.attempt`). */
  readonly attempt: number
}

/**
 * The command id a step's command runs with (see `StepContext`):
 * `Correlation.deterministicId(saga, instanceId, step)` on the first
 * attempt, with `"compensation"` for its compensation, and with the attempt
 * from the second attempt on. Handy to find a step's events, whose
 * causation id it is.
 *
 * @example
 * ```ts
 * import { SagaStep } from "@chronicle/core"
 *
 * const debit = SagaStep.commandId({ saga: "Transfer", instanceId: "t-1", step: "debit" })
 * const refund = SagaStep.commandId({ saga: "Transfer", instanceId: "t-1", step: "debit", compensation: true })
 * ```
 * @since 0.5.0
 * @category steps
 */
export const commandId = (options: {
  readonly saga: string
  readonly instanceId: string
  readonly step: string
  readonly attempt?: number | undefined
  readonly compensation?: boolean | undefined
}): string => {
  const names = [
    options.saga,
    options.instanceId,
    options.step,
    ...(options.compensation === true ? ["compensation"] : [])
  ]
  const attempt = options.attempt ?? 1
  return attempt <= 1
    ? Correlation.deterministicId(...names)
    : Correlation.deterministicId(...names, `attempt ${attempt}`)
}

/**
 * What a compensation gets: its own deterministic command id and metadata,
 * and why the saga failed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { SagaStep } from "@chronicle/core"
 *
 * const logUndo = (undo: SagaStep.CompensationContext) =>
 *   Effect.log(`undoing ${undo.step} (command ${undo.commandId}) because ${undo.reason}`)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface CompensationContext extends StepContext {
  readonly reason: string
  readonly cause: Cause.Cause<unknown>
}

/**
 * What `Saga.step` takes besides `run`, `success` and `compensate`.
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { SagaStep } from "@chronicle/core"
 *
 * const patient: SagaStep.StepOptions<unknown, never, never, never> = {
 *   retry: SagaStep.defaultRetry.pipe(Schedule.union(Schedule.recurs(20))),
 *   retryWhile: SagaStep.isTransient
 * }
 * ```
 * @since 0.5.0
 * @category models
 */
export interface StepOptions<E, R, EA, EI> {
  /** How failures of `run` are retried. Default {@link defaultRetry}. */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  /** Which failures are retried. Default {@link isTransient}. */
  readonly retryWhile?: ((error: E) => boolean) | undefined
  /** The errors the step fails with as they are (recorded typed by the durable runner); others become `SagaError.StepFailed`. */
  readonly error?: Schema.Schema<EA, EI, never> | undefined
  /** How a failing compensation is retried. Default: the step's `retry`. */
  readonly compensationRetry?: Schedule.Schedule<unknown, unknown> | undefined
  /** Only for the type of `run`'s requirements. */
  readonly _R?: R | undefined
}

/**
 * The default retry of a step and of a compensation: exponential from
 * 100 ms, jittered, at most 5 retries.
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { SagaStep } from "@chronicle/core"
 *
 * const patient = SagaStep.defaultRetry.pipe(Schedule.union(Schedule.recurs(20)))
 * ```
 * @since 0.5.0
 * @category retry
 */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(5))
)

/**
 * The default of which step errors are retried: the store's passing faults
 * (a retryable `StoreError`, `ConcurrencyError`, `UnknownOutcomeError`), which a retry
 * with the same command id can fix. A domain error (an account closed,
 * funds too low) fails the step at once.
 *
 * @example
 * ```ts
 * import { SagaStep, StoreError } from "@chronicle/core"
 *
 * SagaStep.isTransient(StoreError.make({ operation: "append", reason: "unavailable", detail: "down" })) // true
 * SagaStep.isTransient(StoreError.make({ operation: "append", reason: "misconfigured", detail: "no table" })) // false
 * SagaStep.isTransient({ _tag: "InsufficientFunds" }) // false
 * ```
 * @since 0.5.0
 * @category retry
 */
export const isTransient = (error: unknown): boolean =>
  isRetryable(error) || isConcurrencyError(error) || isUnknownOutcomeError(error)
