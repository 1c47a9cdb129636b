/**
 * Eventual consistency in tests: wait until projections have caught up with
 * the store, instead of sleeping and hoping.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, Option } from "effect"
import { EventStore, type StoreError } from "../EventStore.js"
import * as Projection from "../Projection.js"
import * as ProjectionStore from "../ProjectionStore.js"

/**
 * Waits until every active projection (or the named ones) has processed
 * everything in the store as of the call.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { AwaitProjections } from "@chronicle/core/testing"
 *
 * const afterCommands = AwaitProjections.caughtUp({ timeout: "5 seconds" })
 * ```
 * @since 0.1.0
 * @category waiting
 */
export const caughtUp = (options?: {
  readonly names?: ReadonlyArray<string> | undefined
  readonly timeout?: Duration.DurationInput | undefined
}): Effect.Effect<
  void,
  Projection.ProjectionTimeout | Projection.ProjectionNotFound | StoreError,
  EventStore | ProjectionStore.ProjectionStore
> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const projections = yield* ProjectionStore.ProjectionStore
    const head = yield* store.head
    const names = options?.names ?? [...new Set((yield* projections.list).filter((r) => r.active).map((r) => r.name))]
    yield* Effect.forEach(
      names,
      (name) =>
        Effect.flatMap(projections.activeVersion(name), (version) =>
          Projection.waitFor(name, head, { timeout: options?.timeout, version: Option.getOrUndefined(version) })
        ),
      { concurrency: "unbounded", discard: true }
    )
  })
