/**
 * Loading a stream: from where the snapshot (if any) starts, read the events
 * and fold them into the state in one synchronous loop per read, with no
 * per-event Effect or Stream machinery on the hot path of every command.
 *
 * @internal
 */
import { Chunk, DateTime, Effect, Either, Option, Stream } from "effect"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type { ReadStreamOptions } from "../../EventStore.js"
import * as PositionModule from "../../Position.js"
import type { StoreError } from "../../StoreError.js"
import type { StreamId } from "../../StreamId.js"
import type { Target } from "../../TimeTravel.js"
import type { Context, Loaded } from "./context.js"
import { boundsOf, initial, snapshotMismatch, startFrom } from "./snapshotStart.js"

/** Whether an event lies at or before a temporal target. @internal */
export const withinTarget = (target: Target | undefined): ((event: StoredEvent) => boolean) => {
  if (target === undefined || "version" in target) return () => true
  if ("position" in target) return (event) => PositionModule.isAtOrAfter(target.position, event.position)
  const at = DateTime.toEpochMillis(target.at)
  return (event) => event.recordedAt.epochMillis <= at
}

/**
 * Folds stored events (from index `skip` on, up to the first one out of
 * range) into a loaded state.
 *
 * @internal
 */
export const foldStored = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  from: Loaded<S, E>,
  events: ReadonlyArray<StoredEvent>,
  inRange: (event: StoredEvent) => boolean,
  commandId: string | undefined,
  skip = 0
): Either.Either<Loaded<S, E>, EventDecodeError> => {
  const { codec, evolve } = context.model
  let state = from.state
  let version = from.version
  let position = from.position
  let byCommand = from.byCommand
  for (let i = skip; i < events.length; i++) {
    const stored = events[i]
    if (stored === undefined || !inRange(stored)) break
    const decoded = codec.decode(stored)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    const recorded = decoded.right
    state = evolve(state, recorded.event)
    version = recorded.version
    position = Option.some(recorded.position)
    if (commandId !== undefined && recorded.metadata.causationId === commandId) {
      byCommand = [...byCommand, recorded]
    }
  }
  return Either.right({ state, version, position, byCommand, snapshotVersion: from.snapshotVersion })
}

/**
 * Reads a stream from version `from` (up to `to`) in pages of
 * `context.pageSize` events, folding each page as it arrives, so that a long
 * stream never sits in memory whole. Stops at the end of the stream, at
 * `to`, or at the first event out of range (a temporal query's target):
 * nothing after it is read. `firstPage`, when given, is the page at `from`
 * already read; its first `skip` events are not folded.
 */
const foldPages = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  streamId: StreamId,
  start: Loaded<S, E>,
  from: number,
  to: number | undefined,
  inRange: (event: StoredEvent) => boolean,
  commandId: string | undefined,
  firstPage?: { readonly events: ReadonlyArray<StoredEvent>; readonly skip: number }
): Effect.Effect<Loaded<S, E>, StoreError | EventDecodeError> =>
  Effect.gen(function* () {
    const limit = context.pageSize
    let loaded = start
    let page = firstPage
    let next = from
    for (;;) {
      if (to !== undefined && next > to) return loaded
      const { events, skip } = page ?? {
        events: yield* context.store.readEvents(streamId, { from: next, to, limit }),
        skip: 0
      }
      page = undefined
      loaded = yield* foldStored(context, loaded, events, inRange, commandId, skip)
      const last = events[events.length - 1]
      // A short page is the end of the stream; a fold that stopped before the
      // page's last event met the target.
      if (last === undefined || events.length < limit || loaded.version < last.version) return loaded
      next = last.version + 1
    }
  })

/** Loads a stream (up to a target), from its newest usable snapshot on. @internal */
export const loadStream = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  streamId: StreamId,
  commandId: string | undefined,
  target?: Target
): Effect.Effect<Loaded<S, E>, StoreError | EventDecodeError> =>
  Effect.gen(function* () {
    const bounds = boundsOf(target)
    const inRange = withinTarget(target)
    const to = bounds?.maxVersion
    const start = yield* startFrom(context, streamId, bounds)
    if (start.version > 0) {
      // Read from the snapshot's own event on: the snapshot is used only if
      // that event exists and has the snapshot's position (a snapshot of
      // another stream's past, or a stale or tampered row, does not match).
      const events = yield* context.store.readEvents(streamId, { from: start.version, to, limit: context.pageSize })
      const mismatch = snapshotMismatch(start, events[0])
      if (mismatch === undefined) {
        return yield* foldPages(
          context,
          streamId,
          { ...start, byCommand: [], snapshotVersion: start.version },
          start.version,
          to,
          inRange,
          commandId,
          { events, skip: 1 }
        )
      }
      yield* Effect.logWarning(`ignoring snapshot of ${streamId}@${start.version}: ${mismatch}`)
    }
    return yield* foldPages(
      context,
      streamId,
      { ...initial(context.model.initialState), byCommand: [], snapshotVersion: 0 },
      1,
      to,
      inRange,
      commandId
    )
  })

/** Brings a loaded state up to date: reads only the events after its version. @internal */
export const loadNewer = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  streamId: StreamId,
  commandId: string,
  previous: Loaded<S, E>
): Effect.Effect<Loaded<S, E>, StoreError | EventDecodeError> =>
  foldPages(context, streamId, previous, previous.version + 1, undefined, () => true, commandId)

/** A stream's events, decoded. @internal */
export const decoded = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  streamId: StreamId,
  options?: ReadStreamOptions
): Stream.Stream<RecordedEvent<E>, StoreError | EventDecodeError> =>
  context.store.read(streamId, options).pipe(
    Stream.mapChunksEffect((chunk) =>
      Effect.map(
        Effect.forEach(chunk, (stored) => context.model.codec.decode(stored)),
        Chunk.unsafeFromArray
      )
    )
  )
