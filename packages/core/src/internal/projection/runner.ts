/**
 * The runner of a projection: takes its lease, prepares the read model,
 * catches up from the checkpoint and follows live events, with a status
 * monitor (state, lag gauge, blue/green activation). A passing fault, a
 * failed subscription or a lost lease restarts it with a capped backoff;
 * only `ProjectionFailed` stops it.
 *
 * @internal
 */
import { Chunk, Clock, Duration, Effect, Layer, Metric, Option, Ref, Schedule, type Scope, Stream } from "effect"
import type * as Backend from "../../Backend.js"
import type * as EventCodec from "../../EventCodec.js"
import { EventStore } from "../../EventStore.js"
import * as Metrics from "../../Metrics.js"
import * as Position from "../../Position.js"
import type { Projection, RunOptions } from "../../Projection.js"
import { ProjectionFailed } from "../../ProjectionError.js"
import * as ProjectionStore from "../../ProjectionStore.js"
import type { StoreError } from "../../StoreError.js"
import { describeError } from "../describe.js"
import * as Failure from "./failure.js"
import * as Lag from "./lag.js"
import * as Lease from "./lease.js"
import {
  defaultRetry,
  keyOf,
  labelOf,
  makeProcessor,
  register,
  saveScannedCheckpoint,
  worthLogging
} from "./processor.js"

/** Runs a projection in the background as a scoped layer. @internal */
export const layer = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: RunOptions
): Layer.Layer<never, never, EventStore | ProjectionStore.ProjectionStore | Exclude<R, Scope.Scope>> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const key = keyOf(projection)
      yield* register(key, projection.filter).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(`${labelOf(key)} not registered yet (its runner retries): ${describeError(error)}`)
        )
      )
      yield* Effect.forkScoped(
        run(projection, options).pipe(
          Effect.tapErrorCause((cause) => Effect.logError(`${labelOf(key)} stopped`, cause))
        )
      )
    })
  )

/** Runs a projection until interrupted or `ProjectionFailed`. @internal */
export const run = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: RunOptions
): Effect.Effect<void, ProjectionFailed, EventStore | ProjectionStore.ProjectionStore | R> => {
  const owner = options?.owner ?? crypto.randomUUID()
  const ttl = Duration.decode(options?.leaseTtl ?? "10 seconds")
  const poll = Duration.decode(options?.pollInterval ?? "500 millis")
  const maxBackoff = Duration.decode(options?.maxBackoff ?? Failure.defaultMaxBackoff)
  const lagLimit = options?.lagLimit ?? 1000
  const key = keyOf(projection)
  const label = labelOf(key)
  const once = Effect.scoped(
    Effect.gen(function* () {
      const store = yield* EventStore
      const projections = yield* ProjectionStore.ProjectionStore
      yield* register(key, projection.filter)
      const acquiredAt = yield* Lease.acquire(key, owner, ttl)
      const lease = yield* Lease.hold(key, owner, ttl, acquiredAt)
      yield* projection.setup(key)
      const isActive = Effect.map(projections.activeVersion(key.name), Option.contains(key.version))
      const retrying = yield* Ref.make(Option.none<string>())
      const process = yield* makeProcessor(projection, {
        owner,
        retry: options?.retry ?? defaultRetry,
        onFailure: options?.onFailure ?? "stop",
        maxBackoff,
        lease,
        retrying,
        resumeState: Effect.map(isActive, (active): ProjectionStore.State => (active ? "running" : "rebuilding"))
      })
      const record = yield* projections.get(key)
      const from = ProjectionStore.checkpointOrStart(Option.flatMap(record, (r) => r.checkpoint))
      yield* projections.setState(key, (yield* isActive) ? "running" : "rebuilding")
      const gauge = Metrics.projectionLag.pipe(
        Metric.tagged("projection", key.name),
        Metric.tagged("version", `${key.version}`)
      )
      // Status, lag metric and blue/green switch, refreshed while the runner lives.
      const monitor = Effect.gen(function* () {
        const current = yield* projections.get(key)
        const checkpoint = ProjectionStore.checkpointOrStart(Option.flatMap(current, (r) => r.checkpoint))
        const lag = yield* Lag.count(store, projection.filter, checkpoint, { limit: lagLimit })
        yield* Metric.set(gauge, lag.count)
        const done = lag.count === 0
        const activeNow = yield* projections.activeVersion(key.name)
        if (done && (Option.isNone(activeNow) || activeNow.value < key.version)) {
          yield* projections.activate(key)
          yield* Effect.logInfo(`${label} caught up and is now active`)
        }
        // while a passing fault holds the processor, it reports the state itself
        if (Option.isSome(yield* Ref.get(retrying))) return
        if (Option.exists(current, (r) => r.state === "failed")) return
        const active = done || Option.exists(activeNow, (v) => v === key.version)
        const state: ProjectionStore.State = done ? "caught-up" : active ? "running" : "rebuilding"
        // Written only when the stored record says otherwise (another state, or
        // an error to clear), so an idle runner commits nothing per poll. The
        // comparison is with the record read this poll, so a state another
        // writer left stale ("retrying", "rebuilding") is corrected next poll.
        // No heartbeat is needed: liveness is the lease, which `Lease.hold`
        // renews; `updatedAt` says when the state or checkpoint last changed.
        if (Option.exists(current, (r) => r.state === state && Option.isNone(r.error))) return
        yield* projections.setState(key, state)
      }).pipe(Effect.catchAll((error) => Effect.logDebug(`${label} status not refreshed: ${describeError(error)}`)))
      yield* monitor.pipe(Effect.repeat({ schedule: Schedule.spaced(poll) }), Effect.forkScoped)
      const subscribeOptions = { ...projection.filter, from, batchSize: options?.batchSize ?? 500, pollInterval: poll }
      // A store that reports how far it scanned lets the checkpoint move past
      // events the projection skips while none of its own come; without it,
      // batches report their last event only.
      const feed: Stream.Stream<Backend.ScannedBatch, StoreError> =
        store.subscribeScanned?.(subscribeOptions) ??
        store.subscribe(subscribeOptions).pipe(
          Stream.mapChunks((chunk) => {
            const events = Chunk.toReadonlyArray(chunk)
            const last = events[events.length - 1]
            return last === undefined ? Chunk.empty() : Chunk.of({ events, scannedTo: last.position })
          })
        )
      // The checkpoint as this runner last wrote it, and when: a scanned-up-to
      // checkpoint is written at most once per poll interval.
      let checkpoint = from
      let writtenAt = Number.NEGATIVE_INFINITY
      const follow = feed.pipe(
        Stream.runForEach((batch) =>
          Effect.gen(function* () {
            const last = batch.events[batch.events.length - 1]
            const now = yield* Clock.currentTimeMillis
            if (last !== undefined) {
              yield* process(batch.events)
              checkpoint = last.position
              writtenAt = now
              return
            }
            if (!Position.isAfter(batch.scannedTo, checkpoint) || now - writtenAt < Duration.toMillis(poll)) return
            yield* saveScannedCheckpoint(key, lease, owner, batch.scannedTo)
            checkpoint = batch.scannedTo
            writtenAt = now
          })
        )
      )
      // Processing stops the moment the lease is lost (an SQL transaction in
      // flight rolls back; in memory, the current commit completes first),
      // and before the lease is released.
      return yield* lease.guard(follow)
    })
  )
  return Effect.suspend(() => {
    let restarts = 0
    return once.pipe(
      Effect.catchAll((error): Effect.Effect<never, ProjectionFailed | Restart, ProjectionStore.ProjectionStore> => {
        if (error instanceof ProjectionFailed) {
          // written again now that the status monitor has stopped, so it has the last word
          return Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
            Effect.zipRight(Effect.ignore(projections.setState(key, "failed", error.message)), Effect.fail(error))
          )
        }
        restarts++
        const why =
          error instanceof ProjectionStore.LeaseLostError
            ? "it lost its lease; it takes it again once free"
            : describeError(error)
        const text = `restarting (attempt ${restarts}): ${why}`
        return Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
          Effect.all(
            [
              worthLogging(restarts) ? Effect.logWarning(`${label} ${text}`) : Effect.void,
              error instanceof ProjectionStore.LeaseLostError
                ? Effect.void
                : Effect.ignore(projections.setState(key, "retrying", text))
            ],
            { discard: true }
          )
        ).pipe(Effect.zipRight(Effect.fail(new Restart())))
      }),
      Effect.retry({ while: (error) => error instanceof Restart, schedule: Failure.backoff(maxBackoff) }),
      Effect.catchAll((error) => (error instanceof ProjectionFailed ? Effect.fail(error) : Effect.void)),
      Effect.asVoid
    )
  })
}

class Restart {
  readonly _tag = "Restart"
}
