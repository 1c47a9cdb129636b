/**
 * What a store runs inside every append (`AppendHook`): the way inline
 * projections commit their writes with the events. Built by
 * `InlineProjection.hook`, given to a store as its `onAppend` option.
 *
 * @since 0.7.0
 */
import type { Effect } from "effect"
import type { StoredEvent } from "./Event.js"
import type { StoreError } from "./StoreError.js"

/**
 * What a store runs inside every append, with the appended events (already
 * given their versions and positions): on SQL stores inside the append's
 * transaction, so that what it writes commits with the events, and its
 * failure rolls the append back. `setup` runs once, when the store is built
 * (creating an inline projection's tables, for example). Build one from
 * inline projections with `InlineProjection.hook([...])` and give it to the
 * store (`EventStore.layerMemory({ onAppend })`, `SqlEventStore.layer({
 * onAppend })`): the store's layer then requires what the hook requires.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { type AppendHook, EventStore } from "@chronicle/core"
 *
 * const appended = Ref.unsafeMake(0)
 * const counting: AppendHook.AppendHook = {
 *   names: ["count appended events"],
 *   setup: Effect.void,
 *   apply: (events) => Ref.update(appended, (n) => n + events.length)
 * }
 * const store = EventStore.layerMemory({ onAppend: counting })
 * ```
 * @since 0.6.0
 * @category models
 */
export interface AppendHook<R = never> {
  /** What the hook runs, for logs and errors (the inline projections' names). */
  readonly names: ReadonlyArray<string>
  /** Runs once when the store is built; its failure fails the store's layer. */
  readonly setup: Effect.Effect<void, StoreError, R>
  /** Runs inside every append; its failure fails (and rolls back) the append. */
  readonly apply: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void, StoreError, R>
}
