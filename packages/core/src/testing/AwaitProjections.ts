/**
 * Eventual consistency in tests: wait until projections have caught up with
 * the store, instead of sleeping and hoping.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, Option } from "effect"
import { EventStore } from "../EventStore.js"
import * as Projection from "../Projection.js"
import type * as ProjectionError from "../ProjectionError.js"
import * as ProjectionStore from "../ProjectionStore.js"
import type { StoreError } from "../StoreError.js"

/**
 * A projection to wait for: its definition (that version), or its name (the
 * active version).
 *
 * @example
 * ```ts
 * import { AwaitProjections } from "@chronicle/core/testing"
 *
 * // the active version of "balances", and version 2 of "statements" (say, while it is rebuilt)
 * const targets: ReadonlyArray<AwaitProjections.Target> = ["balances", { name: "statements", version: 2 }]
 * const settled = AwaitProjections.caughtUp({ projections: targets, timeout: "5 seconds" })
 * ```
 * @since 0.2.0
 * @category models
 */
export type Target = string | { readonly name: string; readonly version: number }

/**
 * Waits until projections have processed everything in the store as of the
 * call.
 *
 * - With `projections` (definitions or names), it waits for each of them,
 *   including one whose runner has not registered it yet (until the
 *   timeout, then `ProjectionNotFound`). A definition waits for its own
 *   version; a name for the active version.
 * - Without, it waits for the active version of every projection registered
 *   in the store when it is called. `Projection.layer` registers its projection while the layer
 *   builds, so projections started that way are always included; one that
 *   registers later (for example `Projection.run` forked just before) may
 *   not be: name it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 * import { AwaitProjections } from "@chronicle/core/testing"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 *
 * const afterCommands = AwaitProjections.caughtUp({ projections: [Pings], timeout: "5 seconds" })
 * const everyRegistered = AwaitProjections.caughtUp({ timeout: "5 seconds" })
 * ```
 * @since 0.1.0
 * @category waiting
 */
export const caughtUp = (options?: {
  readonly projections?: ReadonlyArray<Target> | undefined
  /** Names to wait for (the active version of each); same as `projections` with names. */
  readonly names?: ReadonlyArray<string> | undefined
  readonly timeout?: Duration.DurationInput | undefined
}): Effect.Effect<
  void,
  ProjectionError.ProjectionTimeout | ProjectionError.ProjectionNotFound | StoreError,
  EventStore | ProjectionStore.ProjectionStore
> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const projections = yield* ProjectionStore.ProjectionStore
    const head = yield* store.head
    const named = [...(options?.projections ?? []), ...(options?.names ?? [])]
    const targets: ReadonlyArray<Target> =
      named.length > 0
        ? named
        : // the active version of every registered projection
          (yield* projections.list).filter((r) => r.active).map((r) => ({ name: r.name, version: r.version }))
    yield* Effect.forEach(
      targets,
      (target) =>
        typeof target === "string"
          ? Effect.flatMap(projections.activeVersion(target), (version) =>
              Projection.waitFor(target, head, { timeout: options?.timeout, version: Option.getOrUndefined(version) })
            )
          : Projection.waitFor(target.name, head, { timeout: options?.timeout, version: target.version }),
      { concurrency: "unbounded", discard: true }
    )
  })
