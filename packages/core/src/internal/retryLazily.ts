/**
 * `Effect.retry` that costs nothing until the first failure.
 *
 * `Effect.retry` builds its schedule driver (and the fibers' bookkeeping
 * around it) on every run, even when the effect succeeds the first time,
 * which is what nearly every command does. This runs the effect once and
 * hands a failure to `Effect.retry` with the same options, replaying that
 * first failure as its first attempt: the schedule, the `while` predicate
 * and every later attempt see exactly what `Effect.retry(self, options)`
 * would have shown them.
 *
 * @internal
 */
import { Effect, type Schedule } from "effect"

/** The options of `Effect.retry` that the repository uses. @internal */
export interface RetryOptions<E, R> {
  readonly schedule: Schedule.Schedule<unknown, E, R>
  readonly while: (error: E) => Effect.Effect<boolean>
}

/** `Effect.retry(self, options)`, with no retry machinery on the path of a first success. @internal */
export const retryLazily = <A, E, R, R2>(
  self: Effect.Effect<A, E, R>,
  options: RetryOptions<E, R2>
): Effect.Effect<A, E, R | R2> =>
  Effect.catchAll(self, (first) => {
    let replayed = false
    const again = Effect.suspend(() => {
      if (replayed) return self
      replayed = true
      return Effect.fail(first)
    })
    return Effect.retry(again, options)
  })
