/**
 * What an append takes, returns and runs: its options (`AppendOptions`,
 * with the expected version and `AppendMetadata`), what a successful append
 * returns (`AppendResult`), and the hook a store runs inside every append
 * (`AppendHook`, the way inline projections commit their writes with the
 * events). `EventStore.append` appends; its errors are in `AppendError`.
 *
 * @since 0.7.0
 */
import type { DateTime, Effect } from "effect"
import type { StoredEvent, UserMetadata } from "./Event.js"
import type { ExpectedVersion } from "./ExpectedVersion.js"
import type { Position } from "./Position.js"
import type { StoreError } from "./StoreError.js"
import type { StreamId } from "./StreamId.js"

/**
 * Options of an append.
 *
 * @example
 * ```ts
 * import { type Append, ExpectedVersion } from "@chronicle/core"
 *
 * const firstWrite: Append.AppendOptions = { expectedVersion: ExpectedVersion.NoStream }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface AppendOptions {
  /** Defaults to `ExpectedVersion.Any`. */
  readonly expectedVersion?: ExpectedVersion | undefined
  /** Metadata for every event of the append. */
  readonly metadata?: AppendMetadata | undefined
}

/**
 * Metadata given to an append. A missing `correlationId` defaults to the
 * first event's id (the start of a new correlation chain); a missing
 * `causationId` is stored as `null`.
 *
 * @example
 * ```ts
 * import type { Append } from "@chronicle/core"
 *
 * const caused = (command: { readonly id: string; readonly correlationId: string }): Append.AppendMetadata => ({
 *   correlationId: command.correlationId,
 *   causationId: command.id
 * })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface AppendMetadata {
  readonly correlationId?: string | undefined
  readonly causationId?: string | null | undefined
  readonly user?: UserMetadata | undefined
}

/**
 * What a successful append returns.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Append } from "@chronicle/core"
 *
 * const report = (result: Append.AppendResult) =>
 *   Effect.log(result.duplicate ? "already stored" : `now at version ${result.nextExpectedVersion}`)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface AppendResult {
  readonly streamId: StreamId
  /** The stream's version after the append: pass it as the next expected version. */
  readonly nextExpectedVersion: number
  /** The global positions of the appended events, in order. */
  readonly positions: ReadonlyArray<Position>
  /** The `recordedAt` stored on the appended events. */
  readonly recordedAt: DateTime.Utc
  /** `true` when every event id was already stored: nothing was written. */
  readonly duplicate: boolean
}

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
 * import { type Append, EventStore } from "@chronicle/core"
 *
 * const appended = Ref.unsafeMake(0)
 * const counting: Append.AppendHook = {
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
