/**
 * Reading an instance: its current state (through the cache), its state at
 * a point in the past, its history with the state after each event, and its
 * events.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { RecordedEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type { LoadError, LoadResult } from "../../Repository.js"
import { type HistoryEntry, type Target, TemporalQueryError } from "../../TimeTravel.js"
import type { Context } from "./context.js"
import { decoded, loadNewer, loadStream } from "./fold.js"
import { initial } from "./snapshotStart.js"
import type { StateCache } from "./stateCache.js"
import { streamIdOf } from "./validation.js"

/** @internal */
export const load = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  cache: StateCache<S, E>
): ((id: string) => Effect.Effect<LoadResult<S>, LoadError>) =>
  Effect.fn("Chronicle.Repository.load")(function* (id: string) {
    const streamId = yield* streamIdOf(context.model.name, id)
    const hit = cache.recall(streamId)
    const loaded =
      hit === undefined
        ? yield* loadStream(context, streamId, undefined)
        : yield* loadNewer(context, streamId, "", hit.loaded)
    if (hit !== undefined) cache.remember(streamId, loaded, undefined)
    return { state: loaded.state, version: loaded.version, position: loaded.position }
  })

/** @internal */
export const loadAt = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>
): ((id: string, target: Target) => Effect.Effect<LoadResult<S>, LoadError | TemporalQueryError>) =>
  Effect.fn("Chronicle.Repository.loadAt")(function* (id: string, target: Target) {
    const aggregate = context.model.name
    const streamId = yield* streamIdOf(aggregate, id)
    const invalid = (reason: string) => new TemporalQueryError({ aggregate, id, reason })
    if ("version" in target && (!Number.isInteger(target.version) || target.version < 0)) {
      return yield* invalid(`version ${target.version} is not a non-negative integer`)
    }
    const { state, version, position } = yield* loadStream(context, streamId, undefined, target)
    if ("version" in target && version < target.version) {
      return yield* invalid(`version ${target.version} is past the end of the stream (${version} events)`)
    }
    return { state, version, position }
  })

/** @internal */
export const history =
  <S, E extends EventCodec.Tagged, C, Err>(context: Context<S, E, C, Err>) =>
  (id: string, options?: { readonly fromVersion?: number | undefined }): Stream.Stream<HistoryEntry<S, E>, LoadError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const streamId = yield* streamIdOf(context.model.name, id)
        const fromVersion = Math.max(1, options?.fromVersion ?? 1)
        const before =
          fromVersion > 1
            ? yield* loadStream(context, streamId, undefined, { version: fromVersion - 1 })
            : initial(context.model.initialState)
        return decoded(context, streamId, { from: before.version + 1 }).pipe(
          Stream.mapAccum(before.state, (state, recorded) => {
            const stateAfter = context.model.evolve(state, recorded.event)
            return [stateAfter, { ...recorded, stateAfter }] as const
          })
        )
      })
    )

/** @internal */
export const events =
  <S, E extends EventCodec.Tagged, C, Err>(context: Context<S, E, C, Err>) =>
  (id: string): Stream.Stream<RecordedEvent<E>, LoadError> =>
    Stream.unwrap(Effect.map(streamIdOf(context.model.name, id), (streamId) => decoded(context, streamId)))
