/**
 * The `SnapshotStore` service: saved, encoded aggregate states at some stream
 * version, so that loading a long stream reads only the events after it.
 *
 * - The aggregate declares how its state is encoded (`Aggregate.make({ state:
 *   { schema, version } })`). A snapshot records that state schema version;
 *   one whose version differs, or that fails to decode, is ignored with a
 *   warning and the state is rebuilt from events. A snapshot never fails a
 *   command.
 * - A `Strategy` decides when to take one: `never`, `every(n)` events, or any
 *   function of the state, its version and the events since the last one.
 * - Snapshots are written after a successful append, in the background
 *   (default) or inline, and a failed write is only logged.
 *
 * @since 0.1.0
 */
import { Context, type DateTime, Effect, FiberSet, Layer, Option } from "effect"
import * as Position from "./Position.js"
import type { StoreError } from "./StoreError.js"
import type { StreamId } from "./StreamId.js"

/**
 * A stored snapshot.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { SnapshotStore, StreamId } from "@chronicle/core"
 *
 * const describe = (snapshot: SnapshotStore.Snapshot): string =>
 *   `${snapshot.streamId} at v${snapshot.version} (state schema v${snapshot.stateVersion})`
 * const newest = Effect.flatMap(SnapshotStore.SnapshotStore, (store) =>
 *   Effect.map(store.load(StreamId.forAggregate("Account", "a-1")), Option.map(describe))
 * )
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly streamId: StreamId
  /** The stream version the state includes. */
  readonly version: number
  /** The schema version of the encoded state. */
  readonly stateVersion: number
  /** The encoded, JSON-safe state. */
  readonly state: unknown
  /** The position of the last event the state includes. */
  readonly position: Position.Position
  /** The `recordedAt` of the last event the state includes. */
  readonly recordedAt: DateTime.Utc
}

/**
 * Bounds for choosing a snapshot: the newest one at or before all of them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SnapshotStore, StreamId } from "@chronicle/core"
 *
 * // the newest snapshot that includes at most the stream's first 100 events
 * const bounds: SnapshotStore.Bounds = { maxVersion: 100 }
 * const early = Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.load(StreamId.forAggregate("Account", "a-1"), bounds))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Bounds {
  readonly maxVersion?: number | undefined
  readonly maxPosition?: Position.Position | undefined
  readonly maxRecordedAt?: DateTime.Utc | undefined
}

/**
 * The snapshot store service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SnapshotStore, StreamId } from "@chronicle/core"
 *
 * const newest = Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.load(StreamId.forAggregate("Account", "a-1")))
 * ```
 * @since 0.1.0
 * @category tags
 */
export class SnapshotStore extends Context.Tag("@chronicle/core/SnapshotStore")<
  SnapshotStore,
  {
    /** The newest snapshot of a stream within the bounds, if any. */
    readonly load: (streamId: StreamId, bounds?: Bounds) => Effect.Effect<Option.Option<Snapshot>, StoreError>
    /** Saves a snapshot (replacing one at the same stream version). */
    readonly save: (snapshot: Snapshot) => Effect.Effect<void, StoreError>
    /** Saves in the background, within the store's scope; a failure is logged, never raised. */
    readonly saveInBackground: (snapshot: Snapshot) => Effect.Effect<void>
  }
>() {}

/**
 * Builds a `SnapshotStore` from `load` and `save`; it adds background saving
 * whose fibers live in the current scope (so they end with the layer).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { SnapshotStore } from "@chronicle/core"
 *
 * const discardAll = SnapshotStore.make({ load: () => Effect.succeedNone, save: () => Effect.void })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = (implementation: {
  readonly load: SnapshotStore["Type"]["load"]
  readonly save: SnapshotStore["Type"]["save"]
}) =>
  Effect.gen(function* () {
    const background = yield* FiberSet.make<void, never>()
    const saveQuietly = (snapshot: Snapshot) =>
      implementation.save(snapshot).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(`snapshot of ${snapshot.streamId}@${snapshot.version} not saved: ${error.message}`)
        ),
        Effect.withSpan("Chronicle.SnapshotStore.save", { attributes: { streamId: snapshot.streamId } })
      )
    return SnapshotStore.of({
      load: implementation.load,
      save: implementation.save,
      saveInBackground: (snapshot) => Effect.asVoid(FiberSet.run(background, saveQuietly(snapshot)))
    })
  })

const withinBounds = (snapshot: Snapshot, bounds: Bounds | undefined): boolean =>
  (bounds?.maxVersion === undefined || snapshot.version <= bounds.maxVersion) &&
  (bounds?.maxPosition === undefined || Position.isAtOrAfter(bounds.maxPosition, snapshot.position)) &&
  (bounds?.maxRecordedAt === undefined || snapshot.recordedAt.epochMillis <= bounds.maxRecordedAt.epochMillis)

/**
 * An in-memory snapshot store.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SnapshotStore, EventStore } from "@chronicle/core"
 *
 * const stores = Layer.merge(EventStore.layerMemory(), SnapshotStore.layerMemory)
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<SnapshotStore> = Layer.scoped(
  SnapshotStore,
  Effect.suspend(() => {
    const byStream = new Map<string, Array<Snapshot>>()
    return make({
      load: (streamId, bounds) =>
        Effect.sync(() => {
          const candidates = (byStream.get(streamId) ?? []).filter((s) => withinBounds(s, bounds))
          return Option.fromNullable(candidates[candidates.length - 1])
        }),
      save: (snapshot) =>
        Effect.sync(() => {
          const kept = (byStream.get(snapshot.streamId) ?? []).filter((s) => s.version !== snapshot.version)
          kept.push(snapshot)
          kept.sort((a, b) => a.version - b.version)
          byStream.set(snapshot.streamId, kept)
        })
    })
  })
)

/**
 * When to take a snapshot, given the state after an append, its version and
 * how many events were appended since the snapshot the state was loaded from.
 * Any such function is a strategy.
 *
 * @example
 * ```ts
 * import type { SnapshotStore } from "@chronicle/core"
 *
 * const whenClosed: SnapshotStore.Strategy<{ readonly closed: boolean }> = ({ state, eventsSinceSnapshot }) =>
 *   state.closed || eventsSinceSnapshot >= 500
 * ```
 * @since 0.1.0
 * @category strategies
 */
export type Strategy<S = unknown> = (context: {
  readonly state: S
  readonly version: number
  readonly eventsSinceSnapshot: number
}) => boolean

/**
 * Never snapshot.
 *
 * @example
 * ```ts
 * import { SnapshotStore } from "@chronicle/core"
 *
 * const strategy = SnapshotStore.never
 * ```
 * @since 0.1.0
 * @category strategies
 */
export const never: Strategy = () => false

/**
 * Snapshot once at least `n` events were appended since the last snapshot.
 *
 * @example
 * ```ts
 * import { SnapshotStore } from "@chronicle/core"
 *
 * const strategy = SnapshotStore.every(100)
 * ```
 * @since 0.1.0
 * @category strategies
 */
export const every = (n: number): Strategy => {
  if (!Number.isInteger(n) || n < 1) throw new Error(`SnapshotStore.every: n must be a positive integer, got ${n}`)
  return ({ eventsSinceSnapshot }) => eventsSinceSnapshot >= n
}
