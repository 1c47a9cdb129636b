/**
 * Projections: the query side of CQRS. A projection reads events in global
 * order and builds a read model; it keeps a checkpoint, so it resumes where
 * it stopped, and its read model can always be rebuilt from the events.
 *
 * - `Projection.make` defines one: its name, version, the events it reads
 *   (a Schema union, optionally narrowed to stream categories) and its
 *   handler, which may require services such as `SqlClient`.
 * - `Projection.layer` runs it in the background as a scoped layer: catch up
 *   from the checkpoint, then follow live events. Several projections run
 *   independently; one failing or slow does not hold back the others.
 * - Exactly-once in effect: with a SQL `ProjectionStore`, the handler's writes
 *   and the checkpoint advance share one transaction. For targets outside
 *   that transaction, handlers must be idempotent: each gets the event id
 *   and position to make that easy.
 * - A failing event is retried on a `Schedule`; then the policy decides:
 *   `stop` (status `failed`, a typed `ProjectionFailed`) or `park` (the event
 *   goes to the dead-letter list with its cause, and the projection goes on).
 *   Nothing is skipped silently.
 * - Blue/green: bumping `version` builds the new read model from the start,
 *   beside the old one, and activates it once it has caught up. The old one
 *   is removed only by `Projection.drop`.
 * - One instance per name and version processes at a time across processes,
 *   held by a lease in the `ProjectionStore`.
 * - `waitFor` gives read-your-writes; `status` reports state, checkpoint and
 *   lag; a `Metric` tracks the lag and every batch runs in a span.
 *
 * @since 0.1.0
 */
import { Chunk, Duration, Effect, Either, Layer, Metric, Option, Schedule, Schema, type Scope, Stream } from "effect"
import * as Correlation from "./Correlation.js"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "./Event.js"
import * as EventCodec from "./EventCodec.js"
import { type EventFilter, EventStore, type StoreError } from "./EventStore.js"
import * as Position from "./Position.js"
import * as ProjectionStore from "./ProjectionStore.js"

/**
 * What a handler knows besides the event: which projection and version it
 * serves (for example to pick the version's table).
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly name: string
  readonly version: number
}

/**
 * A projection definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface Projection<E extends EventCodec.Tagged, Err, R> {
  readonly name: string
  readonly version: number
  readonly codec: EventCodec.EventCodec<E>
  readonly filter: EventFilter
  /** Applies a batch of events, in order. */
  readonly handle: (events: ReadonlyArray<RecordedEvent<E>>, context: Context) => Effect.Effect<void, Err, R>
  /** Prepares the read model of a version (for example CREATE TABLE IF NOT EXISTS). Must be idempotent. */
  readonly setup: (context: Context) => Effect.Effect<void, Err, R>
  /** Empties the read model of a version, for a rebuild. */
  readonly reset: (context: Context) => Effect.Effect<void, Err, R>
  /** Removes the read model of a version, for `drop`. */
  readonly teardown: (context: Context) => Effect.Effect<void, Err, R>
}

/**
 * Defines a projection. Give `handle` for one event at a time, or
 * `handleBatch` for handlers that write many rows at once.
 *
 * @example
 * ```ts
 * import { Effect, Ref, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 *
 * const total = Ref.unsafeMake(0)
 * export const Totals = Projection.make({
 *   name: "totals",
 *   version: 1,
 *   events: Deposited,
 *   categories: ["Wallet"],
 *   handle: (recorded) => Ref.update(total, (t) => t + recorded.event.amount)
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <E extends EventCodec.Tagged, I, Err = never, R = never>(
  definition: {
    readonly name: string
    readonly version?: number | undefined
    /** The events to read: a tagged Schema (union); only these types are read. */
    readonly events: Schema.Schema<E, I, never>
    /** Only events of streams in these categories. */
    readonly categories?: ReadonlyArray<string> | undefined
    /** The upcasters of these events, when they have older stored versions. */
    readonly codec?: EventCodec.EventCodec<E> | undefined
    readonly setup?: ((context: Context) => Effect.Effect<void, Err, R>) | undefined
    readonly reset?: ((context: Context) => Effect.Effect<void, Err, R>) | undefined
    readonly teardown?: ((context: Context) => Effect.Effect<void, Err, R>) | undefined
  } & (
    | {
        readonly handle: (event: RecordedEvent<E>, context: Context) => Effect.Effect<void, Err, R>
        readonly handleBatch?: undefined
      }
    | {
        readonly handleBatch: (events: ReadonlyArray<RecordedEvent<E>>, context: Context) => Effect.Effect<void, Err, R>
        readonly handle?: undefined
      }
  )
): Projection<E, Err, R> => {
  const version = definition.version ?? 1
  if (definition.name.length === 0 || definition.name.length > 100 || /[@\s]/.test(definition.name)) {
    throw new Error(`Projection.make: the name "${definition.name}" must be 1 to 100 characters with no "@" or spaces`)
  }
  if (!Number.isInteger(version) || version < 1) {
    throw new Error(`Projection.make: the version of ${definition.name} must be a positive integer, got ${version}`)
  }
  const codec = definition.codec ?? EventCodec.make(definition.events)
  const single = definition.handle
  const handle =
    definition.handleBatch ??
    ((events: ReadonlyArray<RecordedEvent<E>>, context: Context) =>
      single === undefined
        ? Effect.void
        : Effect.forEach(
            events,
            (event) =>
              single(event, context).pipe(
                Correlation.withContext({ correlationId: event.metadata.correlationId, causationId: event.eventId })
              ),
            { discard: true }
          ))
  return {
    name: definition.name,
    version,
    codec,
    filter: { categories: definition.categories, types: codec.storedTypes },
    handle,
    setup: definition.setup ?? (() => Effect.void),
    reset: definition.reset ?? (() => Effect.void),
    teardown: definition.teardown ?? (() => Effect.void)
  }
}

/**
 * A projection's handler kept failing on one event and the policy is `stop`.
 * The projection stops at the event; its checkpoint stays before it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * const alert = (e: Projection.ProjectionFailed) => Effect.logError(e.message)
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionFailed extends Schema.TaggedError<ProjectionFailed>()("ProjectionFailed", {
  name: Schema.String,
  version: Schema.Number,
  position: Schema.String,
  eventId: Schema.String,
  cause: Schema.String
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version} stopped at event ${this.eventId} (position ${this.position}): ${this.cause}`
  }
}

/**
 * `waitFor` gave up before the projection reached the position.
 *
 * @example
 * ```ts
 * import { Projection } from "@chronicle/core"
 *
 * const error = new Projection.ProjectionTimeout({ name: "balances", position: "42", timeoutMillis: 5000 })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionTimeout extends Schema.TaggedError<ProjectionTimeout>()("ProjectionTimeout", {
  name: Schema.String,
  position: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `Projection ${this.name} did not reach position ${this.position} within ${this.timeoutMillis} ms`
  }
}

/**
 * No projection of that name (or version) is registered in the store.
 *
 * @example
 * ```ts
 * import { Projection } from "@chronicle/core"
 *
 * const error = new Projection.ProjectionNotFound({ name: "balances" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionNotFound extends Schema.TaggedError<ProjectionNotFound>()("ProjectionNotFound", {
  name: Schema.String
}) {
  override get message(): string {
    return `No projection named ${this.name} is registered`
  }
}

/**
 * Another instance holds the projection's lease, so it cannot be rebuilt or
 * caught up here now.
 *
 * @example
 * ```ts
 * import { Projection } from "@chronicle/core"
 *
 * const error = new Projection.ProjectionBusy({ name: "balances", version: 1 })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionBusy extends Schema.TaggedError<ProjectionBusy>()("ProjectionBusy", {
  name: Schema.String,
  version: Schema.Number
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version} is being processed by another instance`
  }
}

/**
 * How a runner behaves.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** Events per batch (and per transaction on SQL stores). Default 500. */
  readonly batchSize?: number | undefined
  /** How a failing event is retried before the policy applies. Default: 5 retries, exponential from 50 ms. */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  /** What happens when retries are exhausted. Default `stop`. */
  readonly onFailure?: "stop" | "park" | undefined
  /** How long a lease lasts without renewal; it is renewed every third of it. Default 10 s. */
  readonly leaseTtl?: Duration.DurationInput | undefined
  /** The owner name of this instance in leases. Default: a random id. */
  readonly owner?: string | undefined
  /** How often an idle runner re-checks for events and updates its status. Default 500 ms. */
  readonly pollInterval?: Duration.DurationInput | undefined
}

/**
 * Progress of a catch-up or rebuild.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly name: string
  readonly version: number
  /** Events handled so far in this run. */
  readonly processed: number
  readonly checkpoint: Position.Position
  /** Events appended to the store after the checkpoint, up to the head it is catching up with. */
  readonly lag: number
}

/**
 * The status of one projection version.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  readonly name: string
  readonly version: number
  readonly active: boolean
  readonly state: ProjectionStore.State
  readonly checkpoint: Option.Option<Position.Position>
  /** Events appended to the store after the checkpoint (0 when caught up). */
  readonly lag: number
  readonly error: Option.Option<string>
  readonly parked: number
}

const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("50 millis").pipe(
  Schedule.intersect(Schedule.recurs(5))
)

/**
 * The lag gauge, tagged with `projection` and `version`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const lagMetric = Metric.gauge("chronicle_projection_lag", {
  description: "Events appended to the store after the projection's checkpoint"
})

const keyOf = <E extends EventCodec.Tagged, Err, R>(projection: Projection<E, Err, R>): ProjectionStore.Key => ({
  name: projection.name,
  version: projection.version
})

const lagBetween = (checkpoint: Position.Position, head: Position.Position): number =>
  Position.isAtOrAfter(checkpoint, head) ? 0 : Math.max(0, Number(head.sequence - checkpoint.sequence))

/** `true` when no event the filter selects lies after `checkpoint` (up to what readers can see now). */
const caughtUp = (store: EventStore["Type"], filter: EventFilter, checkpoint: Position.Position) =>
  Effect.map(Stream.runCollect(store.readAll({ ...filter, from: checkpoint, limit: 1, batchSize: 1 })), Chunk.isEmpty)

const describeCause = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? `${"_tag" in error && typeof error._tag === "string" ? `${error._tag}: ` : ""}${error.message}`
    : String(error)

/** Handles events with the policy: batch first, then event by event on failure. */
const makeProcessor = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options: {
    readonly owner: string
    readonly retry: Schedule.Schedule<unknown, unknown>
    readonly onFailure: "stop" | "park"
  }
) =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    const key = keyOf(projection)
    const context: Context = key

    const decode = (event: StoredEvent): Either.Either<RecordedEvent<E>, EventDecodeError> =>
      projection.codec.decode(event)

    const commit = (
      events: ReadonlyArray<StoredEvent>,
      last: StoredEvent
    ): Effect.Effect<void, Err | EventDecodeError | StoreError | ProjectionStore.LeaseLostError, R> =>
      projections.transaction(
        Effect.gen(function* () {
          const decoded = yield* Effect.forEach(events, decode)
          yield* projection.handle(decoded, context)
          yield* projections.saveCheckpoint(key, last.position, options.owner)
        })
      )

    const one = (
      event: StoredEvent
    ): Effect.Effect<void, StoreError | ProjectionStore.LeaseLostError | ProjectionFailed, R> =>
      commit([event], event).pipe(
        Effect.retry({
          schedule: options.retry,
          while: (error) => !isLeaseLost(error)
        }),
        Effect.catchAll(
          (error): Effect.Effect<void, StoreError | ProjectionStore.LeaseLostError | ProjectionFailed> => {
            if (isLeaseLost(error)) return Effect.fail(error)
            const cause = describeCause(error)
            if (options.onFailure === "park") {
              return Effect.zipRight(
                Effect.logWarning(`projection ${key.name} v${key.version} parked event ${event.eventId}: ${cause}`),
                projections.transaction(
                  Effect.zipRight(
                    projections.park(key, event, cause),
                    projections.saveCheckpoint(key, event.position, options.owner)
                  )
                )
              )
            }
            const failed = new ProjectionFailed({
              name: key.name,
              version: key.version,
              position: event.position.toString(),
              eventId: event.eventId,
              cause
            })
            return Effect.zipRight(projections.setState(key, "failed", failed.message), Effect.fail(failed))
          }
        )
      )

    return (batch: ReadonlyArray<StoredEvent>) => {
      const last = batch[batch.length - 1]
      if (last === undefined) return Effect.void
      const perEvent = Effect.forEach(batch, one, { discard: true })
      const attempt = projections.atomicBatches
        ? commit(batch, last).pipe(Effect.catchAll((error) => (isLeaseLost(error) ? Effect.fail(error) : perEvent)))
        : perEvent
      return attempt.pipe(
        Effect.withSpan("Chronicle.Projection.batch", {
          attributes: { projection: key.name, version: key.version, size: batch.length, to: last.position.toString() }
        })
      )
    }
  })

const thirdOf = (duration: Duration.Duration): Duration.Duration => Duration.millis(Duration.toMillis(duration) / 3)

const isLeaseLost = (error: unknown): error is ProjectionStore.LeaseLostError =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "LeaseLostError"

/** Holds the lease for as long as the scope lives, renewing it; fails when it is lost. */
const holdLease = (
  key: ProjectionStore.Key,
  owner: string,
  ttl: Duration.Duration
): Effect.Effect<
  Effect.Effect<never, ProjectionStore.LeaseLostError | StoreError>,
  never,
  ProjectionStore.ProjectionStore | Scope.Scope
> =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    yield* Effect.addFinalizer(() => Effect.ignore(projections.releaseLease(key, owner)))
    const renew = Effect.flatMap(projections.acquireLease(key, owner, ttl), (held) =>
      held ? Effect.void : Effect.fail(new ProjectionStore.LeaseLostError({ ...key, owner }))
    )
    return renew.pipe(Effect.delay(thirdOf(ttl)), Effect.forever)
  })

/** Waits until the lease is ours, polling. */
const acquireLease = (key: ProjectionStore.Key, owner: string, ttl: Duration.Duration) =>
  Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
    projections.acquireLease(key, owner, ttl).pipe(
      Effect.repeat({
        schedule: Schedule.spaced(thirdOf(ttl)),
        until: (held) => held
      })
    )
  )

/**
 * Runs a projection in the background as a scoped layer: it takes the
 * projection's lease (waiting while another instance holds it), prepares the
 * read model, catches up from its checkpoint, then follows live events. It
 * stops cleanly, releasing the lease, when the layer's scope closes.
 *
 * With the `stop` policy a poison event stops the runner (status `failed`);
 * other errors (a lost connection, a lost lease) are logged and the runner
 * starts again after a pause.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Ref, Schema } from "effect"
 * import { InMemoryEventStore, Projection, ProjectionStore } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const total = Ref.unsafeMake(0)
 * const Totals = Projection.make({
 *   name: "totals",
 *   events: Deposited,
 *   handle: (recorded) => Ref.update(total, (t) => t + recorded.event.amount)
 * })
 *
 * const App = Projection.layer(Totals, { onFailure: "park" }).pipe(
 *   Layer.provideMerge(Layer.merge(InMemoryEventStore.layer, ProjectionStore.layerMemory))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: RunOptions
): Layer.Layer<never, never, EventStore | ProjectionStore.ProjectionStore | Exclude<R, Scope.Scope>> =>
  Layer.scopedDiscard(
    Effect.forkScoped(run(projection, options).pipe(Effect.tapError((error) => Effect.logError(error.message))))
  )

/**
 * The runner behind {@link layer}, as an Effect that runs until interrupted
 * (or until a poison event stops it under the `stop` policy).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const forever = Projection.run(Pings, { batchSize: 100 })
 * ```
 * @since 0.1.0
 * @category running
 */
export const run = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: RunOptions
): Effect.Effect<void, ProjectionFailed, EventStore | ProjectionStore.ProjectionStore | R> => {
  const owner = options?.owner ?? crypto.randomUUID()
  const ttl = Duration.decode(options?.leaseTtl ?? "10 seconds")
  const poll = Duration.decode(options?.pollInterval ?? "500 millis")
  const key = keyOf(projection)
  const once = Effect.scoped(
    Effect.gen(function* () {
      const store = yield* EventStore
      const projections = yield* ProjectionStore.ProjectionStore
      yield* projections.register(key, projection.filter)
      if (Option.isNone(yield* projections.activeVersion(key.name))) yield* projections.activate(key)
      yield* acquireLease(key, owner, ttl)
      const leaseLost = yield* holdLease(key, owner, ttl)
      yield* projection.setup(key)
      const process = yield* makeProcessor(projection, {
        owner,
        retry: options?.retry ?? defaultRetry,
        onFailure: options?.onFailure ?? "stop"
      })
      const record = yield* projections.get(key)
      const from = ProjectionStore.checkpointOrStart(Option.flatMap(record, (r) => r.checkpoint))
      const active = Option.exists(yield* projections.activeVersion(key.name), (v) => v === key.version)
      yield* projections.setState(key, active ? "running" : "rebuilding")
      const gauge = lagMetric.pipe(Metric.tagged("projection", key.name), Metric.tagged("version", `${key.version}`))
      // Status, lag metric and blue/green switch, refreshed while the runner lives.
      const monitor = Effect.gen(function* () {
        const current = yield* projections.get(key)
        const checkpoint = ProjectionStore.checkpointOrStart(Option.flatMap(current, (r) => r.checkpoint))
        const head = yield* store.head
        const done = yield* caughtUp(store, projection.filter, checkpoint)
        const lag = done ? 0 : lagBetween(checkpoint, head)
        yield* Metric.set(gauge, lag)
        const activeNow = yield* projections.activeVersion(key.name)
        if (done && (Option.isNone(activeNow) || activeNow.value < key.version)) {
          yield* projections.activate(key)
          yield* Effect.logInfo(`projection ${key.name} v${key.version} caught up and is now active`)
        }
        const isActive = done || Option.exists(activeNow, (v) => v === key.version)
        if (Option.exists(current, (r) => r.state === "failed")) return
        yield* projections.setState(key, done ? "caught-up" : isActive ? "running" : "rebuilding")
      }).pipe(Effect.catchAll((error) => Effect.logDebug(`projection ${key.name} status not refreshed`, error)))
      yield* monitor.pipe(Effect.repeat(Schedule.spaced(poll)), Effect.forkScoped)
      const follow = store
        .subscribe({ ...projection.filter, from, batchSize: options?.batchSize ?? 500, pollInterval: poll })
        .pipe(Stream.runForEachChunk((chunk) => process(Chunk.toReadonlyArray(chunk))))
      // The renewal runs beside; losing the lease makes the next (fenced)
      // checkpoint write fail, which restarts the runner. No race here: an
      // interrupted runner finishes its current commit before its scope, and
      // so its lease, is released.
      yield* leaseLost.pipe(
        Effect.catchAll((error) => Effect.logWarning(`projection ${key.name} v${key.version}: ${error.message}`)),
        Effect.forkScoped
      )
      return yield* follow
    })
  )
  const recordFailure = (failed: ProjectionFailed) =>
    Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
      projections.setState(key, "failed", failed.message)
    ).pipe(Effect.ignore, Effect.zipRight(Effect.fail(failed)))
  return once.pipe(
    Effect.catchAll(
      (error): Effect.Effect<never, ProjectionFailed | Restart, ProjectionStore.ProjectionStore> =>
        isProjectionFailed(error)
          ? recordFailure(error)
          : Effect.zipRight(
              Effect.logWarning(
                `projection ${key.name} v${key.version} interrupted: ${describeCause(error)}; restarting`
              ),
              Effect.fail(new Restart())
            )
    ),
    Effect.retry({
      while: (error) => !isProjectionFailed(error),
      schedule: Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("10 seconds")))
    }),
    Effect.catchAll((error) => (isProjectionFailed(error) ? Effect.fail(error) : Effect.void)),
    Effect.asVoid
  )
}

class Restart {
  readonly _tag = "Restart"
}

const isProjectionFailed = (error: unknown): error is ProjectionFailed => error instanceof ProjectionFailed

/**
 * The version being removed is the active one: activate another first.
 *
 * @example
 * ```ts
 * import { Projection } from "@chronicle/core"
 *
 * const error = new Projection.ProjectionActive({ name: "balances", version: 2 })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionActive extends Schema.TaggedError<ProjectionActive>()("ProjectionActive", {
  name: Schema.String,
  version: Schema.Number
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version} is the active version and cannot be dropped`
  }
}

/**
 * Options of {@link catchUp} and {@link rebuild}.
 *
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
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const done = Projection.catchUp(Pings).pipe(Stream.runForEach((p) => Effect.log(`${p.processed} events, lag ${p.lag}`)))
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
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const rebuilt = Projection.rebuild(Pings).pipe(Stream.runLast)
 * ```
 * @since 0.1.0
 * @category running
 */
export const rebuild = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options?: CatchUpOptions
): ProgressStream<Err, R> => runOnce(projection, options, true)

const runOnce = <E extends EventCodec.Tagged, Err, R>(
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
      yield* projections.register(key, projection.filter)
      if (Option.isNone(yield* projections.activeVersion(key.name))) yield* projections.activate(key)
      const wait = Duration.decode(options?.waitForLease ?? 0)
      // Always ask once (a timeout of zero would cancel a query in flight), then keep asking while allowed.
      const held =
        (yield* projections.acquireLease(key, owner, ttl)) ||
        (Duration.greaterThan(wait, Duration.zero) &&
          (yield* acquireLease(key, owner, ttl).pipe(Effect.timeoutOption(wait), Effect.map(Option.isSome))))
      if (!held) return yield* new ProjectionBusy(key)
      const leaseLost = yield* holdLease(key, owner, ttl)
      yield* leaseLost.pipe(Effect.forkScoped)
      yield* projection.setup(key)
      if (reset) {
        yield* projections.transaction(Effect.zipRight(projection.reset(key), projections.resetCheckpoint(key, owner)))
      }
      yield* projections.setState(key, "rebuilding")
      const process = yield* makeProcessor(projection, {
        owner,
        retry: options?.retry ?? defaultRetry,
        onFailure: options?.onFailure ?? "stop"
      })
      const head = yield* store.head
      const record = yield* projections.get(key)
      const from = ProjectionStore.checkpointOrStart(Option.flatMap(record, (r) => r.checkpoint))
      let processed = 0
      const progress = (checkpoint: Position.Position): Progress => ({
        name: key.name,
        version: key.version,
        processed,
        checkpoint,
        lag: lagBetween(checkpoint, head)
      })
      const finish = Effect.gen(function* () {
        // Everything this projection reads up to the head is handled: the
        // checkpoint moves to the head even when the last events were of
        // other types (nothing else processes this key while we hold its lease).
        const reached = ProjectionStore.checkpointOrStart(
          Option.flatMap(yield* projections.get(key), (r) => r.checkpoint)
        )
        if (Position.isAfter(head, reached)) yield* projections.saveCheckpoint(key, head, owner)
        yield* projections.setState(key, "caught-up")
        const active = yield* projections.activeVersion(key.name)
        if (Option.isNone(active) || active.value < key.version) yield* projections.activate(key)
      })
      return Stream.concat(
        Stream.make(progress(from)),
        store.readAll({ ...projection.filter, from, batchSize: options?.batchSize ?? 500 }).pipe(
          Stream.takeWhile((event) => Position.isAtOrAfter(head, event.position)),
          Stream.mapChunksEffect((chunk) => {
            const batch = Chunk.toReadonlyArray(chunk)
            const last = batch[batch.length - 1]
            if (last === undefined) return Effect.succeed(Chunk.empty<Progress>())
            return Effect.map(process(batch), () => {
              processed += batch.length
              return Chunk.of(progress(last.position))
            })
          })
        )
      ).pipe(Stream.concat(Stream.fromEffect(Effect.map(finish, () => progress(head)))))
    })
  )

/**
 * Waits until a projection has processed everything up to `position`, for
 * read-your-writes after a command: pass the command's position. It reads
 * the projection's record from the `ProjectionStore`, so it works across
 * processes. Fails with `ProjectionTimeout` after `timeout` (default 10 s),
 * or `ProjectionNotFound` if no projection of that name registered by then.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Position, Projection } from "@chronicle/core"
 *
 * const readYourWrites = (position: Option.Option<Position.Position>) =>
 *   Option.match(position, {
 *     onNone: () => Effect.void,
 *     onSome: (p) => Projection.waitFor("balances", p, { timeout: "5 seconds" })
 *   })
 * ```
 * @since 0.1.0
 * @category consistency
 */
export const waitFor = (
  name: string,
  position: Position.Position,
  options?: {
    readonly timeout?: Duration.DurationInput | undefined
    /** A specific version; defaults to the active one. */
    readonly version?: number | undefined
    /** How often to look. Default 20 ms. */
    readonly interval?: Duration.DurationInput | undefined
  }
): Effect.Effect<
  void,
  ProjectionTimeout | ProjectionNotFound | StoreError,
  EventStore | ProjectionStore.ProjectionStore
> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const projections = yield* ProjectionStore.ProjectionStore
    const timeout = Duration.decode(options?.timeout ?? "10 seconds")
    // "missing" while no such projection is registered: right after start-up a
    // runner may not have registered yet, so keep looking until the timeout.
    const look = Effect.gen(function* () {
      const version = options?.version ?? Option.getOrUndefined(yield* projections.activeVersion(name))
      if (version === undefined) return "missing" as const
      const record = yield* projections.get({ name, version })
      if (Option.isNone(record)) return "missing" as const
      const checkpoint = ProjectionStore.checkpointOrStart(record.value.checkpoint)
      if (Position.isAtOrAfter(checkpoint, position)) return "reached" as const
      // Nothing this projection reads lies between its checkpoint and the position.
      const head = yield* store.head
      if (!Position.isAtOrAfter(head, position)) return "pending" as const
      const next = yield* Stream.runHead(
        store.readAll({ ...record.value.filter, from: checkpoint, limit: 1, batchSize: 1 })
      )
      return Option.match(next, {
        onNone: () => "reached" as const,
        onSome: (event) => (Position.isAfter(event.position, position) ? ("reached" as const) : ("pending" as const))
      })
    })
    let last: "missing" | "pending" | "reached" = "missing"
    yield* look.pipe(
      Effect.tap((outcome) => {
        last = outcome
      }),
      Effect.repeat({ schedule: Schedule.spaced(options?.interval ?? "20 millis"), until: (o) => o === "reached" }),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          last === "missing"
            ? new ProjectionNotFound({ name: options?.version === undefined ? name : `${name} v${options.version}` })
            : new ProjectionTimeout({ name, position: position.toString(), timeoutMillis: Duration.toMillis(timeout) })
      })
    )
  }).pipe(Effect.withSpan("Chronicle.Projection.waitFor", { attributes: { projection: name } }))

/**
 * The status of every version of every projection (or of one name).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * const report = Effect.flatMap(Projection.status(), (all) =>
 *   Effect.forEach(all, (s) => Effect.log(`${s.name} v${s.version}: ${s.state}, lag ${s.lag}`))
 * )
 * ```
 * @since 0.1.0
 * @category observability
 */
export const status = (
  name?: string
): Effect.Effect<ReadonlyArray<Status>, StoreError, EventStore | ProjectionStore.ProjectionStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const projections = yield* ProjectionStore.ProjectionStore
    const head = yield* store.head
    const records = (yield* projections.list).filter((r) => name === undefined || r.name === name)
    return yield* Effect.forEach(records, (record) =>
      Effect.gen(function* () {
        const checkpoint = ProjectionStore.checkpointOrStart(record.checkpoint)
        const done = yield* caughtUp(store, record.filter, checkpoint)
        const parked = yield* projections.parked(record)
        return {
          name: record.name,
          version: record.version,
          active: record.active,
          state: record.state,
          checkpoint: record.checkpoint,
          lag: done ? 0 : lagBetween(checkpoint, head),
          error: record.error,
          parked: parked.length
        }
      })
    )
  })

/**
 * Removes an inactive version of a projection: its read model (the
 * projection's `teardown`) and its record. The old version of a blue/green
 * switch stays until this is called.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const PingsV1 = Projection.make({ name: "pings", version: 1, events: Pinged, handle: () => Effect.void })
 * const dropOld = Projection.drop(PingsV1)
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
 * import { Projection } from "@chronicle/core"
 *
 * const list = Projection.parked({ name: "balances", version: 1 })
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
 * after the handler was fixed. Each replay commits with the removal of the
 * event from the parked list; an event that fails again stays parked, and its
 * error is reported.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const retried = Projection.replayParked(Pings)
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
        projections.transaction(
          Effect.gen(function* () {
            const decoded = yield* projection.codec.decode(event)
            yield* projection.handle([decoded], key)
            yield* projections.unpark(key, event.eventId)
          })
        )
      )
      if (Either.isRight(outcome)) replayed++
      else stillFailing.push({ eventId: event.eventId, reason: describeCause(outcome.left) })
    }
    return { replayed, stillFailing }
  })
