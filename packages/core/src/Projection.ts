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
 *   is removed only by `ProjectionAdmin.drop`.
 * - One instance per name and version processes at a time across processes,
 *   held by a lease in the `ProjectionStore`. An instance that loses its
 *   lease stops processing at once.
 * - `waitFor` gives read-your-writes; a `Metric` tracks the lag and every
 *   batch runs in a span.
 * - Administration (one-shot `catchUp` and `rebuild`, `status`, `drop`, the
 *   parked events) lives in `ProjectionAdmin`; the errors in `ProjectionError`.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Either, Layer, Schedule, Schema, Scope } from "effect"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "./Event.js"
import type * as EventCodec from "./EventCodec.js"
import type { EventFilter, EventStore } from "./EventStore.js"
import * as Definition_ from "./internal/projection/definition.js"
import * as Runner from "./internal/projection/runner.js"
import type * as Source_ from "./internal/projection/source.js"
import * as WaitFor from "./internal/projection/waitFor.js"
import type * as Position from "./Position.js"
import type { ProjectionFailed, ProjectionNotFound, ProjectionTimeout } from "./ProjectionError.js"
import type * as ProjectionStore from "./ProjectionStore.js"
import type { StoreError } from "./StoreError.js"

/**
 * A projection definition: what the runner, `ProjectionAdmin` and inline
 * projections use. Build one with {@link make}.
 *
 * `decode` and `handleBatch` are methods so that a projection over some
 * events is also a {@link Any} (a list of projections over different events
 * type-checks); `decode` only ever yields events `handleBatch` accepts.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings: Projection.Projection<Pinged, never, never> = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * const describe = (projection: Projection.Any) =>
 *   `${projection.name} v${projection.version} reads ${(projection.filter.types ?? []).join(", ")}`
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Projection<E extends EventCodec.Tagged, Err, R> {
  readonly name: string
  readonly version: number
  /** The stored events it reads (types, old names included, and categories). */
  readonly filter: EventFilter
  /** Decodes a stored event it reads, upcasting it first. */
  decode(stored: StoredEvent): Either.Either<RecordedEvent<E>, EventDecodeError>
  /** Applies a batch of events, in order. */
  handleBatch(events: ReadonlyArray<RecordedEvent<E>>, key: ProjectionStore.Key): Effect.Effect<void, Err, R>
  /** Prepares the read model of a version (for example CREATE TABLE IF NOT EXISTS). Must be idempotent. */
  readonly setup: (key: ProjectionStore.Key) => Effect.Effect<void, Err, R>
  /** Empties the read model of a version, for a rebuild. */
  readonly reset: (key: ProjectionStore.Key) => Effect.Effect<void, Err, R>
  /** Removes the read model of a version, for `drop`. */
  readonly teardown: (key: ProjectionStore.Key) => Effect.Effect<void, Err, R>
  /**
   * `true` for a handler error that the event itself causes, so that no
   * retry can succeed (bad data): such an event follows the `onFailure`
   * policy. Every other handler error is a passing fault, retried without
   * end. Defaults to none.
   */
  isBadData(error: Err): boolean
}

/**
 * Any projection, whatever events it reads, for lists of projections over
 * different events; `Any<Err, R>` keeps the handlers' errors and services.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * class Ponged extends Schema.TaggedClass<Ponged>()("Ponged", {}) {}
 *
 * const registry: ReadonlyArray<Projection.Any<never, never>> = [
 *   Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void }),
 *   Projection.make({ name: "pongs", events: Ponged, handle: () => Effect.void })
 * ]
 * const layers = registry.map((projection) => Projection.layer(projection))
 * ```
 * @since 0.6.0
 * @category models
 */
export type Any<Err = unknown, R = unknown> = Projection<EventCodec.Tagged, Err, R>

/**
 * The handler error type of a projection type.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * class Negative extends Schema.TaggedError<Negative>()("Negative", {}) {}
 * const Totals = Projection.make({
 *   name: "totals",
 *   events: Deposited,
 *   handle: (recorded) => (recorded.event.amount < 0 ? Effect.fail(new Negative()) : Effect.void)
 * })
 * const isBadData = (error: Projection.ErrorOf<typeof Totals>): boolean => error._tag === "Negative"
 * ```
 * @since 0.6.0
 * @category type-level
 */
export type ErrorOf<P> = P extends Projection<infer _E, infer Err, infer _R> ? Err : never

/**
 * The requirements (services) of a projection type's handlers.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Mailer extends Context.Tag("Mailer")<Mailer, { readonly send: (to: string) => Effect.Effect<void> }>() {}
 * class Registered extends Schema.TaggedClass<Registered>()("Registered", { email: Schema.String }) {}
 * const Welcome = Projection.make({
 *   name: "welcome",
 *   events: Registered,
 *   handle: (recorded) => Effect.flatMap(Mailer, (mailer) => mailer.send(recorded.event.email))
 * })
 * const needs: Layer.Layer<Projection.RequirementsOf<typeof Welcome>> = Layer.succeed(Mailer, { send: () => Effect.void })
 * ```
 * @since 0.6.0
 * @category type-level
 */
export type RequirementsOf<P> = P extends Projection<infer _E, infer _Err, infer R> ? R : never

/**
 * The parts of a definition every form of {@link make} shares.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const common: Projection.Definition<never, never> = {
 *   name: "totals",
 *   version: 2,
 *   categories: ["Wallet"],
 *   setup: (key) => Effect.log(`preparing ${key.name} v${key.version}`)
 * }
 * const Totals = Projection.make({ ...common, events: Deposited, handle: () => Effect.void })
 * ```
 * @since 0.6.0
 * @category models
 */
export interface Definition<Err, R> {
  readonly name: string
  readonly version?: number | undefined
  /** Only events of streams in these categories (with `from: Aggregate`, default: the aggregate's). */
  readonly categories?: ReadonlyArray<string> | undefined
  /** Prepares the read model of a version (for example CREATE TABLE IF NOT EXISTS). Must be idempotent. */
  readonly setup?: ((key: ProjectionStore.Key) => Effect.Effect<void, Err, R>) | undefined
  /** Empties the read model of a version, for a rebuild. */
  readonly reset?: ((key: ProjectionStore.Key) => Effect.Effect<void, Err, R>) | undefined
  /** Removes the read model of a version, for `ProjectionAdmin.drop`. */
  readonly teardown?: ((key: ProjectionStore.Key) => Effect.Effect<void, Err, R>) | undefined
}

/**
 * The handler of a definition: `handle` for one event at a time, or
 * `handleBatch` for a batch (to write many rows at once), and `isBadData`.
 *
 * @example
 * ```ts
 * import { Effect, Ref, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const total = Ref.unsafeMake(0)
 * // one update per batch rather than per event
 * const handlers: Projection.Handlers<Deposited, never, never> = {
 *   handleBatch: (events) => Ref.update(total, (t) => events.reduce((sum, recorded) => sum + recorded.event.amount, t))
 * }
 * const Totals = Projection.make({ name: "totals", events: Deposited, ...handlers })
 * ```
 * @since 0.6.0
 * @category models
 */
export type Handlers<E extends EventCodec.Tagged, Err, R> = (
  | {
      /** Applies one event (in its correlation context). */
      readonly handle: (event: RecordedEvent<E>, key: ProjectionStore.Key) => Effect.Effect<void, Err, R>
      readonly handleBatch?: undefined
    }
  | {
      /** Applies a batch of events, in order. */
      readonly handleBatch: (
        events: ReadonlyArray<RecordedEvent<E>>,
        key: ProjectionStore.Key
      ) => Effect.Effect<void, Err, R>
      readonly handle?: undefined
    }
) & {
  /** Which handler errors mean bad data (the policy applies); all others are retried without end. */
  readonly isBadData?: ((error: NoInfer<Err>) => boolean) | undefined
}

/**
 * Where a projection reads its events: an aggregate (its codec, with its
 * upcasters, and its stream category) or an `EventCodec`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { EventCodec, Projection, Upcaster } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const source: Projection.Source<Deposited> = EventCodec.make(Deposited, {
 *   upcasters: [Upcaster.rename({ from: "MoneyDeposited", to: "Deposited", version: 1 })]
 * })
 * const Deposits = Projection.make({ name: "deposits", from: source, handle: () => Effect.void })
 * ```
 * @since 0.6.0
 * @category models
 */
export type Source<E extends EventCodec.Tagged> = Decoder<E> | { readonly name: string; readonly codec: Decoder<E> }

/**
 * What a projection needs of a codec: the types it knows and reads, its
 * upcasters, and `decode` (an `EventCodec` is one).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { EventCodec, Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const decoder: Projection.Decoder<Deposited> = EventCodec.make(Deposited)
 * const reads = decoder.storedTypes // ["Deposited"]
 * ```
 * @since 0.6.0
 * @category models
 */
export type Decoder<E extends EventCodec.Tagged> = Pick<
  EventCodec.EventCodec<E>,
  "types" | "storedTypes" | "decode" | "upcasters"
>

/**
 * Defines a projection. Three forms:
 *
 * - `from: Aggregate, events: ["Tag", ...]`: some of an aggregate's events,
 *   decoded with its codec, so its upcasters apply and old events reach the
 *   handler. The handler's event type is narrowed to the listed tags; a tag
 *   the aggregate does not have is a type error. Reads the aggregate's
 *   category unless `categories` says otherwise. Without `events`, all of them.
 * - `from: codec` (an `EventCodec`, e.g. `EventCodec.make(schema, { upcasters })`),
 *   optionally with `events: ["Tag", ...]` as above, in every category unless
 *   `categories` narrows it.
 * - `events: Schema` (a tagged Schema or union) for events with no older
 *   stored versions.
 *
 * Give `handle` for one event at a time, or `handleBatch` for handlers that
 * write many rows at once. A handler error is a passing fault by default (a
 * lost connection, a lock, a timeout): the runner retries it without end and
 * never skips the event. Give `isBadData` to say which errors mean the event
 * itself is bad: those follow the runner's `onFailure` policy (`stop` or
 * `park`). An event that does not decode is always bad data.
 *
 * @example
 * ```ts
 * import { Effect, Ref, Schema } from "effect"
 * import { Aggregate, Projection } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Int }) {}
 * class NegativeAmount extends Schema.TaggedError<NegativeAmount>()("NegativeAmount", {}) {}
 *
 * const Wallet = Aggregate.make({ name: "Wallet", events: Schema.Union(Deposited, Withdrawn), commands: Deposited,
 *   initialState: 0, evolve: (n: number) => n + 1, decide: (command) => Effect.succeed(command) })
 *
 * const total = Ref.unsafeMake(0)
 * export const Totals = Projection.make({
 *   name: "totals",
 *   from: Wallet,
 *   events: ["Deposited"],
 *   handle: (recorded) =>
 *     recorded.event.amount < 0
 *       ? Effect.fail(new NegativeAmount())
 *       : Ref.update(total, (t) => t + recorded.event.amount),
 *   // retrying cannot help with a negative amount: park or stop on it
 *   isBadData: (error) => error._tag === "NegativeAmount"
 * })
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * export const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export function make<E extends EventCodec.Tagged, const Tag extends E["_tag"], Err = never, R = never>(
  definition: Definition<Err, R> & {
    /** The aggregate (or codec) whose events to read. */
    readonly from: Source<E>
    /** Which of its events to read, by tag. */
    readonly events: ReadonlyArray<Tag>
  } & Handlers<NoInfer<Source_.Narrowed<E, Tag>>, Err, R>
): Projection<Source_.Narrowed<E, Tag>, Err, R>
export function make<E extends EventCodec.Tagged, Err = never, R = never>(
  definition: Definition<Err, R> & {
    /** The aggregate (or codec) whose events to read: all of them. */
    readonly from: Source<E>
    readonly events?: undefined
  } & Handlers<NoInfer<E>, Err, R>
): Projection<E, Err, R>
export function make<E extends EventCodec.Tagged, I, Err = never, R = never>(
  definition: Definition<Err, R> & {
    readonly from?: undefined
    /** The events to read: a tagged Schema (union) with no older stored versions. */
    readonly events: Schema.Schema<E, I, never>
  } & Handlers<NoInfer<E>, Err, R>
): Projection<E, Err, R>
export function make<E extends EventCodec.Tagged, I, Err, R>(
  definition: Definition<Err, R> & {
    readonly from?: Source<E> | undefined
    readonly events?: Schema.Schema<E, I, never> | ReadonlyArray<E["_tag"]> | undefined
  } & Handlers<E, Err, R>
): Projection<E, Err, R> {
  return Definition_.make(definition)
}

/**
 * How a runner behaves.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Projection } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const Pings = Projection.make({ name: "pings", events: Pinged, handle: () => Effect.void })
 *
 * const options: Projection.RunOptions = { batchSize: 100, onFailure: "park", leaseTtl: "30 seconds" }
 * const running = Projection.layer(Pings, options)
 * ```
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
 * import { EventStore, Projection, ProjectionStore } from "@chronicle/core"
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
  Runner.layer(projection, options)

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
): Effect.Effect<void, ProjectionFailed, EventStore | ProjectionStore.ProjectionStore | R> =>
  Runner.run(projection, options)

/**
 * Options of {@link waitFor}.
 *
 * @example
 * ```ts
 * import { Position, Projection } from "@chronicle/core"
 *
 * const options: Projection.WaitForOptions = { timeout: "5 seconds", interval: "50 millis" }
 * const readYourWrites = (position: Position.Position) => Projection.waitFor("balances", position, options)
 * ```
 * @since 0.6.0
 * @category consistency
 */
export interface WaitForOptions {
  /** How long to wait at most. */
  readonly timeout?: Duration.DurationInput | undefined
  /** A specific version; defaults to the active one. */
  readonly version?: number | undefined
  /** How often to look. Default 20 ms. */
  readonly interval?: Duration.DurationInput | undefined
}

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
  options?: WaitForOptions
): Effect.Effect<
  void,
  ProjectionTimeout | ProjectionNotFound | StoreError,
  EventStore | ProjectionStore.ProjectionStore
> => WaitFor.waitFor(name, position, options)
