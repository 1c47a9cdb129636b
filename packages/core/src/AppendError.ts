/**
 * The errors an append fails with besides a `StoreError`: a conflict with
 * the expected version (`ConcurrencyError`), an append that can never
 * succeed as given (`InvalidAppendError`), and an append whose outcome is
 * unknown (`UnknownOutcomeError`); a refinement for each, and
 * `AppendError`, the union `EventStore.append` fails with.
 *
 * @since 0.7.0
 */
import { Schema } from "effect"
import type { StoreError } from "./StoreError.js"

/**
 * An append was refused because the stream is not at the expected version.
 * `retryable` is always true: reload, decide again and retry.
 *
 * On PostgreSQL, an append made inside a transaction of the caller's that
 * wrote something else first can also get a `ConcurrencyError` (even with
 * `ExpectedVersion.Any`) when a younger transaction appended to the same
 * stream meanwhile: that keeps the global feed in each stream's order. Retry
 * the whole transaction. Appends outside a caller's transaction retry that
 * case by themselves.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AppendError } from "@chronicle/core"
 *
 * const onConflict = (e: AppendError.ConcurrencyError) =>
 *   Effect.logWarning(`${e.streamId}: expected ${e.expected}, found ${e.actual}`)
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ConcurrencyError extends Schema.TaggedError<ConcurrencyError>()("ConcurrencyError", {
  streamId: Schema.String,
  expected: Schema.String,
  actual: Schema.Number
}) {
  override get message(): string {
    return `Concurrency conflict on ${this.streamId}: expected version ${this.expected}, actual ${this.actual}`
  }
}

/**
 * An append that can never succeed as given: no events, an invalid stream or
 * event id, a payload that is not JSON, duplicate ids in one batch, or event
 * ids already used for other events.
 *
 * @example
 * ```ts
 * import { AppendError } from "@chronicle/core"
 *
 * const error = new AppendError.InvalidAppendError({ streamId: "Account-1", reason: "no events to append" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class InvalidAppendError extends Schema.TaggedError<InvalidAppendError>()("InvalidAppendError", {
  streamId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid append to ${this.streamId}: ${this.reason}`
  }
}

/**
 * An append whose outcome is unknown: the request may or may not have been
 * committed (typically the connection died after the statement was sent and
 * before its answer arrived, and reconnecting failed too). Unlike a
 * `StoreError`, it does not mean "nothing was written".
 *
 * Retrying is safe only with the same event ids (for a repository command:
 * the same `commandId`): the store then returns the first result if the
 * events were committed, or writes them now if they were not.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AppendError } from "@chronicle/core"
 *
 * const explain = (e: AppendError.UnknownOutcomeError) =>
 *   Effect.logWarning(`${e.message}: retry with the same command id`)
 * ```
 * @since 0.2.0
 * @category errors
 */
export class UnknownOutcomeError extends Schema.TaggedError<UnknownOutcomeError>()("UnknownOutcomeError", {
  operation: Schema.String,
  streamId: Schema.String,
  reason: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `The outcome of the ${this.operation} to ${this.streamId} is unknown (it may have been committed): ${this.reason}`
  }
}

/**
 * Whether a value is a `ConcurrencyError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AppendError } from "@chronicle/core"
 *
 * const retryConflicts = <A, E, R>(append: Effect.Effect<A, E, R>) =>
 *   Effect.retry(append, { times: 3, while: AppendError.isConcurrencyError })
 * ```
 * @since 0.6.0
 * @category refinements
 */
export const isConcurrencyError = (u: unknown): u is ConcurrencyError => u instanceof ConcurrencyError

/**
 * Whether a value is an `InvalidAppendError`.
 *
 * @example
 * ```ts
 * import { AppendError } from "@chronicle/core"
 *
 * AppendError.isInvalidAppendError(new AppendError.InvalidAppendError({ streamId: "A-1", reason: "no events" })) // true
 * ```
 * @since 0.6.0
 * @category refinements
 */
export const isInvalidAppendError = (u: unknown): u is InvalidAppendError => u instanceof InvalidAppendError

/**
 * Whether a value is an `UnknownOutcomeError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AppendError } from "@chronicle/core"
 *
 * const explainUnknown = <A, E, R>(append: Effect.Effect<A, E, R>) =>
 *   Effect.tapError(append, (e) =>
 *     AppendError.isUnknownOutcomeError(e) ? Effect.logWarning(`${e.message}: retry with the same ids`) : Effect.void
 *   )
 * ```
 * @since 0.6.0
 * @category refinements
 */
export const isUnknownOutcomeError = (u: unknown): u is UnknownOutcomeError => u instanceof UnknownOutcomeError

/**
 * The errors an append can fail with.
 *
 * @example
 * ```ts
 * import { AppendError } from "@chronicle/core"
 *
 * // a conflict or an unknown outcome is worth retrying (with the same event ids); the rest is not
 * const retryable = (error: AppendError.AppendError): boolean =>
 *   error._tag === "ConcurrencyError" || error._tag === "UnknownOutcomeError"
 * ```
 * @since 0.1.0
 * @category errors
 */
export type AppendError = ConcurrencyError | InvalidAppendError | StoreError | UnknownOutcomeError
