/**
 * The implementation of `EventStore.make`: an `EventStore` built from a
 * minimal `EventStore.Implementation`, with the operations it lacks derived
 * from those it has.
 *
 * @internal
 */
import { Chunk, Effect, Option, PubSub, Stream } from "effect"
import * as Backend from "../../Backend.js"
import type { EventFilter, Implementation, SubscribeOptions } from "../../EventStore.js"
import { EventStore } from "../../EventStore.js"
import * as FeedStatus from "../../FeedStatus.js"
import * as Position from "../../Position.js"

/** @internal */
export const make = (implementation: Implementation): Effect.Effect<EventStore["Type"]> =>
  Effect.map(PubSub.sliding<void>(1), (appended) => {
    const readEvents: EventStore["Type"]["readEvents"] =
      implementation.readEvents ??
      ((streamId, options) =>
        Effect.map(Stream.runCollect(read(streamId, options)), (chunk) => Chunk.toReadonlyArray(chunk)))
    const read: EventStore["Type"]["read"] =
      implementation.read ??
      ((streamId, options) => Stream.flatMap(Stream.fromEffect(readEvents(streamId, options)), Stream.fromIterable))
    const readBatch =
      (filter: EventFilter): Backend.ReadBatch =>
      (from, limit) =>
        Effect.map(
          Stream.runCollect(
            implementation.readAll({ categories: filter.categories, types: filter.types, from, limit })
          ),
          (chunk) => Chunk.toReadonlyArray(chunk)
        )
    const subscribeOptions = (options: SubscribeOptions | undefined) => ({
      from: options?.from ?? Position.start,
      batchSize: options?.batchSize ?? 500,
      pollInterval: options?.pollInterval ?? "1 second",
      wakeups: Stream.fromPubSub(appended)
    })
    const head = implementation.head
    // scanned-up-to positions need a gap-safe head; without one, or over a
    // custom subscribe, a batch reports its last event only
    const subscribeScanned: EventStore["Type"]["subscribeScanned"] =
      implementation.subscribeScanned ??
      (implementation.subscribe === undefined && head !== undefined
        ? (options) =>
            Backend.followScanned(Backend.scanUpToHead(readBatch(options ?? {}), head), subscribeOptions(options))
        : undefined)
    return EventStore.of({
      ...(subscribeScanned === undefined ? {} : { subscribeScanned }),
      ...(implementation.count === undefined ? {} : { count: implementation.count }),
      append: (streamId, events, options) =>
        Effect.tap(implementation.append(streamId, events, options), (result) =>
          result.duplicate ? Effect.void : PubSub.publish(appended, undefined)
        ),
      read,
      readEvents,
      readAll: implementation.readAll,
      subscribe:
        implementation.subscribe ??
        ((options) => Backend.followFeed(readBatch(options ?? {}), subscribeOptions(options))),
      streamVersion:
        implementation.streamVersion ??
        ((streamId) =>
          Effect.map(readEvents(streamId, { direction: "backward", limit: 1 }), (last) => last[0]?.version ?? 0)),
      head:
        implementation.head ??
        Effect.map(Stream.runLast(implementation.readAll()), (last) =>
          Option.match(last, { onNone: () => Position.start, onSome: (event) => event.position })
        ),
      feedStatus: implementation.feedStatus ?? Effect.succeed(FeedStatus.current)
    })
  })
