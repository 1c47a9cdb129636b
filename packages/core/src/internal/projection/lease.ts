/**
 * Holding a projection's lease while processing.
 *
 * - The lease is renewed every third of its time to live, and also by every
 *   checkpoint write (`saveCheckpoint` with the TTL), so a runner whose
 *   connection is busy with back-to-back batches (SQLite has one) keeps it.
 * - A renewal that fails on a store error is retried; only a definite "another
 *   owner holds it" is a loss. But a runner never processes on a lease that
 *   may have lapsed: once a full TTL has passed since the start of the last
 *   renewal that succeeded (local clock), the lease counts as lost, before
 *   anyone else can have taken it.
 * - `lost` fails with `LeaseLostError` as soon as the lease is lost: callers
 *   race their processing with it, so processing stops at once.
 *
 * @internal
 */
import { Clock, Deferred, Duration, Effect, Fiber, Ref, type Scope } from "effect"
import * as ProjectionStore from "../../ProjectionStore.js"
import type { StoreError } from "../../StoreError.js"
import { describeError } from "../describe.js"

/** @internal */
export interface HeldLease {
  /** Fails with `LeaseLostError` once the lease is lost; never succeeds. */
  readonly lost: Effect.Effect<never, ProjectionStore.LeaseLostError>
  /** Fails with `LeaseLostError` if the lease may have lapsed by now (checked before each batch). */
  readonly check: Effect.Effect<void, ProjectionStore.LeaseLostError>
  /** Records a renewal that took effect no earlier than `since` (epoch millis), such as a checkpoint write's. */
  readonly renewed: (since: number) => Effect.Effect<void>
  /**
   * Runs `effect` until it ends or the lease is lost. On a loss (or an
   * interruption) it interrupts `effect` and waits until it has stopped, so
   * that nothing it started outlives the lease (which the scope releases).
   */
  readonly guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ProjectionStore.LeaseLostError, R>
  readonly ttl: Duration.Duration
}

/**
 * Waits until the lease is ours, polling every third of its TTL; returns
 * the time (epoch millis) just before the successful request.
 *
 * @internal
 */
export const acquire = (
  key: ProjectionStore.Key,
  owner: string,
  ttl: Duration.Duration
): Effect.Effect<number, StoreError, ProjectionStore.ProjectionStore> =>
  Effect.flatMap(ProjectionStore.ProjectionStore, (projections) => {
    const attempt = Effect.flatMap(Clock.currentTimeMillis, (since) =>
      Effect.map(projections.acquireLease(key, owner, ttl), (held) => (held ? since : undefined))
    )
    const loop: Effect.Effect<number, StoreError> = Effect.flatMap(attempt, (since) =>
      since === undefined ? Effect.zipRight(Effect.sleep(thirdOf(ttl)), loop) : Effect.succeed(since)
    )
    return loop
  })

const thirdOf = (duration: Duration.Duration): Duration.Duration => Duration.millis(Duration.toMillis(duration) / 3)

/**
 * Holds a lease taken at `acquiredAt` for as long as the scope lives,
 * renewing it, and releases it when the scope closes.
 *
 * @internal
 */
export const hold = (
  key: ProjectionStore.Key,
  owner: string,
  ttl: Duration.Duration,
  acquiredAt: number
): Effect.Effect<HeldLease, never, ProjectionStore.ProjectionStore | Scope.Scope> =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    const ttlMillis = Duration.toMillis(ttl)
    const label = `projection ${key.name} v${key.version}`
    // The start of the last renewal known to have succeeded: the lease is
    // valid at least until that plus the TTL, whatever the database's clock says.
    const lastRenewal = yield* Ref.make(acquiredAt)
    const lostSignal = yield* Deferred.make<never, ProjectionStore.LeaseLostError>()
    const lostError = new ProjectionStore.LeaseLostError({ name: key.name, version: key.version, owner })
    yield* Effect.addFinalizer(() => Effect.ignore(projections.releaseLease(key, owner)))

    const renewed = (since: number) => Ref.update(lastRenewal, (last) => Math.max(last, since))
    const remaining = Effect.zipWith(
      Ref.get(lastRenewal),
      Clock.currentTimeMillis,
      (last, now) => last + ttlMillis - now
    )

    // Fires once a whole TTL passed with no successful renewal.
    const expiry: Effect.Effect<void> = Effect.flatMap(remaining, (left) =>
      left <= 0 ? Effect.void : Effect.zipRight(Effect.sleep(Duration.millis(left)), expiry)
    )

    const renewOnce = Effect.gen(function* () {
      // Renew a third of the TTL after the last renewal (a checkpoint write may have renewed it since).
      const due = (yield* Ref.get(lastRenewal)) + ttlMillis / 3 - (yield* Clock.currentTimeMillis)
      if (due > 0) return yield* Effect.sleep(Duration.millis(due))
      let failures = 0
      for (;;) {
        const since = yield* Clock.currentTimeMillis
        const outcome = yield* Effect.either(projections.acquireLease(key, owner, ttl))
        if (outcome._tag === "Right") {
          if (!outcome.right) {
            yield* Effect.logWarning(`${label}: another instance holds the lease now; ${owner} stops processing`)
            return yield* Effect.fail(lostError)
          }
          if (failures > 0) yield* Effect.logInfo(`${label}: lease renewed after ${failures} failed attempts`)
          return yield* renewed(since)
        }
        failures++
        const left = yield* remaining
        yield* Effect.logWarning(
          `${label}: lease renewal failed (attempt ${failures}), retrying while it is valid (${Math.max(0, Math.round(left))} ms left): ${describeError(outcome.left)}`
        )
        yield* Effect.sleep(Duration.millis(Math.max(10, Math.min(ttlMillis / 10, 1000, left))))
      }
    })

    const watch = Effect.raceFirst(
      Effect.forever(renewOnce),
      Effect.zipRight(
        expiry,
        Effect.zipRight(
          Effect.logWarning(
            `${label}: the lease could not be renewed within its ${ttlMillis} ms; ${owner} stops processing`
          ),
          Effect.fail(lostError)
        )
      )
    )
    yield* watch.pipe(
      Effect.catchAll((error) => Deferred.fail(lostSignal, error)),
      Effect.forkScoped
    )
    const check = Effect.flatMap(remaining, (left) => (left > 0 ? Effect.void : Effect.fail(lostError)))
    const lost = Deferred.await(lostSignal)
    const guard = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.fork(restore(effect)), (fiber) =>
          restore(Effect.raceFirst(Fiber.join(fiber), lost)).pipe(Effect.ensuring(Fiber.interrupt(fiber)))
        )
      )
    return { lost, check, renewed, guard, ttl }
  })
