/**
 * Administration of projections, for operators, command-line tools and batch
 * jobs: one-shot `catchUp` and `rebuild` with progress, `status` of every
 * version (state, checkpoint, lag, lease), `drop` of an old version, and the
 * dead-letter list of parked events (`parked`, `replayParked`).
 *
 * @since 0.1.0
 */
import { type DateTime, Duration, Effect, Either, Option, type Stream } from "effect"
import type * as EventCodec from "./EventCodec.js"
import { EventStore } from "./EventStore.js"
import { describeError } from "./internal/describe.js"
import * as Failure from "./internal/projection/failure.js"
import * as Lag from "./internal/projection/lag.js"
import { keyOf } from "./internal/projection/processor.js"
import { runOnce } from "./internal/projection/runOnce.js"
import type * as Position from "./Position.js"
import type { Projection, RunOptions } from "./Projection.js"
import { ProjectionActive, ProjectionBusy, type ProjectionFailed } from "./ProjectionError.js"
import * as ProjectionStore from "./ProjectionStore.js"
import type { StoreError } from "./StoreError.js"

/**
 * Progress of a catch-up or rebuild.
 *
 * @example
 * ```ts
 * import { Position, type ProjectionAdmin } from "@chronicle/core"
 *
 * const describe = (progress: ProjectionAdmin.Progress): string =>
 *   `${progress.name} v${progress.version}: ${progress.processed} done, ` +
 *   `${progress.lagExact === false ? "over " : ""}${progress.lag} to go (at ${Position.format(progress.checkpoint)})`
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly name: string
  readonly version: number
  /** Events handled so far in this run. */
  readonly processed: number
  readonly checkpoint: Position.Position
  /**
   * Events this run still has to process (those the projection reads, up to
   * the head it is catching up with). A lower bound when `lagExact` is false.
   */
  readonly lag: number
  /** `false` when `lag` is a lower bound (more than `lagLimit` events to go). `catchUp` and `rebuild` always set it. */
  readonly lagExact?: boolean | undefined
}

/**
 * The status of one projection version.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProjectionAdmin } from "@chronicle/core"
 *
 * const unhealthy = (status: ProjectionAdmin.Status): boolean =>
 *   status.state === "failed" || status.state === "stale" || status.parked > 0
 * const alerts = Effect.map(ProjectionAdmin.status(), (statuses) => statuses.filter(unhealthy).map((s) => s.name))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly name: string
  readonly version: number
  readonly active: boolean
  /**
   * What the projection is doing: the state its runner last wrote, except
   * `stale` when no runner holds its lease and that state no longer holds
   * (it claimed to be processing, or it says caught up while events wait),
   * and `running` (or `rebuilding`) when a live runner is behind the head.
   */
  readonly state: ProjectionStore.State | "stale"
  readonly checkpoint: Option.Option<Position.Position>
  /**
   * Events the projection still has to process: those it reads after its
   * checkpoint, counted (0 when caught up). A lower bound when `lagExact` is
   * false.
   */
  readonly lag: number
  /** `false` when `lag` is a lower bound (more than the count's limit). `status` always sets it. */
  readonly lagExact?: boolean | undefined
  readonly error: Option.Option<string>
  readonly parked: number
  /** The live lease: which instance processes it now. `status` always sets it. */
  readonly lease?: Option.Option<ProjectionStore.Lease> | undefined
  /**
   * When a runner last wrote its record (its state or checkpoint; the state
   * only when it changes, so an idle projection's stays put). `status` always sets it.
   */
  readonly updatedAt?: DateTime.Utc | undefined
}

/**
 * Options of {@link catchUp} and {@link rebuild}.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 *
 * const options: ProjectionAdmin.CatchUpOptions = { waitForLease: "30 seconds", batchSize: 1000 }
 * const job = Stream.runDrain(ProjectionAdmin.catchUp(Pings, options))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface CatchUpOptions extends RunOptions {
  /** How long to wait for another instance's lease before failing with `ProjectionBusy`. Default 0. */
  readonly waitForLease?: Duration.DurationInput | undefined
}

/**
 * The progress stream of {@link catchUp} and {@link rebuild}.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import type { ProjectionAdmin } from "@chronicle/core"
 *
 * // log every batch's progress, and return the last one
 * const report = <Err, R>(progress: ProjectionAdmin.ProgressStream<Err, R>) =>
 *   progress.pipe(
 *     Stream.tap((p) => Effect.log(`${p.name}: ${p.processed} processed, ${p.lag} to go`)),
 *     Stream.runLast
 *   )
 * ```
 * @since 0.1.0
 * @category models
 */
export type ProgressStream<Err, R> = Stream.Stream<
  Progress,
  ProjectionFailed | ProjectionBusy | StoreError | ProjectionStore.LeaseLostError | Err,
  EventStore | ProjectionStore.ProjectionStore | R
>

/**
 * Processes a projection once, from its checkpoint up to the store's current
 * head, then stops: for command-line tools and batch jobs. It takes the lease
 * (failing with `ProjectionBusy` when another instance holds it) and emits
 * progress after every batch.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const done = ProjectionAdmin.catchUp(Pings).pipe(Stream.runForEach((p) => Effect.log(`${p.processed} events, lag ${p.lag}`)))
 * ```
 * @since 0.1.0
 * @category running
 */
export const catchUp = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: CatchUpOptions
): ProgressStream<Err, R> => runOnce(projection, options, false)

/**
 * Rebuilds a projection version from the start: it empties the read model
 * (the projection's `reset`), clears the checkpoint, and processes every
 * event up to the current head, reporting progress (checkpoint and lag)
 * after each batch. It takes the lease, so it fails with `ProjectionBusy`
 * while a runner of that version is active elsewhere. To rebuild without
 * downtime, bump the projection's version instead (blue/green).
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const rebuilt = ProjectionAdmin.rebuild(Pings).pipe(Stream.runLast)
 * ```
 * @since 0.1.0
 * @category running
 */
export const rebuild = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: CatchUpOptions
): ProgressStream<Err, R> => runOnce(projection, options, true)

/**
 * The status of every version of every projection (or of one name). The lag
 * is counted: the events each one still has to process (what it reads after
 * its checkpoint), up to `lagLimit` (default 10,000), beyond which it is a
 * lower bound (`lagExact: false`). A state that no live runner stands
 * behind reads `stale`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 *
 * const report = Effect.flatMap(ProjectionAdmin.status(), (all) =>
 *   Effect.forEach(all, (s) =>
 *     Effect.log(`${s.name} v${s.version}: ${s.state}, lag ${s.lagExact === false ? "≥ " : ""}${s.lag}`)
 *   )
 * )
 * ```
 * @since 0.1.0
 * @category observability
 */
export const status = (
  name?: string,
  options?: { readonly lagLimit?: number | undefined }
): Effect.Effect<ReadonlyArray<Status>, StoreError, EventStore | ProjectionStore.ProjectionStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const projections = yield* ProjectionStore.ProjectionStore
    const records = (yield* projections.list).filter((r) => name === undefined || r.name === name)
    return yield* Effect.forEach(records, (record) =>
      Effect.gen(function* () {
        const checkpoint = ProjectionStore.checkpointOrStart(record.checkpoint)
        const lag = yield* Lag.count(store, record.filter, checkpoint, {
          limit: options?.lagLimit ?? Lag.defaultLimit
        })
        const parked = yield* projections.parked(record)
        const line: Status = {
          name: record.name,
          version: record.version,
          active: record.active,
          state: reportedState(record, lag),
          checkpoint: record.checkpoint,
          lag: lag.count,
          lagExact: lag.exact,
          error: record.error,
          parked: parked.length,
          lease: record.lease,
          updatedAt: record.updatedAt
        }
        return line
      })
    )
  }).pipe(Effect.withSpan("Chronicle.ProjectionAdmin.status"))

/**
 * Removes an inactive version of a projection: its read model (the
 * projection's `teardown`) and its record. The old version of a blue/green
 * switch stays until this is called.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const PingsV1 = Projection.make({ name: "pings", version: 1, events: Pinged, handle: () => Effect.void })
 * const dropOld = ProjectionAdmin.drop(PingsV1)
 * ```
 * @since 0.1.0
 * @category running
 */
export const drop = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>
): Effect.Effect<void, ProjectionActive | ProjectionBusy | StoreError | Err, ProjectionStore.ProjectionStore | R> =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    const key = keyOf(projection)
    if (Option.exists(yield* projections.activeVersion(key.name), (v) => v === key.version)) {
      return yield* new ProjectionActive(key)
    }
    const owner = crypto.randomUUID()
    if (Option.isSome(yield* projections.get(key))) {
      if (!(yield* projections.acquireLease(key, owner, Duration.minutes(1)))) return yield* new ProjectionBusy(key)
    }
    yield* projection.teardown(key)
    yield* projections.remove(key)
  })

/**
 * The events parked by a projection version, with their causes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 *
 * const list = ProjectionAdmin.parked({ name: "balances", version: 1 })
 * ```
 * @since 0.1.0
 * @category poison events
 */
export const parked = (
  key: ProjectionStore.Key
): Effect.Effect<ReadonlyArray<ProjectionStore.ParkedEvent>, StoreError, ProjectionStore.ProjectionStore> =>
  Effect.flatMap(ProjectionStore.ProjectionStore, (projections) => projections.parked(key))

/**
 * Replays parked events (all, or one by id) through the projection's handler,
 * after the handler was fixed. Each replay first claims the event (removes
 * it from the parked list, in the same transaction as the handler's writes),
 * so two replays running at once never apply one event twice. An event that
 * fails again stays parked, and its error is reported.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection, ProjectionAdmin } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const retried = ProjectionAdmin.replayParked(Pings)
 * ```
 * @since 0.1.0
 * @category poison events
 */
export const replayParked = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: { readonly eventId?: string | undefined }
): Effect.Effect<
  {
    readonly replayed: number
    readonly stillFailing: ReadonlyArray<{ readonly eventId: string; readonly reason: string }>
  },
  StoreError,
  ProjectionStore.ProjectionStore | R
> =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    const key = keyOf(projection)
    const candidates = (yield* projections.parked(key)).filter(
      (p) => options?.eventId === undefined || p.event.eventId === options.eventId
    )
    let replayed = 0
    const stillFailing: Array<{ readonly eventId: string; readonly reason: string }> = []
    for (const { event } of candidates) {
      const outcome = yield* Effect.either(
        projections
          .transaction(
            Effect.gen(function* () {
              // Claim it first: a concurrent replay that claimed it already wins,
              // and on a database the row lock makes this one wait for its outcome.
              if (!(yield* projections.unpark(key, event.eventId))) return false
              const decoded = yield* projection.decode(event)
              yield* projection.handleBatch([decoded], key)
              return true
            })
          )
          .pipe(Effect.catchAllDefect((defect) => Effect.fail(new Failure.HandlerDefect(defect))))
      )
      if (Either.isRight(outcome)) {
        if (outcome.right) replayed++
        continue
      }
      const error = outcome.left
      const reason = describeError(error instanceof Failure.HandlerDefect ? error.defect : error)
      stillFailing.push({ eventId: event.eventId, reason })
      // A store whose transactions cannot roll back has removed it: park it again.
      if (!projections.atomicBatches) yield* projections.park(key, event, reason)
    }
    return { replayed, stillFailing }
  }).pipe(Effect.withSpan("Chronicle.ProjectionAdmin.replayParked", { attributes: { projection: projection.name } }))

/** The state to report for a stored record and its counted lag. */
const reportedState = (record: ProjectionStore.Record, lag: Lag.Lag): Status["state"] => {
  const stored = record.state
  if (stored === "failed" || stored === "stopped") return stored
  if (Option.isNone(record.lease)) return stored === "caught-up" && lag.count === 0 ? stored : "stale"
  if (stored === "caught-up" && lag.count > 0) return record.active ? "running" : "rebuilding"
  return stored
}
