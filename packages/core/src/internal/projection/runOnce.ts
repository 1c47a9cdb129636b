/**
 * One-shot processing of a projection, for `ProjectionAdmin.catchUp` and
 * `ProjectionAdmin.rebuild`: takes the lease (or fails with
 * `ProjectionBusy`), optionally resets the read model, processes every event
 * up to the head seen at the start, and emits progress after every batch.
 *
 * @internal
 */
import { Chunk, Clock, Duration, Effect, Option, Ref, Stream } from "effect"
import type * as EventCodec from "../../EventCodec.js"
import { EventStore } from "../../EventStore.js"
import * as Position from "../../Position.js"
import type { Projection } from "../../Projection.js"
import type { CatchUpOptions, Progress, ProgressStream } from "../../ProjectionAdmin.js"
import { ProjectionBusy } from "../../ProjectionError.js"
import * as ProjectionStore from "../../ProjectionStore.js"
import * as Failure from "./failure.js"
import * as Lag from "./lag.js"
import * as Lease from "./lease.js"
import { defaultRetry, keyOf, makeProcessor, register } from "./processor.js"

/** Processes a projection once up to the current head, resetting it first when `reset`. @internal */
export const runOnce = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options: CatchUpOptions | undefined,
  reset: boolean
): ProgressStream<Err, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const store = yield* EventStore
      const projections = yield* ProjectionStore.ProjectionStore
      const key = keyOf(projection)
      const owner = options?.owner ?? crypto.randomUUID()
      const ttl = Duration.decode(options?.leaseTtl ?? "10 seconds")
      const lagLimit = options?.lagLimit ?? Lag.defaultLimit
      yield* register(key, projection.filter)
      const wait = Duration.decode(options?.waitForLease ?? 0)
      // Always ask once (a timeout of zero would cancel a query in flight), then keep asking while allowed.
      const askedAt = yield* Clock.currentTimeMillis
      const acquiredAt = (yield* projections.acquireLease(key, owner, ttl))
        ? Option.some(askedAt)
        : Duration.greaterThan(wait, Duration.zero)
          ? yield* Lease.acquire(key, owner, ttl).pipe(Effect.timeoutOption(wait))
          : Option.none()
      if (Option.isNone(acquiredAt)) return yield* new ProjectionBusy(key)
      const lease = yield* Lease.hold(key, owner, ttl, acquiredAt.value)
      yield* projection.setup(key)
      if (reset) {
        yield* projections.transaction(Effect.zipRight(projection.reset(key), projections.resetCheckpoint(key, owner)))
      }
      yield* projections.setState(key, "rebuilding")
      const process = yield* makeProcessor(projection, {
        owner,
        retry: options?.retry ?? defaultRetry,
        onFailure: options?.onFailure ?? "stop",
        maxBackoff: Duration.decode(options?.maxBackoff ?? Failure.defaultMaxBackoff),
        lease,
        retrying: yield* Ref.make(Option.none<string>()),
        resumeState: Effect.succeed("rebuilding")
      })
      const head = yield* store.head
      const record = yield* projections.get(key)
      const from = ProjectionStore.checkpointOrStart(Option.flatMap(record, (r) => r.checkpoint))
      // The lag is counted, up to the limit; past it, a lower bound that is
      // counted again once this run has processed that many.
      let processed = 0
      let counted = yield* Lag.count(store, projection.filter, from, { upTo: head, limit: lagLimit })
      let countedAt = 0
      const progress = (checkpoint: Position.Position) =>
        Effect.gen(function* () {
          if (!counted.exact && counted.count - (processed - countedAt) <= 0) {
            counted = yield* Lag.count(store, projection.filter, checkpoint, { upTo: head, limit: lagLimit })
            countedAt = processed
          }
          const step: Progress = {
            name: key.name,
            version: key.version,
            processed,
            checkpoint,
            lag: Math.max(0, counted.count - (processed - countedAt)),
            lagExact: counted.exact
          }
          return step
        })
      const finish = Effect.gen(function* () {
        // Everything this projection reads up to the head is handled: the
        // checkpoint moves to the head even when the last events were of
        // other types (nothing else processes this key while we hold its lease).
        const reached = ProjectionStore.checkpointOrStart(
          Option.flatMap(yield* projections.get(key), (r) => r.checkpoint)
        )
        if (Position.isAfter(head, reached)) yield* projections.saveCheckpoint(key, head, owner, ttl)
        yield* projections.setState(key, "caught-up")
        const active = yield* projections.activeVersion(key.name)
        if (Option.isNone(active) || active.value < key.version) yield* projections.activate(key)
        const done: Progress = {
          name: key.name,
          version: key.version,
          processed,
          checkpoint: head,
          lag: 0,
          lagExact: true
        }
        return done
      })
      return Stream.concat(
        Stream.fromEffect(progress(from)),
        store.readAll({ ...projection.filter, from, batchSize: options?.batchSize ?? 500 }).pipe(
          Stream.takeWhile((event) => Position.isAtOrAfter(head, event.position)),
          // The next batch is read while this one is handled (its transaction
          // and checkpoint): reading ahead moves no checkpoint.
          Stream.bufferChunks({ capacity: 1 }),
          Stream.mapChunksEffect((chunk) => {
            const batch = Chunk.toReadonlyArray(chunk)
            const last = batch[batch.length - 1]
            if (last === undefined) return Effect.succeed(Chunk.empty<Progress>())
            return Effect.flatMap(lease.guard(process(batch)), () => {
              processed += batch.length
              return Effect.map(progress(last.position), Chunk.of)
            })
          })
        )
      ).pipe(Stream.concat(Stream.fromEffect(Effect.zipRight(lease.check, finish))))
    })
  )
