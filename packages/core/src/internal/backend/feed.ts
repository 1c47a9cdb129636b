/**
 * The catch-up-then-live loops behind `Backend.followFeed` and
 * `Backend.followScanned`, and `Backend.scanUpToHead`.
 *
 * @internal
 */
import { Chunk, Duration, Effect, Option, Queue, type Scope, Stream } from "effect"
import type { FollowOptions, ReadBatch, ScanBatch, ScannedBatch } from "../../Backend.js"
import type { StoredEvent } from "../../Event.js"
import * as Position from "../../Position.js"
import type { StoreError } from "../../StoreError.js"

/**
 * Waits for the next wake-up, or for the poll interval. Wake-ups are only
 * hints: if their source fails, polling carries on.
 */
const wakeupWaiter = (options: FollowOptions): Effect.Effect<Effect.Effect<void>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const signal = yield* Queue.sliding<void>(1)
    yield* options.wakeups.pipe(
      Stream.runForEach(() => Queue.offer(signal, undefined)),
      Effect.catchAllCause((cause) => Effect.logDebug("subscription wake-ups stopped; polling only", cause)),
      Effect.forkScoped
    )
    const poll = Duration.decode(options.pollInterval)
    return Queue.take(signal).pipe(Effect.timeoutOption(poll), Effect.asVoid)
  })

/** @internal */
export const followFeed = (readBatch: ReadBatch, options: FollowOptions): Stream.Stream<StoredEvent, StoreError> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const waitForWakeup = yield* wakeupWaiter(options)
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

/** @internal */
export const scanUpToHead =
  (readBatch: ReadBatch, head: Effect.Effect<Position.Position, StoreError>): ScanBatch =>
  (from, limit) =>
    Effect.gen(function* () {
      const seen = yield* head
      const events = yield* readBatch(from, limit)
      const last = events[events.length - 1]
      const scannedTo =
        last !== undefined && events.length >= limit
          ? last.position
          : Position.max(Position.max(from, seen), last?.position ?? from)
      return { events, scannedTo }
    })

/** @internal */
export const followScanned = (scan: ScanBatch, options: FollowOptions): Stream.Stream<ScannedBatch, StoreError> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const waitForWakeup = yield* wakeupWaiter(options)
      interface Cursor {
        /** where the next read starts */
        readonly from: Position.Position
        /** the last event delivered (or the start) */
        readonly delivered: Position.Position
        /** whether the last read found nothing, so the next one waits for a wake-up first */
        readonly idle: boolean
      }
      const next = (cursor: Cursor): Effect.Effect<readonly [ScannedBatch, Cursor], StoreError> =>
        Effect.flatMap(scan(cursor.from, options.batchSize), (batch) => {
          const from = Position.max(cursor.from, batch.scannedTo)
          const last = batch.events[batch.events.length - 1]
          if (last !== undefined)
            return Effect.succeed([batch, { from, delivered: last.position, idle: false }] as const)
          if (Position.isAfter(from, cursor.delivered)) {
            return Effect.succeed([
              { events: [], scannedTo: from },
              { ...cursor, from, idle: true }
            ] as const)
          }
          return Effect.zipRight(waitForWakeup, next({ ...cursor, from }))
        })
      return Stream.paginateChunkEffect<Cursor, ScannedBatch, StoreError, never>(
        { from: options.from, delivered: options.from, idle: false },
        (cursor) =>
          Effect.map(cursor.idle ? Effect.zipRight(waitForWakeup, next(cursor)) : next(cursor), ([batch, after]) => [
            Chunk.of(batch),
            Option.some(after)
          ])
      )
    })
  )
