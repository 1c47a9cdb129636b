/**
 * The repository's state cache: the loaded state of recently used streams,
 * with the ids of the last commands applied to each, so a repeated command
 * id is still recognised without reading the stream.
 *
 * @internal
 */
import type { StreamId } from "../../StreamId.js"
import * as LruCache from "../LruCache.js"
import type { Loaded } from "./context.js"

/** @internal */
export interface Cached<S, E> {
  readonly loaded: Loaded<S, E>
  readonly recentCommands: ReadonlyArray<string>
}

/** @internal */
export interface StateCache<S, E> {
  readonly recall: (streamId: StreamId) => Cached<S, E> | undefined
  readonly remember: (streamId: StreamId, loaded: Loaded<S, E>, commandId: string | undefined) => void
  readonly forget: (streamId: StreamId) => void
}

/** A cache of at most `capacity` streams; none when `capacity` is undefined. @internal */
export const make = <S, E>(capacity: number | undefined): StateCache<S, E> => {
  if (capacity === undefined) {
    return { recall: () => undefined, remember: () => {}, forget: () => {} }
  }
  const entries = LruCache.make<string, Cached<S, E>>(capacity)
  return {
    recall: (streamId) => entries.get(streamId),
    remember: (streamId, loaded, commandId) => {
      const existing = entries.peek(streamId)
      const previous = existing?.recentCommands ?? []
      entries.set(streamId, {
        // Concurrent commands may finish out of order: never go back to an older state.
        loaded:
          existing !== undefined && existing.loaded.version > loaded.version
            ? existing.loaded
            : { ...loaded, byCommand: [] },
        recentCommands: commandId === undefined ? previous : [...previous, commandId].slice(-32)
      })
    },
    forget: (streamId) => entries.delete(streamId)
  }
}
