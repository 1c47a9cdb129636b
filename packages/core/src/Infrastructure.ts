/**
 * Infrastructure failures, as opposed to domain outcomes: a store that
 * failed (`StoreError`), an append whose outcome is unknown
 * (`AppendError.UnknownOutcomeError`), a stored event that does not decode
 * (`Event.EventDecodeError`). At an application's edge (an HTTP handler, a
 * CLI command) they are usually handled once, generically: `orDie` turns
 * them into defects so that the edge's error type is only the domain errors.
 *
 * @since 0.6.0
 */
import { Effect } from "effect"
import { isUnknownOutcomeError, type UnknownOutcomeError } from "./AppendError.js"
import { EventDecodeError } from "./Event.js"
import { isStoreError, type StoreError } from "./StoreError.js"

/**
 * The errors that are infrastructure failures, not domain outcomes.
 *
 * @example
 * ```ts
 * import type { Infrastructure } from "@chronicle/core"
 *
 * const describe = (error: Infrastructure.InfrastructureError): string => `${error._tag}: ${error.message}`
 * ```
 * @since 0.6.0
 * @category models
 */
export type InfrastructureError = StoreError | UnknownOutcomeError | EventDecodeError

/**
 * Whether a value is an {@link InfrastructureError}.
 *
 * @example
 * ```ts
 * import { Infrastructure, StoreError } from "@chronicle/core"
 *
 * Infrastructure.isInfrastructureError(
 *   StoreError.make({ operation: "read", reason: "unavailable", detail: "down" })
 * ) // true
 * ```
 * @since 0.6.0
 * @category refinements
 */
export const isInfrastructureError = (u: unknown): u is InfrastructureError =>
  isStoreError(u) || isUnknownOutcomeError(u) || u instanceof EventDecodeError

/**
 * Turns the infrastructure failures of an effect into defects, leaving only
 * its other (domain) errors in the error channel. Use it at an
 * application's edge, where a store failure is handled generically (a 503,
 * a log line) by whatever handles defects.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Infrastructure, StoreError } from "@chronicle/core"
 *
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {}) {}
 *
 * declare const withdraw: Effect.Effect<void, InsufficientFunds | StoreError.StoreError>
 *
 * // Effect<void, InsufficientFunds>
 * const atTheEdge = Infrastructure.orDie(withdraw)
 * ```
 * @since 0.6.0
 * @category combinators
 */
export const orDie = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, Extract<E, InfrastructureError>>, R> =>
  Effect.catchIf(self, (error: E): error is Extract<E, InfrastructureError> => isInfrastructureError(error), Effect.die)
