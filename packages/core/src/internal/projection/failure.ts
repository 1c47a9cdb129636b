/**
 * How a projection runner tells failures apart:
 *
 * - a lost lease stops processing (another instance takes over);
 * - bad data (an `EventDecodeError`, or a handler error the projection's
 *   `isBadData` accepts) follows the park/stop policy;
 * - a defect (a bug in a handler) stops the projection at the event;
 * - everything else is a passing fault (a lost connection, a deadlock, a
 *   serialization failure, a statement or lock timeout): retried without
 *   end, with a capped exponential backoff, and never skips the event.
 *
 * @internal
 */
import { Duration, Schedule } from "effect"
import { EventDecodeError } from "../../Event.js"
import { LeaseLostError } from "../../ProjectionStore.js"
import { StoreError } from "../../StoreError.js"

/** A defect raised by a handler, carried in the error channel to the policy. @internal */
export class HandlerDefect {
  readonly _tag = "HandlerDefect"
  constructor(readonly defect: unknown) {}
}

/** @internal */
export type Verdict = "lease-lost" | "bad-data" | "transient" | "defect"

/** @internal */
export const classify = <Err>(
  error: Err | EventDecodeError | StoreError | LeaseLostError | HandlerDefect,
  isBadData: (error: Err) => boolean
): Verdict => {
  if (error instanceof LeaseLostError) return "lease-lost"
  if (error instanceof HandlerDefect) return "defect"
  if (error instanceof EventDecodeError) return "bad-data"
  if (error instanceof StoreError) return "transient"
  try {
    return isBadData(error) ? "bad-data" : "transient"
  } catch {
    // a predicate that throws cannot vouch for bad data: never skip on it
    return "transient"
  }
}

/** The default cap of the backoff after a passing fault. @internal */
export const defaultMaxBackoff: Duration.Duration = Duration.seconds(2)

/**
 * Exponential from 50 ms (or `max` when smaller), doubling, capped at `max`,
 * jittered, without end.
 *
 * @internal
 */
export const backoff = (max: Duration.Duration): Schedule.Schedule<Duration.Duration> =>
  Schedule.exponential(Duration.min(Duration.millis(50), max), 2).pipe(
    Schedule.union(Schedule.spaced(max)),
    Schedule.map(([delay]) => delay),
    Schedule.jittered
  )
