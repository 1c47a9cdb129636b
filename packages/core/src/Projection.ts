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
 * - A passing fault never skips an event. A handler error is retried without
 *   end, with a capped exponential backoff, and the status says `retrying`
 *   (why, and how many attempts). Only bad data follows the policy: an event
 *   that does not decode, or a handler error that the projection's
 *   `isBadData` accepts, is retried on the `retry` schedule, then `stop`
 *   (status `failed`, a typed `ProjectionFailed`) or `park` (the event goes
 *   to the dead-letter list with its cause, and the projection goes on). A
 *   defect in a handler stops the projection at the event.
 * - Blue/green: bumping `version` builds the new read model from the start,
 *   beside the old one, and activates it once it has caught up. The old one
 *   is removed only by `Projection.drop`.
 * - One instance per name and version processes at a time across processes,
 *   held by a lease in the `ProjectionStore`. An instance that loses its
 *   lease stops processing at once.
 * - `waitFor` gives read-your-writes; `status` reports state, checkpoint and
 *   lag (the events still to process), and shows a state no live runner
 *   stands behind as `stale`; a `Metric` tracks the lag and every batch runs
 *   in a span.
 *
 * @since 0.1.0
 */
import {
  Chunk,
  Clock,
  type DateTime,
  Duration,
  Effect,
  Either,
  Layer,
  Metric,
  Option,
  Ref,
  Schedule,
  Schema,
  type Scope,
  Stream
} from "effect"
import * as Correlation from "./Correlation.js"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "./Event.js"
import * as EventCodec from "./EventCodec.js"
import { type EventFilter, EventStore } from "./EventStore.js"
import { describeError } from "./internal/describe.js"
import * as Failure from "./internal/projection/failure.js"
import * as Lag from "./internal/projection/lag.js"
import * as Lease from "./internal/projection/lease.js"
import * as Metrics from "./Metrics.js"
import * as Position from "./Position.js"
import * as ProjectionStore from "./ProjectionStore.js"
import type { StoreError } from "./StoreError.js"

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
  /**
   * `true` for a handler error that the event itself causes, so that no
   * retry can succeed (bad data): such an event follows the `onFailure`
   * policy. Every other handler error is a passing fault, retried without
   * end. Defaults to none.
   */
  readonly isBadData: (error: Err) => boolean
}

/**
 * Defines a projection. Give `handle` for one event at a time, or
 * `handleBatch` for handlers that write many rows at once.
 *
 * A handler error is a passing fault by default (a lost connection, a lock,
 * a timeout): the runner retries it without end and never skips the event.
 * Give `isBadData` to say which errors mean the event itself is bad: those
 * follow the runner's `onFailure` policy (`stop` or `park`). An event that
 * does not decode is always bad data.
 *
 * @example
 * ```ts
 * import { Effect, Ref, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * class NegativeAmount extends Schema.TaggedError<NegativeAmount>()("NegativeAmount", {}) {}
 *
 * const total = Ref.unsafeMake(0)
 * export const Totals = Projection.make({
 *   name: "totals",
 *   version: 1,
 *   events: Deposited,
 *   categories: ["Wallet"],
 *   handle: (recorded) =>
 *     recorded.event.amount < 0
 *       ? Effect.fail(new NegativeAmount())
 *       : Ref.update(total, (t) => t + recorded.event.amount),
 *   // retrying cannot help with a negative amount: park or stop on it
 *   isBadData: (error) => error._tag === "NegativeAmount"
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
  ) & {
      /** Which handler errors mean bad data (the policy applies); all others are retried without end. */
      readonly isBadData?: ((error: NoInfer<Err>) => boolean) | undefined
    }
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
    teardown: definition.teardown ?? (() => Effect.void),
    isBadData: definition.isBadData ?? (() => false)
  }
}

/**
 * A projection stopped at one event: bad data under the `stop` policy (an
 * event that does not decode, or a handler error its `isBadData` accepts,
 * still failing after the `retry` schedule), or a defect in its handler.
 * The checkpoint stays before the event. `reason` reads well; `cause` is the
 * original error (or defect), kept whole.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * const alert = (e: Projection.ProjectionFailed) => Effect.logError(e.message, e.cause)
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionFailed extends Schema.TaggedError<ProjectionFailed>()("ProjectionFailed", {
  name: Schema.String,
  version: Schema.Number,
  position: Schema.String,
  eventId: Schema.String,
  reason: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version} stopped at event ${this.eventId} (position ${this.position}): ${this.reason}`
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
  /**
   * How an event with bad data (see `isBadData`) is retried before the
   * `onFailure` policy applies. Default: 5 retries, exponential from 50 ms.
   * Passing faults do not use it: they are retried without end.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  /** What happens to an event with bad data once `retry` is exhausted. Default `stop`. */
  readonly onFailure?: "stop" | "park" | undefined
  /**
   * The longest pause between two attempts after a passing fault (a failed
   * batch, or a runner restart after an outage): the backoff is exponential
   * from 50 ms up to this. Default 2 s, so that a runner resumes promptly
   * once the database is back.
   */
  readonly maxBackoff?: Duration.DurationInput | undefined
  /** How long a lease lasts without renewal; it is renewed every third of it, and by every checkpoint write. Default 10 s. */
  readonly leaseTtl?: Duration.DurationInput | undefined
  /** The owner name of this instance in leases. Default: a random id. */
  readonly owner?: string | undefined
  /** How often an idle runner re-checks for events and updates its status. Default 500 ms. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * How many events a lag count reads at most before it reports a lower
   * bound instead. Default 1,000 for a running projection's lag gauge,
   * 10,000 for the progress of `catchUp` and `rebuild`.
   */
  readonly lagLimit?: number | undefined
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
  /** When a runner last wrote its record (its state or checkpoint). `status` always sets it. */
  readonly updatedAt?: DateTime.Utc | undefined
}

const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("50 millis").pipe(
  Schedule.intersect(Schedule.recurs(5))
)

const keyOf = <E extends EventCodec.Tagged, Err, R>(projection: Projection<E, Err, R>): ProjectionStore.Key => ({
  name: projection.name,
  version: projection.version
})

const labelOf = (key: ProjectionStore.Key): string => `projection ${key.name} v${key.version}`

/** The state to report for a stored record and its counted lag. */
const reportedState = (record: ProjectionStore.Record, lag: Lag.Lag): Status["state"] => {
  const stored = record.state
  if (stored === "failed" || stored === "stopped") return stored
  if (Option.isNone(record.lease)) return stored === "caught-up" && lag.count === 0 ? stored : "stale"
  if (stored === "caught-up" && lag.count > 0) return record.active ? "running" : "rebuilding"
  return stored
}

/** Logs the first few attempts, then every tenth. */
const worthLogging = (attempt: number): boolean => attempt <= 5 || attempt % 10 === 0

/** Registers a projection version, and activates it when no version of its name is active. */
const register = (key: ProjectionStore.Key, filter: EventFilter) =>
  Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
    Effect.zipRight(
      projections.register(key, filter),
      Effect.flatMap(projections.activeVersion(key.name), (active) =>
        Option.isNone(active) ? projections.activate(key) : Effect.void
      )
    )
  )

interface ProcessorOptions {
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
 */
const makeProcessor = <E extends EventCodec.Tagged, Err, R>(
  projection: Projection<E, Err, R>,
  options: ProcessorOptions
) =>
  Effect.gen(function* () {
    const projections = yield* ProjectionStore.ProjectionStore
    const key = keyOf(projection)
    const label = labelOf(key)
    const context: Context = key
    const { lease, owner } = options
    type Failed = Err | EventDecodeError | StoreError | ProjectionStore.LeaseLostError | Failure.HandlerDefect
    const verdict = (error: Failed): Failure.Verdict => Failure.classify(error, projection.isBadData)

    const decode = (event: StoredEvent): Either.Either<RecordedEvent<E>, EventDecodeError> =>
      projection.codec.decode(event)

    // Handler and checkpoint in one transaction; the checkpoint write renews the lease.
    const commit = (events: ReadonlyArray<StoredEvent>, last: StoredEvent): Effect.Effect<void, Failed, R> =>
      Effect.gen(function* () {
        yield* lease.check
        const since = yield* Clock.currentTimeMillis
        yield* projections.transaction(
          Effect.gen(function* () {
            const decoded = yield* Effect.forEach(events, decode)
            yield* projection.handle(decoded, context)
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

/**
 * Runs a projection in the background as a scoped layer: it registers the
 * projection while the layer builds (so `AwaitProjections.caughtUp()` and
 * `waitFor` know it from then on), then, in the background, takes the
 * projection's lease (waiting while another instance holds it), prepares the
 * read model, catches up from its checkpoint and follows live events. It
 * stops cleanly, releasing the lease, when the layer's scope closes.
 *
 * It recovers from any outage by itself: a passing fault in a batch is
 * retried in place, a failed subscription or a lost lease restarts the
 * runner, each with a backoff capped at `maxBackoff`, logged and shown in
 * the status. Only bad data under the `stop` policy, or a defect in a
 * handler, stops it for good (status `failed`).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Ref, Schema } from "effect"
 * import { Projection, ProjectionStore, EventStore } from "@chronicle/core"
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
 *   Layer.provideMerge(Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory))
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

/**
 * The runner behind {@link layer}, as an Effect that runs until interrupted
 * (or until bad data under the `stop` policy, or a defect in a handler,
 * stops it with `ProjectionFailed`).
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
        yield* projections.setState(key, done ? "caught-up" : active ? "running" : "rebuilding")
      }).pipe(Effect.catchAll((error) => Effect.logDebug(`${label} status not refreshed: ${describeError(error)}`)))
      yield* monitor.pipe(Effect.repeat({ schedule: Schedule.spaced(poll) }), Effect.forkScoped)
      const follow = store
        .subscribe({ ...projection.filter, from, batchSize: options?.batchSize ?? 500, pollInterval: poll })
        .pipe(Stream.runForEachChunk((chunk) => process(Chunk.toReadonlyArray(chunk))))
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
 * The status of every version of every projection (or of one name). The lag
 * is counted: the events each one still has to process (what it reads after
 * its checkpoint), up to `lagLimit` (default 10,000), beyond which it is a
 * lower bound (`lagExact: false`). A state that no live runner stands
 * behind reads `stale`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * const report = Effect.flatMap(Projection.status(), (all) =>
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
  }).pipe(Effect.withSpan("Chronicle.Projection.status"))

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
 * after the handler was fixed. Each replay first claims the event (removes
 * it from the parked list, in the same transaction as the handler's writes),
 * so two replays running at once never apply one event twice. An event that
 * fails again stays parked, and its error is reported.
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
        projections
          .transaction(
            Effect.gen(function* () {
              // Claim it first: a concurrent replay that claimed it already wins,
              // and on a database the row lock makes this one wait for its outcome.
              if (!(yield* projections.unpark(key, event.eventId))) return false
              const decoded = yield* projection.codec.decode(event)
              yield* projection.handle([decoded], key)
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
  }).pipe(Effect.withSpan("Chronicle.Projection.replayParked", { attributes: { projection: projection.name } }))
