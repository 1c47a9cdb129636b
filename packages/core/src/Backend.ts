/**
 * Building blocks for `EventStore` implementations, shared by the in-memory
 * store and `@chronicle/sql-store` so that every backend validates appends,
 * applies idempotency and follows live events the same way.
 *
 * Application code does not need this module.
 *
 * @since 0.1.0
 */
import { Chunk, type DateTime, Duration, Effect, Option, Queue, Stream } from "effect"
import type { EventData, EventMetadata, StoredEvent } from "./Event.js"
import {
  type AppendOptions,
  type AppendResult,
  type EventFilter,
  InvalidAppendError,
  type StoreError
} from "./EventStore.js"
import type * as Position from "./Position.js"
import * as StreamId from "./StreamId.js"

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * An append batch whose payloads have been serialised to JSON text.
 *
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
 * JSON-serialisable payload. Returns the events with their JSON text.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Backend, StreamId } from "@chronicle/core"
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
      if (!uuidPattern.test(event.eventId)) {
        return invalid(`event ${index}: event id "${event.eventId}" is not a UUID`)
      }
      const id = event.eventId.toLowerCase()
      if (seen.has(id)) return invalid(`event ${index}: event id ${id} appears twice in one append`)
      seen.add(id)
      if (event.type.length === 0) return invalid(`event ${index}: the event type is empty`)
      if (!Number.isInteger(event.schemaVersion) || event.schemaVersion < 1) {
        return invalid(
          `event ${index} (${event.type}): schema version ${event.schemaVersion} is not a positive integer`
        )
      }
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
 * import { Backend } from "@chronicle/core"
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
 * A stored event, as found when looking up an append's event ids.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExistingEvent {
  readonly eventId: string
  readonly streamId: string
  readonly version: number
  readonly position: Position.Position
  readonly recordedAt: DateTime.Utc
}

/**
 * Decides what an append whose event ids were looked up must do:
 * - none stored yet: `Option.none()`, go ahead and write;
 * - all stored, in this stream, as one contiguous run in the same order: the
 *   first append's result, marked `duplicate`, and nothing is written;
 * - anything else (some stored, or stored elsewhere): an `InvalidAppendError`,
 *   since the ids were already used for other events.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Backend, StreamId } from "@chronicle/core"
 *
 * Backend.idempotentResult(StreamId.forAggregate("A", "1"), ["6f1c1a4e-8a0e-4a57-9d1a-9b8ad2b6c001"], [])
 * ```
 * @since 0.1.0
 * @category idempotency
 */
export const idempotentResult = (
  streamId: StreamId.StreamId,
  eventIds: ReadonlyArray<string>,
  existing: ReadonlyArray<ExistingEvent>
): Effect.Effect<Option.Option<AppendResult>, InvalidAppendError> => {
  if (existing.length === 0) return Effect.succeed(Option.none())
  const byId = new Map(existing.map((e) => [e.eventId.toLowerCase(), e]))
  const found = eventIds.map((id) => byId.get(id.toLowerCase()))
  const first = found[0]
  const sameRun =
    first !== undefined &&
    found.every((e, i) => e !== undefined && e.streamId === streamId && e.version === first.version + i)
  if (!sameRun) {
    const used = existing.map((e) => `${e.eventId} (${e.streamId}@${e.version})`).join(", ")
    return Effect.fail(new InvalidAppendError({ streamId, reason: `event ids already used by other events: ${used}` }))
  }
  const positions = found.flatMap((e) => (e === undefined ? [] : [e.position]))
  return Effect.succeed(
    Option.some({
      streamId,
      nextExpectedVersion: first.version + eventIds.length - 1,
      positions,
      recordedAt: first.recordedAt,
      duplicate: true
    })
  )
}

/**
 * Freezes a JSON value deeply, so that an event handed out by a store cannot
 * be changed by its reader.
 *
 * @example
 * ```ts
 * import { Backend } from "@chronicle/core"
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
 * import { Backend } from "@chronicle/core"
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
 * import { Backend, Position } from "@chronicle/core"
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
 * The catch-up-then-live loop every backend's `subscribe` uses. It reads
 * batches after its last delivered position; when a batch is empty it waits
 * for a wake-up (a hint that something was appended) or for `pollInterval`,
 * then reads again. Because it always resumes from the stored position, a
 * lost, early or repeated wake-up cannot make it skip or repeat an event.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Backend, Position } from "@chronicle/core"
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
export const followFeed = (
  readBatch: ReadBatch,
  options: {
    readonly from: Position.Position
    readonly batchSize: number
    readonly pollInterval: Duration.DurationInput
    readonly wakeups: Stream.Stream<unknown, StoreError>
  }
): Stream.Stream<StoredEvent, StoreError> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const signal = yield* Queue.sliding<void>(1)
      // Wake-ups are only hints: if their source fails, polling carries on.
      yield* options.wakeups.pipe(
        Stream.runForEach(() => Queue.offer(signal, undefined)),
        Effect.catchAllCause((cause) => Effect.logDebug("subscription wake-ups stopped; polling only", cause)),
        Effect.forkScoped
      )
      const poll = Duration.decode(options.pollInterval)
      const waitForWakeup = Queue.take(signal).pipe(Effect.timeoutOption(poll), Effect.asVoid)
      const nextBatch = (from: Position.Position): Effect.Effect<ReadonlyArray<StoredEvent>, StoreError> =>
        Effect.flatMap(readBatch(from, options.batchSize), (batch) =>
          batch.length > 0 ? Effect.succeed(batch) : Effect.zipRight(waitForWakeup, nextBatch(from))
        )
      return Stream.paginateChunkEffect(options.from, (from) =>
        Effect.map(nextBatch(from), (batch) => {
          const last = batch[batch.length - 1]
          return [Chunk.unsafeFromArray(batch), Option.some(last === undefined ? from : last.position)] as const
        })
      )
    })
  )
