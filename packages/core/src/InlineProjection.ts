/**
 * Inline projections: a projection that runs inside the append itself, for
 * read models that must be strongly consistent with the write.
 *
 * The same `Projection.make` definition serves; give it to the store as its
 * append hook, `onAppend: InlineProjection.hook([...])`, instead of running
 * it with `Projection.layer`. The store's layer then requires what the
 * projections require, runs each projection's `setup` when it builds (so
 * their tables exist before the first append), and applies each appended
 * event that a projection reads before the append completes:
 *
 * - on SQL stores, inside the append's database transaction, with the same
 *   `SqlClient`, so the read model's writes and the events commit together,
 *   and a failing handler rolls the append back;
 * - in memory, appends run one at a time while a hook is given, and
 *   a failing handler fails the append before anything is written (writes an
 *   earlier inline handler made in memory for that append are not undone).
 *
 * A failing inline handler fails the append with a `StoreError` whose
 * operation names the projection, whose detail reads the handler's error,
 * and whose `cause` is that error itself (an `EventDecodeError` for an event
 * the projection cannot decode). Inline projections see only the appends
 * made while they are installed: build an existing read model first with
 * `ProjectionAdmin.rebuild` on the same definition.
 *
 * @since 0.1.0
 */
import { Effect, Either } from "effect"
import type { AppendHook } from "./Append.js"
import * as Backend from "./Backend.js"
import { describeError } from "./internal/describe.js"
import * as Definition from "./internal/projection/definition.js"
import type * as Projection from "./Projection.js"
import * as StoreError from "./StoreError.js"

/**
 * The append hook that runs `projections` inline, inside every append. Give
 * it to a store as `onAppend`. Two projections with the same name are a
 * mistake that fails the store's layer (`misconfigured`), rather than one
 * silently replacing the other.
 *
 * @example
 * ```ts
 * import { Ref, Schema } from "effect"
 * import { EventStore, InlineProjection, Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const total = Ref.unsafeMake(0)
 * const Totals = Projection.make({
 *   name: "totals",
 *   events: Deposited,
 *   handle: (recorded) => Ref.update(total, (t) => t + recorded.event.amount)
 * })
 *
 * const Store = EventStore.layerMemory({ onAppend: InlineProjection.hook([Totals]) })
 * ```
 * @since 0.6.0
 * @category constructors
 */
export function hook<const P extends ReadonlyArray<Projection.Any>>(
  projections: P
): AppendHook<Projection.RequirementsOf<P[number]>>
export function hook(projections: ReadonlyArray<Projection.Any>): AppendHook<unknown> {
  const names = projections.map((p) => p.name)
  const duplicates = names.filter((name, i) => names.indexOf(name) !== i)
  // built once: each projection's filter (its types are never empty, being a union's)
  const selecting = projections.map((projection) => ({ projection, selects: Backend.matches(projection.filter) }))
  const failure = (projection: Projection.Any, operation: string) => (cause: unknown) =>
    new StoreError.StoreError({
      operation: `inline projection ${projection.name}${operation}`,
      reason: "internal",
      retryable: false,
      detail: describeError(cause),
      cause
    })
  return {
    names,
    setup:
      duplicates.length > 0
        ? Effect.fail(
            StoreError.make({
              operation: "inline projection setup",
              reason: "misconfigured",
              detail: `inline projections registered more than once: ${[...new Set(duplicates)].join(", ")}`
            })
          )
        : Effect.forEach(
            projections,
            (projection) =>
              projection
                .setup({ name: projection.name, version: projection.version })
                .pipe(Effect.mapError(failure(projection, " setup"))),
            { discard: true }
          ),
    apply: (events) =>
      Effect.forEach(
        selecting,
        ({ projection, selects }) => {
          const selected = events.filter(selects)
          if (selected.length === 0) return Effect.void
          const fail = failure(projection, "")
          return Effect.flatMap(Either.mapLeft(Definition.decodeAll(projection, selected), fail), (decoded) =>
            projection
              .handleBatch(decoded, { name: projection.name, version: projection.version })
              .pipe(Effect.mapError(fail))
          )
        },
        { discard: true }
      )
  }
}
