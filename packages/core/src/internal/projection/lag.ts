/**
 * A projection's lag: the events it still has to process, counted (not a
 * difference of positions, which on PostgreSQL is not the feed's order and
 * counts events the projection does not read). The count stops at a limit;
 * beyond it, the lag is a lower bound and says so.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { EventFilter, EventStore } from "../../EventStore.js"
import * as Position from "../../Position.js"
import type { StoreError } from "../../StoreError.js"

/** @internal */
export interface Lag {
  /** Events still to process; at least this many when `exact` is false. */
  readonly count: number
  readonly exact: boolean
}

/** The default limit of a count. @internal */
export const defaultLimit = 10_000

/**
 * Counts the events `filter` selects after `from` (up to `upTo` when given,
 * else up to what readers can see now), stopping after `limit`.
 *
 * @internal
 */
export const count = (
  store: EventStore["Type"],
  filter: EventFilter,
  from: Position.Position,
  options: { readonly upTo?: Position.Position | undefined; readonly limit: number }
): Effect.Effect<Lag, StoreError> => {
  const limit = Math.max(0, Math.floor(options.limit))
  const upTo = options.upTo
  const exactly = (n: number): Lag => (n > limit ? { count: limit, exact: false } : { count: n, exact: true })
  // A store that counts by itself reads no event: a catch-up's lag costs one
  // small query, not a read of up to `limit` events.
  if (store.count !== undefined) {
    return Effect.map(store.count({ ...filter, from, upTo, limit: limit + 1 }), exactly)
  }
  const events = store.readAll({ ...filter, from, limit: limit + 1, batchSize: Math.min(limit + 1, 1000) })
  const bounded =
    upTo === undefined ? events : events.pipe(Stream.takeWhile((e) => Position.isAtOrAfter(upTo, e.position)))
  return Effect.map(Stream.runCount(bounded), exactly)
}

/** Renders a lag: `42`, or `≥ 10000` when it is a lower bound. @internal */
export const render = (lag: Lag): string => (lag.exact ? `${lag.count}` : `≥ ${lag.count}`)
