/**
 * Building blocks for `EventStore` implementations, shared by the in-memory
 * store and `@chronicle/sql-store` so that every backend validates appends,
 * applies idempotency and follows live events the same way.
 *
 * `@chronicle/core/Backend`: its own entry point, not part of
 * `@chronicle/core`'s index. Application code does not need this module.
 *
 * @since 0.1.0
 * @module
 */
import { Chunk, type DateTime, type Duration, Effect, Option, Stream } from "effect"
import type { AppendOptions, AppendResult } from "./Append.js"
import { InvalidAppendError } from "./AppendError.js"
import type { EventData, EventMetadata, StoredEvent } from "./Event.js"
import type { EventFilter } from "./EventStore.js"
import * as Feed from "./internal/backend/feed.js"
import * as Idempotency from "./internal/backend/idempotency.js"
import * as Json from "./internal/backend/json.js"
import * as Traced from "./internal/traced.js"
import type * as Position from "./Position.js"
import type { StoreError } from "./StoreError.js"
import * as StreamId from "./StreamId.js"

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The span of a store operation: `Effect.withSpan(effect, name)` without the
 * caller's stack trace (which `Effect.fn` captures on every call, at a cost
 * larger than many operations' own work), and no span at all under Effect's
 * built-in tracer, which keeps its spans nowhere. Any other tracer
 * (`@effect/opentelemetry`'s, `Layer.setTracer`, `Effect.withTracer`) gets
 * the span, named and nested under the caller's as with `Effect.withSpan`.
 *
 * @example
 * ```ts
 * import * as Backend from "@chronicle/core/Backend"
 * import { Effect } from "effect"
 *
 * const head = Effect.succeed(0).pipe(Backend.withSpan("MyStore.head"))
 * ```
 * @since 0.9.0
 * @category tracing
 */
export const withSpan: (name: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  Traced.withSpan

/**
 * `traced()` when the current tracer keeps spans, `untraced()` under
 * Effect's built-in tracer, which keeps them nowhere: the choice
 * {@link withSpan} makes, for work whose only reader is a tracer (a span's
 * attributes, a per-request span of an HTTP server).
 *
 * @example
 * ```ts
 * import * as Backend from "@chronicle/core/Backend"
 * import { Effect } from "effect"
 *
 * const annotate = Backend.whenTraced(
 *   () => Effect.annotateCurrentSpan({ tenant: "t-1" }),
 *   () => Effect.void
 * )
 * ```
 * @since 0.9.0
 * @category tracing
 */
export const whenTraced: <A, E, R>(
  traced: () => Effect.Effect<A, E, R>,
  untraced: () => Effect.Effect<A, E, R>
) => Effect.Effect<A, E, R> = Traced.whenTraced

/**
 * The deepest nesting of arrays and objects that an event payload or user
 * metadata may have. Deeper values are refused with an `InvalidAppendError`
 * by every backend alike (SQLite's JSON functions stop at 1,000 levels,
 * PostgreSQL's parser at its stack limit, `JSON.stringify` at the call
 * stack's), so no backend stores what another would refuse.
 *
 * @example
 * ```ts
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const limit = Backend.maxJsonDepth // 256
 * ```
 * @since 0.2.0
 * @category validation
 */
export const maxJsonDepth = 256

/**
 * An append batch whose payloads have been serialised to JSON text.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StreamId } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const event = { eventId: "0b6e1f4c-2c8e-4d8a-9b7e-3f1a2b3c4d5e", type: "Deposited", schemaVersion: 1, data: { amount: 10 } }
 * const bytes = Effect.map(Backend.prepareAppend(StreamId.forAggregate("Account", "1"), [event]), (prepared) =>
 *   prepared.reduce((total, e: Backend.PreparedEvent) => total + e.json.length, 0)
 * )
 * ```
 * @since 0.1.0
 * @category models
 */
export interface PreparedEvent extends EventData {
  /** `JSON.stringify(data)` */
  readonly json: string
}

/**
 * Checks an append before it touches storage: at least one event, UUID event
 * ids without repeats, a type name, a positive integer schema version and a
 * payload that is plain JSON (no `NaN`, `Infinity`, `undefined`, bigint,
 * `Date` or other class instance, nested at most {@link maxJsonDepth}
 * levels: refused, naming the path, rather than silently changed). Returns
 * the events with their JSON text.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StreamId } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const empty = Backend.prepareAppend(StreamId.forAggregate("Account", "1"), []) // fails: no events
 * ```
 * @since 0.1.0
 * @category validation
 */
export const prepareAppend = (
  streamId: StreamId.StreamId,
  events: ReadonlyArray<EventData>
): Effect.Effect<ReadonlyArray<PreparedEvent>, InvalidAppendError> =>
  Effect.suspend(() => {
    const invalid = (reason: string) => Effect.fail(new InvalidAppendError({ streamId, reason }))
    if (events.length === 0) return invalid("no events to append")
    const seen = new Set<string>()
    const prepared: Array<PreparedEvent> = []
    for (const [index, event] of events.entries()) {
      if (typeof event.eventId !== "string" || !uuidPattern.test(event.eventId)) {
        return invalid(`event ${index}: event id "${String(event.eventId)}" is not a UUID`)
      }
      const id = event.eventId.toLowerCase()
      if (seen.has(id)) return invalid(`event ${index}: event id ${id} appears twice in one append`)
      seen.add(id)
      if (typeof event.type !== "string" || event.type.length === 0) {
        return invalid(`event ${index}: the event type is empty`)
      }
      if (!Number.isInteger(event.schemaVersion) || event.schemaVersion < 1) {
        return invalid(
          `event ${index} (${event.type}): schema version ${event.schemaVersion} is not a positive integer`
        )
      }
      const problem = Json.jsonProblem(event.data, "data", maxJsonDepth)
      if (problem !== undefined) return invalid(`event ${index} (${event.type}): ${problem}`)
      let json: string | undefined
      try {
        json = JSON.stringify(event.data)
      } catch (error) {
        return invalid(`event ${index} (${event.type}): payload is not JSON-serialisable: ${String(error)}`)
      }
      if (json === undefined) return invalid(`event ${index} (${event.type}): payload is not JSON-serialisable`)
      prepared.push({ eventId: id, type: event.type, schemaVersion: event.schemaVersion, data: event.data, json })
    }
    return Effect.succeed(prepared)
  })

/**
 * The metadata every event of an append is stored with.
 *
 * @example
 * ```ts
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const metadata = Backend.resolveMetadata("6f1c1a4e-8a0e-4a57-9d1a-9b8ad2b6c001", { metadata: { user: { by: "ada" } } })
 * // correlationId defaults to the first event id, causationId to null
 * ```
 * @since 0.1.0
 * @category metadata
 */
export const resolveMetadata = (firstEventId: string, options: AppendOptions | undefined): EventMetadata => ({
  correlationId: options?.metadata?.correlationId ?? firstEventId,
  causationId: options?.metadata?.causationId ?? null,
  user: options?.metadata?.user ?? {}
})

/**
 * Resolves an append's metadata (see {@link resolveMetadata}) and checks it
 * as {@link prepareAppend} checks payloads: string ids, and user metadata
 * that is a plain JSON object. Returns it with its JSON text.
 *
 * @example
 * ```ts
 * import { StreamId } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const refused = Backend.prepareMetadata(StreamId.forAggregate("A", "1"), "6f1c1a4e-8a0e-4a57-9d1a-9b8ad2b6c001", {
 *   metadata: { user: { score: Number.NaN } }
 * }) // fails: metadata.user.score is NaN
 * ```
 * @since 0.2.0
 * @category metadata
 */
export const prepareMetadata = (
  streamId: StreamId.StreamId,
  firstEventId: string,
  options: AppendOptions | undefined
): Effect.Effect<{ readonly metadata: EventMetadata; readonly json: string }, InvalidAppendError> =>
  Effect.suspend(() => {
    const invalid = (reason: string) => Effect.fail(new InvalidAppendError({ streamId, reason }))
    const metadata = resolveMetadata(firstEventId, options)
    if (typeof metadata.correlationId !== "string") return invalid("metadata.correlationId is not a string")
    if (metadata.causationId !== null && typeof metadata.causationId !== "string") {
      return invalid("metadata.causationId is neither a string nor null")
    }
    const { user } = metadata
    if (typeof user !== "object" || user === null || Array.isArray(user)) {
      return invalid("metadata.user is not a JSON object")
    }
    const problem = Json.jsonProblem(user, "metadata.user", maxJsonDepth)
    if (problem !== undefined) return invalid(problem)
    try {
      return Effect.succeed({ metadata, json: JSON.stringify(metadata) })
    } catch (error) {
      return invalid(`metadata is not JSON-serialisable: ${String(error)}`)
    }
  })

/**
 * A stored event, as found when looking up an append's event ids.
 *
 * @example
 * ```ts
 * import type { Event } from "@chronicle/core"
 * import type * as Backend from "@chronicle/core/Backend"
 *
 * // what a backend hands `idempotentResult` for a stored event whose id an append reuses
 * const existing = (event: Event.StoredEvent): Backend.ExistingEvent => ({
 *   eventId: event.eventId,
 *   streamId: event.streamId,
 *   version: event.version,
 *   position: event.position,
 *   recordedAt: event.recordedAt,
 *   type: event.type,
 *   schemaVersion: event.schemaVersion,
 *   data: event.data
 * })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface ExistingEvent {
  readonly eventId: string
  readonly streamId: string
  readonly version: number
  readonly position: Position.Position
  readonly recordedAt: DateTime.Utc
  readonly type: string
  readonly schemaVersion: number
  /** The stored payload, as read back. */
  readonly data: unknown
}

/**
 * Decides what an append whose event ids were looked up must do:
 * - none stored yet: `Option.none()`, go ahead and write;
 * - all stored, in this stream, as one contiguous run in the same order,
 *   with the same types, schema versions and payloads: the first append's
 *   result, marked `duplicate`, and nothing is written;
 * - anything else is an `InvalidAppendError` whose reason says which case
 *   it is: only some ids stored, ids stored in another stream, the same ids
 *   in another order, or an id stored with a different event (an event id
 *   names one event for good; metadata may differ on a retry).
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { StreamId } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * Backend.idempotentResult(StreamId.forAggregate("A", "1"), [], [])
 * ```
 * @since 0.1.0
 * @category idempotency
 */
export const idempotentResult = (
  streamId: StreamId.StreamId,
  events: ReadonlyArray<PreparedEvent>,
  existing: ReadonlyArray<ExistingEvent>
): Effect.Effect<Option.Option<AppendResult>, InvalidAppendError> =>
  Idempotency.idempotentResult(streamId, events, existing)

/**
 * Freezes a JSON value deeply, so that an event handed out by a store cannot
 * be changed by its reader.
 *
 * @example
 * ```ts
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const data = Backend.deepFreeze({ amount: 1, tags: ["a"] })
 * ```
 * @since 0.1.0
 * @category immutability
 */
export const deepFreeze = <A>(value: A): A => {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

/**
 * A predicate for an `EventFilter`: the event's stream category and type are
 * among those listed (an empty or missing list admits everything).
 *
 * @example
 * ```ts
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const accountsOnly = Backend.matches({ categories: ["Account"] })
 * ```
 * @since 0.1.0
 * @category subscriptions
 */
export const matches = (filter: EventFilter): ((event: StoredEvent) => boolean) => {
  const categories = filter.categories !== undefined && filter.categories.length > 0 ? new Set(filter.categories) : null
  const types = filter.types !== undefined && filter.types.length > 0 ? new Set(filter.types) : null
  return (event) =>
    (categories === null || categories.has(StreamId.category(event.streamId))) &&
    (types === null || types.has(event.type))
}

/**
 * How a backend reads one batch of the global feed: events strictly after
 * `from`, at most `limit`, in global order, only those a reader may safely
 * see now.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type Event, Position } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const log: Array<Event.StoredEvent> = []
 * const readBatch: Backend.ReadBatch = (from, limit) =>
 *   Effect.succeed(log.filter((event) => Position.isAfter(event.position, from)).slice(0, limit))
 * const everything = Backend.readAllBatched(readBatch, { from: Position.start, batchSize: 500 })
 * ```
 * @since 0.1.0
 * @category subscriptions
 */
export type ReadBatch = (
  from: Position.Position,
  limit: number
) => Effect.Effect<ReadonlyArray<StoredEvent>, StoreError>

/**
 * Reads the global feed from `from` to the current head, batch by batch.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Position } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const nothing = Backend.readAllBatched(() => Effect.succeed([]), { from: Position.start, batchSize: 100 })
 * ```
 * @since 0.1.0
 * @category subscriptions
 */
export const readAllBatched = (
  readBatch: ReadBatch,
  options: { readonly from: Position.Position; readonly batchSize: number; readonly limit?: number | undefined }
): Stream.Stream<StoredEvent, StoreError> => {
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  return Stream.paginateChunkEffect({ from: options.from, remaining: limit }, ({ from, remaining }) =>
    remaining <= 0
      ? Effect.succeed([Chunk.empty<StoredEvent>(), Option.none()] as const)
      : Effect.map(readBatch(from, Math.min(options.batchSize, remaining)), (batch) => {
          const last = batch[batch.length - 1]
          const next =
            last === undefined || batch.length < Math.min(options.batchSize, remaining)
              ? Option.none()
              : Option.some({ from: last.position, remaining: remaining - batch.length })
          return [Chunk.unsafeFromArray(batch), next] as const
        })
  )
}

/**
 * How {@link followFeed} and {@link followScanned} follow the feed: where
 * they start, how many events a read asks for, how long they wait for a
 * wake-up before reading again, and the wake-ups (hints that something was
 * appended; if their source fails, polling carries on).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Position } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const options: Backend.FollowOptions = { from: Position.start, batchSize: 500, pollInterval: "1 second", wakeups: Stream.never }
 * const feed = Backend.followFeed(() => Effect.succeed([]), options)
 * ```
 * @since 0.7.0
 * @category subscriptions
 */
export interface FollowOptions {
  readonly from: Position.Position
  readonly batchSize: number
  readonly pollInterval: Duration.DurationInput
  readonly wakeups: Stream.Stream<unknown, StoreError>
}

/**
 * The catch-up-then-live loop every backend's `subscribe` uses. It reads
 * batches after its last delivered position; when a batch is empty it waits
 * for a wake-up (a hint that something was appended) or for `pollInterval`,
 * then reads again. Because it always resumes from the stored position, a
 * lost, early or repeated wake-up cannot make it skip or repeat an event.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Position } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const feed = Backend.followFeed(() => Effect.succeed([]), {
 *   from: Position.start,
 *   batchSize: 500,
 *   pollInterval: "1 second",
 *   wakeups: Stream.never
 * })
 * ```
 * @since 0.1.0
 * @category subscriptions
 */
export const followFeed = (readBatch: ReadBatch, options: FollowOptions): Stream.Stream<StoredEvent, StoreError> =>
  Feed.followFeed(readBatch, options)

/**
 * One batch of a scanning feed: the events that matched, and the position up
 * to which the backend examined the feed (`scannedTo`, at or after the last
 * event's). No event matching the filter lies after the batch's last event
 * and at or before `scannedTo`, and no event a reader cannot see yet (of a
 * transaction still in flight) lies at or before it: a reader may resume
 * after `scannedTo`. An empty batch reports progress over events that did
 * not match.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 * import type * as Backend from "@chronicle/core/Backend"
 *
 * const describe = (batch: Backend.ScannedBatch): string =>
 *   `${batch.events.length} matching events, scanned up to ${Position.format(batch.scannedTo)}`
 * ```
 * @since 0.7.0
 * @category subscriptions
 */
export interface ScannedBatch {
  readonly events: ReadonlyArray<StoredEvent>
  readonly scannedTo: Position.Position
}

/**
 * How a backend reads one batch of the global feed and says how far it
 * looked (see {@link ScannedBatch}).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Position } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const scan: Backend.ScanBatch = Backend.scanUpToHead(() => Effect.succeed([]), Effect.succeed(Position.start))
 * const batches = Backend.followScanned(scan, { from: Position.start, batchSize: 500, pollInterval: "1 second", wakeups: Stream.never })
 * ```
 * @since 0.7.0
 * @category subscriptions
 */
export type ScanBatch = (from: Position.Position, limit: number) => Effect.Effect<ScannedBatch, StoreError>

/**
 * A {@link ScanBatch} from a gap-safe {@link ReadBatch} and the backend's
 * gap-safe head: the head is read first, so that every event at or before it
 * is visible to the batch read that follows; a batch shorter than `limit`
 * has then examined everything up to that head.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Position } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const scan = Backend.scanUpToHead(() => Effect.succeed([]), Effect.succeed(Position.make(0n, 9n)))
 * // scan(Position.start, 100) succeeds with { events: [], scannedTo: 0/9 }
 * ```
 * @since 0.7.0
 * @category subscriptions
 */
export const scanUpToHead = (readBatch: ReadBatch, head: Effect.Effect<Position.Position, StoreError>): ScanBatch =>
  Feed.scanUpToHead(readBatch, head)

/**
 * {@link followFeed} for readers that checkpoint: it emits batches of
 * {@link ScannedBatch}, resumes after each batch's `scannedTo` (not after its
 * last matching event), and, when a read finds no matching event but the
 * scan moved past the last event it delivered, emits an empty batch with the
 * scanned-up-to position, once per wake-up or poll, so that an idle reader
 * can record how far it got.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Position } from "@chronicle/core"
 * import * as Backend from "@chronicle/core/Backend"
 *
 * const feed = Backend.followScanned((from) => Effect.succeed({ events: [], scannedTo: from }), {
 *   from: Position.start,
 *   batchSize: 500,
 *   pollInterval: "1 second",
 *   wakeups: Stream.never
 * })
 * ```
 * @since 0.7.0
 * @category subscriptions
 */
export const followScanned = (scan: ScanBatch, options: FollowOptions): Stream.Stream<ScannedBatch, StoreError> =>
  Feed.followScanned(scan, options)
