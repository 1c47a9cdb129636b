/**
 * The `EventStore` service: an append-only log of streams with optimistic
 * concurrency, idempotent appends and a gap-safe global order.
 *
 * The store works on encoded events (`EventData` in, `StoredEvent` out) so
 * that every backend stays free of domain schemas; an `EventCodec` turns them
 * into typed `RecordedEvent`s. Swap the backend by swapping the layer:
 * `EventStore.layerMemory()`, or `SqlEventStore.layer` from
 * `@chronicle/sql-store` over SQLite or PostgreSQL.
 *
 * Every backend keeps the same contract, proven by the conformance suite in
 * `@chronicle/core/testing`:
 * - committed events are never updated or deleted;
 * - an append lands entirely or not at all, with contiguous versions from 1;
 * - `Any`, `NoStream`, `StreamExists` and exact expected versions are
 *   enforced atomically; a conflict is a `ConcurrencyError` (an append's
 *   errors are in `AppendError`, its options and result in `Append`);
 * - appending the same event ids again returns the first result and writes
 *   nothing;
 * - `readAll` and `subscribe` never skip an event that commits after the
 *   reader has passed its position, and keep each stream's order;
 * - `subscribe` rides out database outages by itself;
 * - payloads are plain JSON, refused (never silently changed) otherwise.
 *
 * @since 0.1.0
 */

import { Context, type Duration, Effect, type Either, Layer, Stream } from "effect"
import type { AppendHook, AppendOptions, AppendResult } from "./Append.js"
import type { AppendError } from "./AppendError.js"
import type * as Backend from "./Backend.js"
import type { EventData, StoredEvent } from "./Event.js"
import type { FeedStatus } from "./FeedStatus.js"
import * as internal from "./internal/eventStore/make.js"
import * as Memory from "./internal/eventStore/memory.js"
import type { Position } from "./Position.js"
import type { StoreError } from "./StoreError.js"
import type { StreamId } from "./StreamId.js"

/**
 * Options of `read`. Versions are inclusive bounds; `backward` reads from the
 * newest event down.
 *
 * @example
 * ```ts
 * import { EventStore, StreamId } from "@chronicle/core"
 *
 * // the ten newest events of one account
 * const options: EventStore.ReadStreamOptions = { direction: "backward", limit: 10 }
 * const latest = EventStore.read(StreamId.forAggregate("Account", "a-1"), options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamOptions {
  readonly from?: number | undefined
  readonly to?: number | undefined
  readonly direction?: "forward" | "backward" | undefined
  readonly limit?: number | undefined
}

/**
 * A filter over the global feed: by stream category (the part of the stream
 * id before its first `-`) and by event type. An empty or missing list means
 * no filter.
 *
 * @example
 * ```ts
 * import { EventStore } from "@chronicle/core"
 *
 * const deposits: EventStore.EventFilter = { categories: ["Account"], types: ["Deposited", "Withdrawn"] }
 * const feed = EventStore.subscribe({ ...deposits, batchSize: 100 })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface EventFilter {
  readonly categories?: ReadonlyArray<string> | undefined
  readonly types?: ReadonlyArray<string> | undefined
}

/**
 * Options of `readAll`: events strictly after `from`, in global order.
 *
 * @example
 * ```ts
 * import { EventStore, Position } from "@chronicle/core"
 *
 * const options: EventStore.ReadAllOptions = { from: Position.start, categories: ["Account"], limit: 1000 }
 * const firstThousand = EventStore.readAll(options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface ReadAllOptions extends EventFilter {
  readonly from?: Position | undefined
  readonly limit?: number | undefined
  /** How many rows one round trip fetches; bounded by the backend. */
  readonly batchSize?: number | undefined
}

/**
 * Options of `count`: the events `readAll` with the same `from` and filter
 * would deliver, up to and including `upTo` when given, counted up to `limit`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore, Position } from "@chronicle/core"
 *
 * const options: EventStore.CountOptions = { from: Position.start, types: ["Deposited"], limit: 10_000 }
 * // none when the store cannot count without reading the events
 * const deposits = Effect.flatMap(EventStore.EventStore, (store) =>
 *   store.count === undefined ? Effect.succeedNone : Effect.asSome(store.count(options))
 * )
 * ```
 * @since 0.9.0
 * @category models
 */
export interface CountOptions extends EventFilter {
  readonly from?: Position | undefined
  /** Count only events at or before this position. */
  readonly upTo?: Position | undefined
  /** Stop counting at this many (the answer is then `limit`). */
  readonly limit?: number | undefined
}

/**
 * Options of `subscribe`: catch up from `from`, then follow live appends.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { EventStore, Position } from "@chronicle/core"
 *
 * const options: EventStore.SubscribeOptions = { from: Position.start, categories: ["Account"], pollInterval: "250 millis" }
 * const live = EventStore.subscribe(options).pipe(Stream.map((event) => event.type))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions extends EventFilter {
  readonly from?: Position | undefined
  readonly batchSize?: number | undefined
  /** The longest a subscriber waits before polling again without a wake-up. */
  readonly pollInterval?: Duration.DurationInput | undefined
}

/**
 * One append of an {@link AppendMany}: a stream, its events, its options.
 *
 * @example
 * ```ts
 * import { EventStore, StreamId } from "@chronicle/core"
 *
 * const request: EventStore.AppendRequest = {
 *   streamId: StreamId.forAggregate("Counter", "c-1"),
 *   events: [{ eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1 } }]
 * }
 * ```
 * @since 0.5.0
 * @category models
 */
export interface AppendRequest {
  readonly streamId: StreamId
  readonly events: ReadonlyArray<EventData>
  readonly options?: AppendOptions | undefined
}

/**
 * Several appends at once (see {@link withAppendMany}): a result or an error
 * per append, in the order given.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * // several appends in fewer round trips when the store can, one by one otherwise
 * const appendAll = (requests: ReadonlyArray<EventStore.AppendRequest>) =>
 *   Effect.flatMap(EventStore.EventStore, (store) => {
 *     const appendMany: EventStore.AppendMany =
 *       EventStore.appendManyOf(store) ??
 *       ((appends) => Effect.forEach(appends, (a) => Effect.either(store.append(a.streamId, a.events, a.options))))
 *     return appendMany(requests)
 *   })
 * ```
 * @since 0.5.0
 * @category models
 */
export type AppendMany = (
  appends: ReadonlyArray<AppendRequest>
) => Effect.Effect<ReadonlyArray<Either.Either<AppendResult, AppendError>>>

const appendManyOfAppend = new WeakMap<object, AppendMany>()

/**
 * Marks a store's `append` as having a way to make several appends at once,
 * each on its own terms (atomic for its stream, its own result or error) but
 * in fewer round trips: `SqlEventStore` writes appends to distinct streams
 * without an expected version in one statement on PostgreSQL. The mark is
 * on the `append` function itself, so a decorator that replaces `append`
 * (and spreads the rest of the store) drops it: callers then fall back to
 * its `append`, and nothing bypasses the decorator.
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const withBatches = (store: EventStore.EventStore["Type"]): EventStore.EventStore["Type"] =>
 *   EventStore.EventStore.of({
 *     ...store,
 *     append: EventStore.withAppendMany(
 *       (streamId, events, options) => store.append(streamId, events, options),
 *       (appends) => Effect.forEach(appends, (a) => Effect.either(store.append(a.streamId, a.events, a.options)))
 *     )
 *   })
 * ```
 * @typeParam F - the type of the store's `append`, returned as it is (the mark is beside it, not in its type).
 * @since 0.5.0
 * @category constructors
 */
export const withAppendMany = <F extends EventStore["Type"]["append"]>(append: F, appendMany: AppendMany): F => {
  appendManyOfAppend.set(append, appendMany)
  return append
}

/**
 * The several-at-once append of a store (see {@link withAppendMany}), if
 * its `append` has one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const batched = Effect.map(EventStore.EventStore, (store) => EventStore.appendManyOf(store) !== undefined)
 * ```
 * @since 0.5.0
 * @category accessors
 */
export const appendManyOf = (store: Pick<EventStore["Type"], "append">): AppendMany | undefined =>
  appendManyOfAppend.get(store.append)

/**
 * The event store service.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { EventStore, ExpectedVersion, StreamId } from "@chronicle/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* EventStore.EventStore
 *   const stream = StreamId.forAggregate("Counter", "c-1")
 *   yield* store.append(
 *     stream,
 *     [{ eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1 } }],
 *     { expectedVersion: ExpectedVersion.NoStream }
 *   )
 *   return yield* Stream.runCollect(store.read(stream))
 * })
 * ```
 * @since 0.1.0
 * @category tags
 */
export class EventStore extends Context.Tag("@chronicle/core/EventStore")<
  EventStore,
  {
    /** Appends events atomically to one stream. */
    readonly append: (
      streamId: StreamId,
      events: ReadonlyArray<EventData>,
      options?: AppendOptions
    ) => Effect.Effect<AppendResult, AppendError>
    /** Reads one stream in version order. An absent stream reads as empty. */
    readonly read: (streamId: StreamId, options?: ReadStreamOptions) => Stream.Stream<StoredEvent, StoreError>
    /**
     * Reads one stream (or a range of it) into memory in one go: what loading
     * an aggregate needs, without per-element stream overhead. Use `read`
     * for streams too long to hold in memory.
     */
    readonly readEvents: (
      streamId: StreamId,
      options?: ReadStreamOptions
    ) => Effect.Effect<ReadonlyArray<StoredEvent>, StoreError>
    /** Reads the global feed after `from`, in gap-safe global order, up to the current head. */
    readonly readAll: (options?: ReadAllOptions) => Stream.Stream<StoredEvent, StoreError>
    /** Catches up from `from`, then follows live appends without a gap or a duplicate. Interruptible. */
    readonly subscribe: (options?: SubscribeOptions) => Stream.Stream<StoredEvent, StoreError>
    /**
     * `subscribe` in batches that also say how far the store scanned
     * (`Backend.ScannedBatch`), including empty batches over events that did
     * not match: what lets a filtered projection checkpoint while idle.
     * Optional; `make` derives it.
     */
    readonly subscribeScanned?: (options?: SubscribeOptions) => Stream.Stream<Backend.ScannedBatch, StoreError>
    /**
     * Counts, without reading them, the events `readAll` would deliver (after
     * `from`, of the filter, up to `upTo` and what readers can see now),
     * stopping at `limit`: what a projection's lag needs. Optional; without
     * it, callers count by reading the feed.
     */
    readonly count?: (options: CountOptions) => Effect.Effect<number, StoreError>
    /** The stream's current version, 0 when it does not exist. */
    readonly streamVersion: (streamId: StreamId) => Effect.Effect<number, StoreError>
    /** The position of the newest event a reader can see now (`Position.start` when empty). */
    readonly head: Effect.Effect<Position, StoreError>
    /** Whether readers of the global feed are held back, since when and by what (see the `FeedStatus` module). */
    readonly feedStatus: Effect.Effect<FeedStatus, StoreError>
  }
>() {}

/**
 * The feed status of the `EventStore` from the context.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { EventStore, FeedStatus } from "@chronicle/core"
 *
 * const report = Effect.flatMap(EventStore.feedStatus, (status) => Console.log(FeedStatus.format(status)))
 * ```
 * @since 0.2.0
 * @category accessors
 */
export const feedStatus: Effect.Effect<FeedStatus, StoreError, EventStore> = Effect.flatMap(
  EventStore,
  (store) => store.feedStatus
)

/**
 * Appends with the `EventStore` from the context.
 *
 * @example
 * ```ts
 * import { EventStore, ExpectedVersion, StreamId } from "@chronicle/core"
 *
 * const opened = EventStore.append(
 *   StreamId.forAggregate("Account", "a-1"),
 *   [{ eventId: crypto.randomUUID(), type: "AccountOpened", schemaVersion: 1, data: { owner: "Ada" } }],
 *   { expectedVersion: ExpectedVersion.NoStream }
 * )
 * ```
 * @since 0.1.0
 * @category accessors
 */
export const append = (
  streamId: StreamId,
  events: ReadonlyArray<EventData>,
  options?: AppendOptions
): Effect.Effect<AppendResult, AppendError, EventStore> =>
  Effect.flatMap(EventStore, (store) => store.append(streamId, events, options))

/**
 * Reads one stream with the `EventStore` from the context.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { EventStore, StreamId } from "@chronicle/core"
 *
 * const lastThree = Stream.runCollect(
 *   EventStore.read(StreamId.forAggregate("Account", "a-1"), { direction: "backward", limit: 3 })
 * )
 * ```
 * @since 0.1.0
 * @category accessors
 */
export const read = (
  streamId: StreamId,
  options?: ReadStreamOptions
): Stream.Stream<StoredEvent, StoreError, EventStore> =>
  Stream.unwrap(Effect.map(EventStore, (store) => store.read(streamId, options)))

/**
 * Reads the global feed with the `EventStore` from the context.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const accountsOnly = Stream.runCount(EventStore.readAll({ categories: ["Account"] }))
 * ```
 * @since 0.1.0
 * @category accessors
 */
export const readAll = (options?: ReadAllOptions): Stream.Stream<StoredEvent, StoreError, EventStore> =>
  Stream.unwrap(Effect.map(EventStore, (store) => store.readAll(options)))

/**
 * Subscribes with the `EventStore` from the context.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const printLive = EventStore.subscribe({ types: ["MoneyDeposited"] }).pipe(
 *   Stream.runForEach((e) => Effect.log(`${e.streamId}@${e.version}`))
 * )
 * ```
 * @since 0.1.0
 * @category accessors
 */
export const subscribe = (options?: SubscribeOptions): Stream.Stream<StoredEvent, StoreError, EventStore> =>
  Stream.unwrap(Effect.map(EventStore, (store) => store.subscribe(options)))

/**
 * Options of the in-memory store.
 *
 * @example
 * ```ts
 * import { Effect, Ref } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const appended = Ref.unsafeMake(0)
 * const options: EventStore.MemoryOptions = {
 *   onAppend: { names: ["count"], setup: Effect.void, apply: (events) => Ref.update(appended, (n) => n + events.length) }
 * }
 * const Store = EventStore.layerMemory(options)
 * ```
 * @since 0.6.0
 * @category models
 */
export interface MemoryOptions<R = never> {
  /**
   * Runs inside every append (see `AppendHook`). While one is given,
   * appends take turns, and a failing hook fails the append before anything
   * is written (writes the hook made in memory are not undone).
   */
  readonly onAppend?: AppendHook<R> | undefined
}

/**
 * Builds an in-memory `EventStore`, for tests, property tests and examples:
 * it keeps the same contract as the SQL stores (the conformance suite proves
 * it). Each call makes an empty, independent store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* EventStore.makeMemory()
 *   return yield* store.head
 * })
 * ```
 * @since 0.6.0
 * @category constructors
 */
export function makeMemory(): Effect.Effect<EventStore["Type"]>
export function makeMemory<R = never>(options: MemoryOptions<R>): Effect.Effect<EventStore["Type"], StoreError, R>
export function makeMemory<R = never>(options?: MemoryOptions<R>): Effect.Effect<EventStore["Type"], StoreError, R> {
  return Memory.make(options)
}

/**
 * A layer with a fresh, empty in-memory `EventStore` (see {@link makeMemory}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const program = EventStore.EventStore.pipe(Effect.flatMap((store) => store.head))
 * program.pipe(Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.6.0
 * @category layers
 */
export function layerMemory(): Layer.Layer<EventStore>
export function layerMemory<R = never>(options: MemoryOptions<R>): Layer.Layer<EventStore, StoreError, R>
export function layerMemory<R = never>(options?: MemoryOptions<R>): Layer.Layer<EventStore, StoreError, R> {
  return Layer.effect(EventStore, Memory.make(options))
}

/**
 * Reads one stream into memory with the `EventStore` from the context.
 *
 * @example
 * ```ts
 * import { EventStore, StreamId } from "@chronicle/core"
 *
 * const history = EventStore.readEvents(StreamId.forAggregate("Account", "a-1"))
 * ```
 * @since 0.6.0
 * @category accessors
 */
export const readEvents = (
  streamId: StreamId,
  options?: ReadStreamOptions
): Effect.Effect<ReadonlyArray<StoredEvent>, StoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) => store.readEvents(streamId, options))

/**
 * The version of one stream (0 when it does not exist), with the `EventStore`
 * from the context.
 *
 * @example
 * ```ts
 * import { EventStore, StreamId } from "@chronicle/core"
 *
 * const version = EventStore.streamVersion(StreamId.forAggregate("Account", "a-1"))
 * ```
 * @since 0.6.0
 * @category accessors
 */
export const streamVersion = (streamId: StreamId): Effect.Effect<number, StoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) => store.streamVersion(streamId))

/**
 * The position of the newest event a reader can see now, with the
 * `EventStore` from the context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 *
 * const printHead = Effect.flatMap(EventStore.head, (position) => Effect.log(`head at ${position}`))
 * ```
 * @since 0.6.0
 * @category accessors
 */
export const head: Effect.Effect<Position, StoreError, EventStore> = Effect.flatMap(EventStore, (store) => store.head)

/**
 * What a backend must implement for {@link make}: `append`, `readAll`, and one
 * of `read` or `readEvents`. Everything else is derived when missing.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { AppendError, EventStore } from "@chronicle/core"
 *
 * const readOnly: EventStore.Implementation = {
 *   append: (streamId) => Effect.fail(new AppendError.InvalidAppendError({ streamId, reason: "read-only store" })),
 *   readAll: () => Stream.empty,
 *   readEvents: () => Effect.succeed([])
 * }
 * const store = EventStore.make(readOnly)
 * ```
 * @since 0.6.0
 * @category models
 */
export type Implementation = {
  readonly append: EventStore["Type"]["append"]
  readonly readAll: EventStore["Type"]["readAll"]
  readonly subscribe?: EventStore["Type"]["subscribe"] | undefined
  readonly subscribeScanned?: EventStore["Type"]["subscribeScanned"] | undefined
  readonly count?: EventStore["Type"]["count"] | undefined
  readonly streamVersion?: EventStore["Type"]["streamVersion"] | undefined
  readonly head?: EventStore["Type"]["head"] | undefined
  readonly feedStatus?: EventStore["Type"]["feedStatus"] | undefined
} & (
  | { readonly read: EventStore["Type"]["read"]; readonly readEvents?: EventStore["Type"]["readEvents"] | undefined }
  | { readonly readEvents: EventStore["Type"]["readEvents"]; readonly read?: EventStore["Type"]["read"] | undefined }
)

/**
 * Builds an `EventStore` from a minimal {@link Implementation}, deriving what
 * is missing: `read` from `readEvents` (or the reverse), `streamVersion` from
 * a backward read of one event, `head` from the end of `readAll` (a full
 * scan: implement it when the backend can answer directly), `subscribe` by
 * following `readAll` (woken by this store's own appends, polling every
 * second for others'), and `feedStatus` as always current. Derived operations
 * keep the contract only as far as the given ones do (a gap-safe `readAll`
 * makes a gap-safe `subscribe`).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { AppendError, EventStore } from "@chronicle/core"
 *
 * // a store that is always empty and refuses every append
 * const empty = EventStore.make({
 *   append: (streamId) =>
 *     Effect.fail(new AppendError.InvalidAppendError({ streamId, reason: "read-only store" })),
 *   readAll: () => Stream.empty,
 *   readEvents: () => Effect.succeed([])
 * })
 * ```
 * @since 0.6.0
 * @category constructors
 */
export const make = (implementation: Implementation): Effect.Effect<EventStore["Type"]> => internal.make(implementation)
