/**
 * Correlation and causation ids that travel on their own.
 *
 * Every recorded event carries a `correlationId` (what original request it
 * belongs to) and a `causationId` (which message caused it). An application
 * sets the ambient correlation once, for example from an HTTP request id, and
 * every command executed inside inherits it; projections and sagas run their
 * handlers inside the correlation of the event they handle, so the chain is
 * never broken by hand.
 *
 * @since 0.1.0
 */
import { Effect, FiberRef, Option } from "effect"
import { dual } from "effect/Function"
import { uuidV5 } from "./internal/uuid.js"

/**
 * The ambient message context.
 *
 * @example
 * ```ts
 * import { Effect, FiberRef, Option } from "effect"
 * import { Correlation } from "@chronicle/core"
 *
 * const describe = (context: Correlation.MessageContext): string =>
 *   `correlation ${Option.getOrElse(context.correlationId, () => "none")}, caused by ${Option.getOrElse(context.causationId, () => "none")}`
 * const logContext = Effect.flatMap(FiberRef.get(Correlation.currentContext), (context) => Effect.log(describe(context)))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface MessageContext {
  readonly correlationId: Option.Option<string>
  readonly causationId: Option.Option<string>
}

/**
 * The fiber-local message context. Prefer {@link withCorrelationId} and
 * {@link withContext} to setting it directly.
 *
 * @example
 * ```ts
 * import { Effect, FiberRef } from "effect"
 * import { Correlation } from "@chronicle/core"
 *
 * const correlationId = Effect.map(FiberRef.get(Correlation.currentContext), (context) => context.correlationId)
 * const inRequest = correlationId.pipe(Correlation.withCorrelationId("req-1")) // Option.some("req-1")
 * ```
 * @since 0.1.0
 * @category fiber refs
 */
export const currentContext: FiberRef.FiberRef<MessageContext> = FiberRef.unsafeMake<MessageContext>({
  correlationId: Option.none(),
  causationId: Option.none()
})

/**
 * Runs `self` with `correlationId` as the ambient correlation id.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Correlation } from "@chronicle/core"
 *
 * const handleRequest = (requestId: string, work: Effect.Effect<void>) =>
 *   work.pipe(Correlation.withCorrelationId(requestId))
 * // or, data first
 * const same = (requestId: string, work: Effect.Effect<void>) => Correlation.withCorrelationId(work, requestId)
 * ```
 * @since 0.1.0
 * @category combinators
 */
export const withCorrelationId: {
  (correlationId: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, correlationId: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, correlationId: string): Effect.Effect<A, E, R> =>
    Effect.locallyWith(self, currentContext, (context) => ({ ...context, correlationId: Option.some(correlationId) }))
)

/**
 * Runs `self` inside the context of a message: its correlation id and the id
 * of the message that causes what `self` does. Projections and sagas use it
 * with the event they handle.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Correlation } from "@chronicle/core"
 *
 * const inEventContext = Effect.log("reacting").pipe(
 *   Correlation.withContext({ correlationId: "req-1", causationId: "evt-9" })
 * )
 * ```
 * @since 0.1.0
 * @category combinators
 */
export const withContext: {
  (context: {
    readonly correlationId: string
    readonly causationId: string
  }): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    context: { readonly correlationId: string; readonly causationId: string }
  ): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    context: { readonly correlationId: string; readonly causationId: string }
  ): Effect.Effect<A, E, R> =>
    Effect.locally(self, currentContext, {
      correlationId: Option.some(context.correlationId),
      causationId: Option.some(context.causationId)
    })
)

/**
 * The ambient context.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Correlation } from "@chronicle/core"
 *
 * const logCorrelation = Effect.flatMap(Correlation.current, (c) =>
 *   Effect.log(Option.getOrElse(c.correlationId, () => "none"))
 * )
 * ```
 * @since 0.1.0
 * @category getters
 */
export const current: Effect.Effect<MessageContext> = FiberRef.get(currentContext)

/**
 * A deterministic UUID (version 5) from any list of names: the same names
 * always give the same id. Use it for command ids that must be stable across
 * retries, for example `deterministicId("transfer", transferId, "debit")`.
 *
 * @example
 * ```ts
 * import { Correlation } from "@chronicle/core"
 *
 * const commandId = Correlation.deterministicId("transfer", "t-42", "debit")
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const deterministicId = (...names: ReadonlyArray<string>): string =>
  uuidV5(names.map((n) => `${n.length}:${n}`).join("|"))
