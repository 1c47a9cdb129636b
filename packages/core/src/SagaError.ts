/**
 * The errors of sagas: a step that failed for good (`StepFailed`), a wait
 * that timed out (`EventTimeout`), an event naming no valid instance
 * (`InvalidInstanceId`), a recorded run failure (`SagaFailure`), and the
 * administration errors (`SagaNotFound`, `SagaNotRetryable`,
 * `SagaWaitTimeout`).
 *
 * @since 0.5.0
 */
import { Duration, Schema } from "effect"

/**
 * A step failed for good with an error its `error` Schema does not describe
 * (a store outage that outlasted the retries, or any error when the step
 * declares no `error` Schema). `reason` names the original error.
 *
 * @example
 * ```ts
 * import { SagaError } from "@chronicle/core"
 *
 * const error = new SagaError.StepFailed({ saga: "Transfer", instanceId: "t-1", step: "debit", reason: "StoreError: connection refused" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class StepFailed extends Schema.TaggedError<StepFailed>()("StepFailed", {
  saga: Schema.String,
  instanceId: Schema.String,
  step: Schema.String,
  reason: Schema.String,
  errorTag: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `step ${this.step} failed: ${this.reason}`
  }
}

/**
 * `Saga.awaitEvent` waited longer than its timeout.
 *
 * @example
 * ```ts
 * import { SagaError } from "@chronicle/core"
 *
 * const error = new SagaError.EventTimeout({ saga: "Transfer", instanceId: "t-1", signal: "approved", timeoutMillis: 60000 })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class EventTimeout extends Schema.TaggedError<EventTimeout>()("EventTimeout", {
  saga: Schema.String,
  instanceId: Schema.String,
  signal: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `no ${this.signal} event within ${Duration.format(Duration.millis(this.timeoutMillis))}`
  }
}

/**
 * An event names no valid instance: its instance id is empty, too long, or
 * not a string. The trigger consumer treats it as bad data (parked by
 * default), so the feed goes on.
 *
 * @example
 * ```ts
 * import { SagaError } from "@chronicle/core"
 *
 * const error = new SagaError.InvalidInstanceId({ saga: "Transfer", eventId: "e-1", reason: "an instance id must not be empty" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class InvalidInstanceId extends Schema.TaggedError<InvalidInstanceId>()("InvalidInstanceId", {
  saga: Schema.String,
  eventId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Saga ${this.saga}: event ${this.eventId} names no valid instance: ${this.reason}`
  }
}

/**
 * How a saga run failed, as recorded: the error's tag and a readable reason.
 * The durable runner ends a failed workflow with it.
 *
 * @example
 * ```ts
 * import { SagaError } from "@chronicle/core"
 *
 * const failure = new SagaError.SagaFailure({ saga: "Transfer", instanceId: "t-1", reason: "AccountIsClosed: the account is closed" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class SagaFailure extends Schema.TaggedError<SagaFailure>()("SagaFailure", {
  saga: Schema.String,
  instanceId: Schema.String,
  reason: Schema.String,
  errorTag: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `Saga ${this.saga} "${this.instanceId}" failed: ${this.reason}`
  }
}

/**
 * No instance with this id has a journal (it never started).
 *
 * @example
 * ```ts
 * import { SagaError } from "@chronicle/core"
 *
 * const error = new SagaError.SagaNotFound({ saga: "Transfer", instanceId: "t-404" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class SagaNotFound extends Schema.TaggedError<SagaNotFound>()("SagaNotFound", {
  saga: Schema.String,
  instanceId: Schema.String
}) {
  override get message(): string {
    return `Saga ${this.saga} has no instance "${this.instanceId}"`
  }
}

/**
 * `SagaAdmin.retry` on an instance that is not `failed` or `compensation-failed`
 * (or that another retry changed meanwhile).
 *
 * @example
 * ```ts
 * import { SagaError } from "@chronicle/core"
 *
 * const error = new SagaError.SagaNotRetryable({ saga: "Transfer", instanceId: "t-1", state: "completed" })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class SagaNotRetryable extends Schema.TaggedError<SagaNotRetryable>()("SagaNotRetryable", {
  saga: Schema.String,
  instanceId: Schema.String,
  state: Schema.String
}) {
  override get message(): string {
    return `Saga ${this.saga} "${this.instanceId}" is ${this.state}: only a failed or compensation-failed instance can be retried`
  }
}

/**
 * `SagaAdmin.waitFor` gave up: the instance did not reach the awaited state in
 * time. `state` is the last state it had (empty when it had not started).
 *
 * @example
 * ```ts
 * import { SagaError } from "@chronicle/core"
 *
 * const error = new SagaError.SagaWaitTimeout({ saga: "Transfer", instanceId: "t-1", state: "running", timeoutMillis: 5000 })
 * ```
 * @since 0.5.0
 * @category errors
 */
export class SagaWaitTimeout extends Schema.TaggedError<SagaWaitTimeout>()("SagaWaitTimeout", {
  saga: Schema.String,
  instanceId: Schema.String,
  state: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `Saga ${this.saga} "${this.instanceId}" is still ${this.state === "" ? "not started" : this.state} after ${this.timeoutMillis} ms`
  }
}
