/**
 * The in-memory `EventStore` behind `EventStore.makeMemory` and
 * `EventStore.layerMemory`: for tests, property tests and examples. It keeps
 * the same contract as the SQL stores (the conformance suite proves it) and
 * loses everything when its layer is released.
 *
 * @internal
 */
import { type Context, DateTime, Effect, Option, PubSub, Stream } from "effect"
import type { AppendHook, AppendOptions, AppendResult } from "../../Append.js"
import { ConcurrencyError, type InvalidAppendError } from "../../AppendError.js"
import * as Backend from "../../Backend.js"
import type { EventMetadata, StoredEvent } from "../../Event.js"
import { type EventFilter, EventStore, type MemoryOptions } from "../../EventStore.js"
import * as ExpectedVersion from "../../ExpectedVersion.js"
import * as FeedStatus from "../../FeedStatus.js"
import * as Metrics from "../../Metrics.js"
import * as Position from "../../Position.js"
import type { StoreError } from "../../StoreError.js"
import type * as StreamId from "../../StreamId.js"

/** A hook whose requirements are provided from `context`. @internal */
export const withContext = <R>(hook: AppendHook<R>, context: Context.Context<R>): AppendHook => ({
  names: hook.names,
  setup: Effect.provide(hook.setup, context),
  apply: (events) => Effect.provide(hook.apply(events), context)
})

const defaultBatchSize = 500

/** An in-memory `EventStore`; its append hook's setup runs first. @internal */
export const make = <R = never>(options?: MemoryOptions<R>): Effect.Effect<EventStore["Type"], StoreError, R> =>
  Effect.gen(function* () {
    // The log only grows, and every append runs in one synchronous step, so
    // readers never see half an append.
    const all: Array<StoredEvent> = []
    const streams = new Map<string, Array<StoredEvent>>()
    const byId = new Map<string, StoredEvent>()
    const appended = yield* PubSub.unbounded<void>()
    const context = yield* Effect.context<R>()
    const hook = options?.onAppend
    // the hook's setup (an inline projection's tables, say) runs before the store is usable
    if (hook !== undefined) yield* Effect.provide(hook.setup, context)
    const inline = hook === undefined ? Option.none<AppendHook>() : Option.some(withContext(hook, context))
    // With inline projections an append is no longer one synchronous step (the
    // handlers are effects), so appends take turns.
    const oneAtATime = yield* Effect.makeSemaphore(1)

    const append: EventStore["Type"]["append"] = (streamId, events, options) =>
      Effect.gen(function* () {
        const prepared = yield* Backend.prepareAppend(streamId, events)
        const { metadata } = yield* Backend.prepareMetadata(streamId, prepared[0]?.eventId ?? "", options)
        const recordedAt = yield* DateTime.now
        const result = yield* Option.match(inline, {
          // Check and write in one synchronous step: no other fiber can run between them.
          onNone: () => Effect.suspend(() => write(streamId, prepared, metadata, options, recordedAt, Option.none())),
          onSome: (projections) =>
            oneAtATime.withPermits(1)(
              Effect.suspend(() => write(streamId, prepared, metadata, options, recordedAt, Option.some(projections)))
            )
        })
        if (!result.duplicate) yield* PubSub.publish(appended, undefined)
        return result
      }).pipe(Metrics.trackAppend)

    const write = (
      streamId: StreamId.StreamId,
      prepared: ReadonlyArray<Backend.PreparedEvent>,
      resolved: EventMetadata,
      options: AppendOptions | undefined,
      recordedAt: DateTime.Utc,
      inlineProjections: Option.Option<AppendHook>
    ): Effect.Effect<AppendResult, ConcurrencyError | InvalidAppendError | StoreError> => {
      const existing = prepared.flatMap((e) => {
        const found = byId.get(e.eventId)
        return found === undefined ? [] : [found]
      })
      if (existing.length > 0) {
        return Effect.flatMap(Backend.idempotentResult(streamId, prepared, existing), (duplicate) =>
          Option.isSome(duplicate)
            ? Effect.succeed(duplicate.value)
            : Effect.dieMessage("idempotency check found stored ids but no result")
        )
      }
      const expected = options?.expectedVersion ?? ExpectedVersion.Any
      const stream = streams.get(streamId) ?? []
      if (!ExpectedVersion.isSatisfiedBy(expected, stream.length)) {
        return Effect.fail(
          new ConcurrencyError({ streamId, expected: ExpectedVersion.format(expected), actual: stream.length })
        )
      }
      // stored as the SQL stores store it: through JSON
      const metadata: EventMetadata = Backend.deepFreeze(JSON.parse(JSON.stringify(resolved)))
      const stored = prepared.map(
        (event, i): StoredEvent =>
          Object.freeze({
            eventId: event.eventId,
            streamId,
            version: stream.length + i + 1,
            position: Position.make(0n, BigInt(all.length + i + 1)),
            type: event.type,
            schemaVersion: event.schemaVersion,
            data: Backend.deepFreeze(JSON.parse(event.json)),
            metadata,
            recordedAt
          })
      )
      const commit = (): AppendResult => {
        for (const event of stored) {
          all.push(event)
          stream.push(event)
          byId.set(event.eventId, event)
        }
        streams.set(streamId, stream)
        return {
          streamId,
          nextExpectedVersion: stream.length,
          positions: stored.map((e) => e.position),
          recordedAt,
          duplicate: false
        }
      }
      return Option.match(inlineProjections, {
        // committed right here, in the same synchronous step as the checks above
        onNone: () => Effect.succeed(commit()),
        // appends take turns (see oneAtATime), so the handlers may run in between
        onSome: (projections) => Effect.zipRight(projections.apply(stored), Effect.sync(commit))
      })
    }

    const readEvents: EventStore["Type"]["readEvents"] = (streamId, options) =>
      Effect.sync(() => {
        const events = streams.get(streamId) ?? []
        const from = options?.from ?? 1
        const to = options?.to ?? Number.POSITIVE_INFINITY
        const inRange = events.filter((e) => e.version >= from && e.version <= to)
        const ordered = options?.direction === "backward" ? inRange.reverse() : inRange
        return options?.limit === undefined ? ordered : ordered.slice(0, Math.max(0, options.limit))
      })

    const read: EventStore["Type"]["read"] = (streamId, options) =>
      Stream.flatMap(Stream.fromEffect(readEvents(streamId, options)), Stream.fromIterable)

    const readBatch =
      (filter: EventFilter): Backend.ReadBatch =>
      (from, limit) =>
        Effect.sync(() => {
          const keep = Backend.matches(filter)
          const out: Array<StoredEvent> = []
          for (let i = Number(from.sequence); i < all.length && out.length < limit; i++) {
            const event = all[i]
            if (event !== undefined && keep(event)) out.push(event)
          }
          return out
        })

    // examines every event after `from`, so it knows exactly how far it looked
    const scanBatch =
      (filter: EventFilter): Backend.ScanBatch =>
      (from, limit) =>
        Effect.sync(() => {
          const keep = Backend.matches(filter)
          const events: Array<StoredEvent> = []
          let scannedTo = from
          for (let i = Number(from.sequence); i < all.length && events.length < limit; i++) {
            const event = all[i]
            if (event === undefined) continue
            scannedTo = event.position
            if (keep(event)) events.push(event)
          }
          return { events, scannedTo }
        })

    return EventStore.of({
      append,
      read,
      readEvents,
      readAll: (options) =>
        Backend.readAllBatched(readBatch(options ?? {}), {
          from: options?.from ?? Position.start,
          batchSize: options?.batchSize ?? defaultBatchSize,
          limit: options?.limit
        }),
      subscribe: (options) =>
        Backend.followFeed(readBatch(options ?? {}), {
          from: options?.from ?? Position.start,
          batchSize: options?.batchSize ?? defaultBatchSize,
          pollInterval: options?.pollInterval ?? "1 second",
          wakeups: Stream.fromPubSub(appended)
        }),
      subscribeScanned: (options) =>
        Backend.followScanned(scanBatch(options ?? {}), {
          from: options?.from ?? Position.start,
          batchSize: options?.batchSize ?? defaultBatchSize,
          pollInterval: options?.pollInterval ?? "1 second",
          wakeups: Stream.fromPubSub(appended)
        }),
      count: (options) =>
        Effect.sync(() => {
          const keep = Backend.matches(options)
          const limit = options.limit ?? Number.POSITIVE_INFINITY
          const upTo = options.upTo
          let n = 0
          for (let i = Number((options.from ?? Position.start).sequence); i < all.length && n < limit; i++) {
            const event = all[i]
            if (event === undefined) continue
            if (upTo !== undefined && Position.isAfter(event.position, upTo)) break
            if (keep(event)) n++
          }
          return n
        }),
      streamVersion: (streamId) => Effect.sync(() => streams.get(streamId)?.length ?? 0),
      head: Effect.sync(() => all[all.length - 1]?.position ?? Position.start),
      // every committed event is readable at once: nothing can hold the feed back
      feedStatus: Effect.succeed(FeedStatus.current)
    })
  })
