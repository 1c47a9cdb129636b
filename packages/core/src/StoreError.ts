/**
 * `StoreError`: a store (event, snapshot or projection store) failed for a
 * reason of its own, not because of what was asked of it.
 *
 * Every `StoreError` says what failed (`operation`), why in one word
 * (`reason`), whether trying again can help (`retryable`), in words
 * (`detail`), and keeps the original failure (`cause`: the driver's error,
 * a decode error, ...), so that "PostgreSQL is unreachable" and "the
 * database does not exist" never read the same.
 *
 * @since 0.6.0
 */
import { Schema } from "effect"

/**
 * Why a store operation failed:
 *
 * - `unavailable`: the database cannot be reached or dropped the connection
 *   (retryable);
 * - `timeout`: a statement or lock timeout ended the operation (retryable);
 * - `contention`: a deadlock, a serialization failure or a busy database
 *   (retryable);
 * - `corrupt`: stored data does not decode or breaks the store's invariants
 *   (not retryable);
 * - `misconfigured`: a missing table, column, database or role, a missing
 *   privilege (not retryable: fix the setup);
 * - `internal`: anything else.
 *
 * @example
 * ```ts
 * import { StoreError } from "@chronicle/core"
 *
 * const reasons: ReadonlyArray<StoreError.Reason> = ["unavailable", "timeout"]
 * ```
 * @since 0.6.0
 * @category models
 */
export type Reason = "unavailable" | "timeout" | "contention" | "corrupt" | "misconfigured" | "internal"

/**
 * The schema of a {@link Reason}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { StoreError } from "@chronicle/core"
 *
 * Schema.is(StoreError.Reason)("timeout") // true
 * ```
 * @since 0.6.0
 * @category schemas
 */
export const Reason: Schema.Schema<Reason> = Schema.Literal(
  "unavailable",
  "timeout",
  "contention",
  "corrupt",
  "misconfigured",
  "internal"
)

/**
 * A store operation failed. The operation did not take effect (appends are
 * atomic); when an append's outcome cannot be known, the store fails with an
 * `AppendError.UnknownOutcomeError` instead.
 *
 * @example
 * ```ts
 * import { StoreError } from "@chronicle/core"
 *
 * const error = new StoreError.StoreError({
 *   operation: "append",
 *   reason: "unavailable",
 *   retryable: true,
 *   detail: "connect ECONNREFUSED 127.0.0.1:5432",
 *   cause: null
 * })
 * error.message // "Store append failed (unavailable, retryable): connect ECONNREFUSED 127.0.0.1:5432"
 * ```
 * @since 0.6.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  operation: Schema.String,
  reason: Reason,
  retryable: Schema.Boolean,
  detail: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `Store ${this.operation} failed (${this.reason}, ${this.retryable ? "retryable" : "not retryable"}): ${this.detail}`
  }
}

/**
 * Whether a failure for this reason usually passes by itself: `unavailable`,
 * `timeout` and `contention` do; `corrupt`, `misconfigured` and `internal`
 * do not.
 *
 * @example
 * ```ts
 * import { StoreError } from "@chronicle/core"
 *
 * StoreError.isRetryableReason("timeout") // true
 * StoreError.isRetryableReason("misconfigured") // false
 * ```
 * @since 0.6.0
 * @category predicates
 */
export const isRetryableReason = (reason: Reason): boolean =>
  reason === "unavailable" || reason === "timeout" || reason === "contention"

/**
 * Builds a `StoreError`; `retryable` defaults to {@link isRetryableReason}
 * and `cause` to `null`.
 *
 * @example
 * ```ts
 * import { StoreError } from "@chronicle/core"
 *
 * const error = StoreError.make({ operation: "read", reason: "corrupt", detail: "a stored row does not decode" })
 * error.retryable // false
 * ```
 * @since 0.6.0
 * @category constructors
 */
export const make = (options: {
  readonly operation: string
  readonly reason: Reason
  readonly detail: string
  readonly retryable?: boolean | undefined
  readonly cause?: unknown
}): StoreError =>
  new StoreError({
    operation: options.operation,
    reason: options.reason,
    retryable: options.retryable ?? isRetryableReason(options.reason),
    detail: options.detail,
    cause: options.cause ?? null
  })

/**
 * Whether a value is a `StoreError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StoreError } from "@chronicle/core"
 *
 * const retryStoreErrors = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
 *   Effect.retry(effect, { times: 3, while: (e) => StoreError.isStoreError(e) && e.retryable })
 * ```
 * @since 0.6.0
 * @category refinements
 */
export const isStoreError = (u: unknown): u is StoreError => u instanceof StoreError

/**
 * Whether a value is a `StoreError` that trying again can fix.
 *
 * @example
 * ```ts
 * import { StoreError } from "@chronicle/core"
 *
 * StoreError.isRetryable(StoreError.make({ operation: "read", reason: "unavailable", detail: "down" })) // true
 * ```
 * @since 0.6.0
 * @category refinements
 */
export const isRetryable = (u: unknown): u is StoreError => isStoreError(u) && u.retryable
