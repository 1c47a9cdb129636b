/**
 * Inline projections: a projection that runs inside the append itself, for
 * read models that must be strongly consistent with the write.
 *
 * The same `Projection.make` definition serves; provide it through
 * `InlineProjection.layer([...])` below the event store's layer instead of
 * running it with `Projection.layer`. The store then applies each appended
 * event that the projection reads before the append completes:
 *
 * - on SQL stores, inside the append's database transaction, with the same
 *   `SqlClient`, so the read model's writes and the events commit together,
 *   and a failing handler rolls the append back;
 * - in memory, appends run one at a time while inline projections exist, and
 *   a failing handler fails the append before anything is written (writes an
 *   earlier inline handler made in memory for that append are not undone).
 *
 * A failing inline handler fails the append with a `StoreError` whose
 * operation names the projection, whose reason reads the handler's error,
 * and whose `cause` is that error itself (an `EventDecodeError` for an event
 * the projection cannot decode). Inline projections see only the appends
 * made while they are installed: build an existing read model first with
 * `ProjectionAdmin.rebuild` on the same definition.
 *
 * @since 0.1.0
 */
import { Context, Effect, Either, Layer } from "effect"
import * as Backend from "./Backend.js"
import type { StoredEvent } from "./Event.js"
import { StoreError } from "./EventStore.js"
import { describeError } from "./internal/describe.js"
import type * as Projection from "./Projection.js"

/**
 * The inline projections an event store applies during appends.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { InlineProjection } from "@chronicle/core"
 *
 * const installed = Effect.map(Effect.serviceOption(InlineProjection.InlineProjections), Option.isSome)
 * ```
 * @since 0.1.0
 * @category tags
 */
export class InlineProjections extends Context.Tag("@chronicle/core/InlineProjections")<
  InlineProjections,
  {
    readonly names: ReadonlyArray<string>
    /** Applies the appended events (already given their versions and positions). */
    readonly apply: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void, StoreError>
  }
>() {}

/**
 * Installs projections to run inline, inside every append.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Ref, Schema } from "effect"
 * import { InMemoryEventStore, InlineProjection, Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const total = Ref.unsafeMake(0)
 * const Totals = Projection.make({
 *   name: "totals",
 *   events: Deposited,
 *   handle: (recorded) => Ref.update(total, (t) => t + recorded.event.amount)
 * })
 *
 * const Store = InMemoryEventStore.layer.pipe(Layer.provide(InlineProjection.layer([Totals])))
 * ```
 * @since 0.1.0
 * @category layers
 */
export function layer<const P extends ReadonlyArray<Projection.Any>>(
  projections: P
): Layer.Layer<InlineProjections, never, Projection.RequirementsOf<P[number]>>
export function layer(projections: ReadonlyArray<Projection.Any>): Layer.Layer<InlineProjections, never, unknown> {
  return Layer.effect(
    InlineProjections,
    Effect.map(Effect.context<unknown>(), (context) => {
      // built once: each projection's filter (its types are never empty, being a union's)
      const selecting = projections.map((projection) => ({ projection, selects: Backend.matches(projection.filter) }))
      return InlineProjections.of({
        names: projections.map((p) => p.name),
        apply: (events) =>
          Effect.forEach(
            selecting,
            ({ projection, selects }) => {
              const selected = events.filter(selects)
              if (selected.length === 0) return Effect.void
              const fail = (cause: unknown) =>
                new StoreError({
                  operation: `inline projection ${projection.name}`,
                  reason: describeError(cause),
                  cause
                })
              return Effect.flatMap(
                Effect.forEach(selected, (event) => Either.mapLeft(projection.decode(event), fail)),
                (decoded) =>
                  projection
                    .handleBatch(decoded, { name: projection.name, version: projection.version })
                    .pipe(Effect.mapError(fail))
              )
            },
            { discard: true }
          ).pipe(Effect.provide(context))
      })
    })
  )
}
