/**
 * Where a load starts: the newest usable snapshot within the bounds of the
 * query, or the aggregate's initial state. Anything wrong with a snapshot is
 * logged and the state is rebuilt from events instead.
 *
 * @internal
 */
import { DateTime, Effect, Either, Option } from "effect"
import type { StoredEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type { Position } from "../../Position.js"
import * as PositionModule from "../../Position.js"
import type * as SnapshotStore from "../../SnapshotStore.js"
import type { StreamId } from "../../StreamId.js"
import type { Target } from "../../TimeTravel.js"
import type { Context, Start } from "./context.js"

/** @internal */
export const initial = <S>(initialState: S): Start<S> => ({
  state: initialState,
  version: 0,
  position: Option.none()
})

/** The snapshot bounds of a temporal target. @internal */
export const boundsOf = (target: Target | undefined): SnapshotStore.Bounds | undefined => {
  if (target === undefined) return undefined
  if ("version" in target) return { maxVersion: target.version }
  if ("position" in target) return { maxPosition: target.position }
  return { maxRecordedAt: DateTime.toUtc(target.at) }
}

/** @internal */
export const startFrom = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  streamId: StreamId,
  bounds: SnapshotStore.Bounds | undefined
): Effect.Effect<Start<S>> => {
  const start = initial(context.model.initialState)
  const { snapshotStore } = context
  const stateCodec = context.model.state
  if (Option.isNone(snapshotStore) || Option.isNone(stateCodec)) return Effect.succeed(start)
  const codec = stateCodec.value
  return snapshotStore.value.load(streamId, bounds).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.succeed(start),
        onSome: (snapshot) => {
          if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 1) {
            return Effect.as(
              Effect.logWarning(
                `ignoring snapshot of ${streamId}@${snapshot.version}: its version is not a stream version`
              ),
              start
            )
          }
          if (snapshot.stateVersion !== codec.version) {
            return Effect.as(
              Effect.logWarning(
                `ignoring snapshot of ${streamId}@${snapshot.version}: state version ${snapshot.stateVersion}, expected ${codec.version}`
              ),
              start
            )
          }
          return Either.match(codec.decode(snapshot.state), {
            onLeft: (reason) =>
              Effect.as(Effect.logWarning(`ignoring snapshot of ${streamId}@${snapshot.version}: ${reason}`), start),
            onRight: (state) =>
              Effect.succeed({ state, version: snapshot.version, position: Option.some(snapshot.position) })
          })
        }
      })
    ),
    Effect.catchAll((error) =>
      Effect.as(Effect.logWarning(`snapshot of ${streamId} not loaded: ${error.message}`), start)
    )
  )
}

/**
 * Why a snapshot does not belong to its stream, given the stream's event at
 * the snapshot's version; `undefined` when it does.
 *
 * @internal
 */
export const snapshotMismatch = (
  snapshot: { readonly version: number; readonly position: Option.Option<Position> },
  event: StoredEvent | undefined
): string | undefined => {
  if (event === undefined) return `the stream has fewer than ${snapshot.version} events`
  if (event.version !== snapshot.version) return `the stream has no event at version ${snapshot.version}`
  if (Option.isNone(snapshot.position)) return "it has no position"
  return PositionModule.Order(event.position, snapshot.position.value) === 0
    ? undefined
    : `the event at version ${snapshot.version} is at position ${event.position}, the snapshot says ${snapshot.position.value}`
}
