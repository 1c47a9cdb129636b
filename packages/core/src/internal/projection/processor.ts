/**
 * The processor of a projection: applies batches of events under the
 * failure rules (a batch in one transaction when the store makes batches
 * atomic, then event by event to isolate bad data; passing faults retried
 * without end; bad data parked or stopping the projection). Shared by the
 * runner and by one-shot catch-ups and rebuilds.
 *
 * @internal
 */
import { Clock, type Duration, Effect, Option, Ref, Schedule } from "effect"
import type { EventDecodeError, StoredEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type { EventFilter } from "../../EventStore.js"
import type * as Position from "../../Position.js"
import type { Projection } from "../../Projection.js"
import { ProjectionFailed } from "../../ProjectionError.js"
import * as ProjectionStore from "../../ProjectionStore.js"
import type { StoreError } from "../../StoreError.js"
import { describeError } from "../describe.js"
import * as Definition from "./definition.js"
import * as Failure from "./failure.js"
import type * as Lease from "./lease.js"

/** The default `retry` schedule of bad data: 5 retries, exponential from 50 ms. @internal */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("50 millis").pipe(
  Schedule.intersect(Schedule.recurs(5))
)

/** @internal */
export const keyOf = <E extends EventCodec.Tagged, Err, R>(projection: Projection<E, Err, R>): ProjectionStore.Key => ({
  name: projection.name,
  version: projection.version
})

/** @internal */
export const labelOf = (key: ProjectionStore.Key): string => `projection ${key.name} v${key.version}`

/** Logs the first few attempts, then every tenth. @internal */
export const worthLogging = (attempt: number): boolean => attempt <= 5 || attempt % 10 === 0

/** Registers a projection version, and activates it when no version of its name is active. @internal */
export const register = (key: ProjectionStore.Key, filter: EventFilter) =>
  Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
    Effect.zipRight(
      projections.register(key, filter),
      Effect.flatMap(projections.activeVersion(key.name), (active) =>
        Option.isNone(active) ? projections.activate(key) : Effect.void
      )
    )
  )

/**
 * Records how far the feed was scanned while no event of the projection came
 * (its checkpoint moves past events it skipped), lease-checked like a
 * batch's checkpoint. A store error is only logged: the next wake-up tries
 * again, and nothing is lost but a restart's head start.
 *
 * @internal
 */
export const saveScannedCheckpoint = (
  key: ProjectionStore.Key,
  lease: Lease.HeldLease,
  owner: string,
  position: Position.Position
): Effect.Effect<void, ProjectionStore.LeaseLostError, ProjectionStore.ProjectionStore> =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    yield* lease.check
    const since = yield* Clock.currentTimeMillis
    yield* projections.transaction(projections.saveCheckpoint(key, position, owner, lease.ttl)).pipe(
      Effect.zipRight(lease.renewed(since)),
      Effect.catchAll((error) =>
        error instanceof ProjectionStore.LeaseLostError
          ? Effect.fail(error)
          : Effect.logDebug(`${labelOf(key)} scanned-up-to checkpoint not saved: ${describeError(error)}`)
      )
    )
  }).pipe(
    Effect.withSpan("Chronicle.Projection.scanned", {
      attributes: { projection: key.name, version: key.version, to: position.toString() }
    })
  )

/** @internal */
export interface ProcessorOptions {
  readonly owner: string
  readonly retry: Schedule.Schedule<unknown, unknown>
  readonly onFailure: "stop" | "park"
  readonly maxBackoff: Duration.Duration
  readonly lease: Lease.HeldLease
  /** Set while a passing fault holds the processor (what and how often), for the status monitor. */
  readonly retrying: Ref.Ref<Option.Option<string>>
  /** The state to write back once a passing fault is over. */
  readonly resumeState: Effect.Effect<ProjectionStore.State, StoreError>
}

/**
 * Handles batches of events under the failure rules: a batch first (one
 * transaction when the store makes batches atomic), then event by event to
 * isolate bad data.
 *
 * @internal
 */
export const makeProcessor = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options: ProcessorOptions
) =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    const key = keyOf(projection)
    const label = labelOf(key)
    const { lease, owner } = options
    type Failed = Err | EventDecodeError | StoreError | ProjectionStore.LeaseLostError | Failure.HandlerDefect
    const verdict = (error: Failed): Failure.Verdict => Failure.classify(error, projection.isBadData)

    // Handler and checkpoint in one transaction; the checkpoint write renews the lease.
    const commit = (events: ReadonlyArray<StoredEvent>, last: StoredEvent): Effect.Effect<void, Failed, R> =>
      Effect.gen(function* () {
        yield* lease.check
        const since = yield* Clock.currentTimeMillis
        yield* projections.transaction(
          Effect.gen(function* () {
            const decoded = yield* Definition.decodeAll(projection, events)
            yield* projection.handleBatch(decoded, key)
            yield* projections.saveCheckpoint(key, last.position, owner, lease.ttl)
          })
        )
        yield* lease.renewed(since)
      }).pipe(Effect.catchAllDefect((defect) => Effect.fail(new Failure.HandlerDefect(defect))))

    const setStateQuietly = (state: ProjectionStore.State, error?: string) =>
      Effect.ignore(projections.setState(key, state, error))

    /** Retries `effect` without end while it fails with a passing fault, reporting each attempt. */
    const untilNoPassingFault = <A, E2 extends Failed, R2>(
      effect: Effect.Effect<A, E2, R2>,
      at: StoredEvent
    ): Effect.Effect<A, E2, R2> =>
      Effect.suspend(() => {
        let attempts = 0
        return effect.pipe(
          Effect.tapError((error) => {
            if (verdict(error) !== "transient") return Effect.void
            attempts++
            const text = `retrying (attempt ${attempts}) at event ${at.eventId} (position ${at.position.toString()}): ${describeError(error)}`
            return Effect.all(
              [
                Ref.set(options.retrying, Option.some(text)),
                worthLogging(attempts) ? Effect.logWarning(`${label} ${text}`) : Effect.void,
                setStateQuietly("retrying", text)
              ],
              { discard: true }
            )
          }),
          Effect.retry({
            schedule: Failure.backoff(options.maxBackoff),
            while: (error) => verdict(error) === "transient"
          }),
          Effect.tap(() =>
            attempts === 0
              ? Effect.void
              : Effect.all(
                  [
                    Ref.set(options.retrying, Option.none()),
                    Effect.logInfo(`${label} recovered after ${attempts} failed attempts`),
                    Effect.flatMap(options.resumeState, (state) => projections.setState(key, state)).pipe(Effect.ignore)
                  ],
                  { discard: true }
                )
          )
        )
      })

    const stop = (event: StoredEvent, cause: unknown) =>
      Effect.gen(function* () {
        const failed = new ProjectionFailed({
          name: key.name,
          version: key.version,
          position: event.position.toString(),
          eventId: event.eventId,
          reason: describeError(cause),
          cause
        })
        yield* Effect.logError(failed.message)
        yield* untilNoPassingFault(projections.setState(key, "failed", failed.message), event)
        return yield* Effect.fail(failed)
      })

    const park = (event: StoredEvent, cause: unknown) => {
      const reason = describeError(cause)
      return Effect.zipRight(
        Effect.logWarning(`${label} parked event ${event.eventId} (position ${event.position.toString()}): ${reason}`),
        untilNoPassingFault(
          Effect.gen(function* () {
            yield* lease.check
            const since = yield* Clock.currentTimeMillis
            yield* projections.transaction(
              Effect.zipRight(
                projections.park(key, event, reason),
                projections.saveCheckpoint(key, event.position, owner, lease.ttl)
              )
            )
            yield* lease.renewed(since)
          }),
          event
        )
      )
    }

    const one = (
      event: StoredEvent
    ): Effect.Effect<void, StoreError | ProjectionStore.LeaseLostError | ProjectionFailed, R> =>
      untilNoPassingFault(commit([event], event), event).pipe(
        Effect.retry({ schedule: options.retry, while: (error) => verdict(error) === "bad-data" }),
        Effect.catchAll(
          (error): Effect.Effect<void, StoreError | ProjectionStore.LeaseLostError | ProjectionFailed, R> => {
            if (error instanceof ProjectionStore.LeaseLostError) return Effect.fail(error)
            if (error instanceof Failure.HandlerDefect) return stop(event, error.defect)
            switch (verdict(error)) {
              case "bad-data":
                return options.onFailure === "park" ? park(event, error) : stop(event, error)
              default:
                // a passing fault is retried above without end: start over
                return one(event)
            }
          }
        )
      )

    return (batch: ReadonlyArray<StoredEvent>) => {
      const first = batch[0]
      const last = batch[batch.length - 1]
      if (first === undefined || last === undefined) return Effect.void
      const perEvent = Effect.forEach(batch, one, { discard: true })
      const attempt = projections.atomicBatches
        ? untilNoPassingFault(commit(batch, last), first).pipe(
            // bad data or a defect somewhere in the batch: find the event, one by one
            Effect.catchAll((error) =>
              error instanceof ProjectionStore.LeaseLostError ? Effect.fail(error) : perEvent
            )
          )
        : perEvent
      return attempt.pipe(
        Effect.withSpan("Chronicle.Projection.batch", {
          attributes: { projection: key.name, version: key.version, size: batch.length, to: last.position.toString() }
        })
      )
    }
  })
