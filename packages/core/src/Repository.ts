/**
 * Typed command handling for one aggregate: load the stream, fold it, decide,
 * and append with the expected version, retrying on conflict.
 *
 * - A command may carry a `commandId`. Event ids are derived from it, so
 *   executing the same command id twice on a stream appends once: retries
 *   and saga steps are safe. A repeated command id is recognised from the
 *   stream's events (their causation id) and, where a snapshot hides older
 *   events, by the store, which refuses the derived event ids a second time
 *   (the repeat then returns the first result if it decides the same events).
 * - The causation id of the recorded events is the command id; the
 *   correlation id is the ambient one (see `Correlation`), or the command id
 *   when none is set.
 * - Commands are validated against the aggregate's command Schema, so bad
 *   input is a typed `InvalidCommandError`, never a defect.
 * - A command is always decided on the state at exactly the version its
 *   events are appended against: a cached or caller-supplied version never
 *   lets a decision made on older state through.
 * - A snapshot is checked against the stream it claims (its version lies
 *   within the stream, and the event at that version has the snapshot's
 *   position) before it is used; one that does not match is ignored with a
 *   warning. A snapshot's *content* is trusted as a cache: `verify` folds the
 *   whole stream and compares it with every stored snapshot, to detect
 *   tampering.
 *
 * @since 0.1.0
 */
import { Context, type Effect, Layer, type Option, Schedule, Schema, type Stream } from "effect"
import type * as Aggregate from "./Aggregate.js"
import type { ConcurrencyError, InvalidAppendError, UnknownOutcomeError } from "./AppendError.js"
import type * as Audit from "./Audit.js"
import type { EventDecodeError, EventEncodeError, RecordedEvent, UserMetadata } from "./Event.js"
import type * as EventCodec from "./EventCodec.js"
import type { EventStore } from "./EventStore.js"
import type * as ExpectedVersion from "./ExpectedVersion.js"
import * as internal from "./internal/repository/make.js"
import type { Position } from "./Position.js"
import type * as SnapshotStore from "./SnapshotStore.js"
import type { StoreError } from "./StoreError.js"
import type * as TimeTravel from "./TimeTravel.js"

/**
 * A command did not pass the aggregate's command Schema, or named an invalid
 * aggregate id. Nothing was written.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Repository, EventStore } from "@chronicle/core"
 *
 * const explain = (e: Repository.InvalidCommandError) => Effect.logWarning(e.message)
 * ```
 * @since 0.1.0
 * @category errors
 */
export class InvalidCommandError extends Schema.TaggedError<InvalidCommandError>()("InvalidCommandError", {
  aggregate: Schema.String,
  id: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid command for ${this.aggregate} "${this.id}": ${this.reason}`
  }
}

/**
 * The options given to {@link make} (or {@link Tag}) are invalid: `pageSize`
 * or `cache.capacity` is not a whole number of 1 or more (0, negative,
 * fractional, `NaN`, `Infinity`). Nothing was built. `option` names the
 * option, `value` is what was given.
 *
 * Only options that can hold such a value make it possible: `make` and
 * `Tag` given no options, or options without `pageSize` and without a
 * `cache` capacity (say `{ cache: false, snapshots }`), cannot fail with it
 * (their error type is `never`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate, EventStore, Repository } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (n: number, e) => n + e.by,
 *   decide: (c) => Effect.succeed(new Incremented({ by: c.by }))
 * })
 *
 * const pageSize = Number(process.env.PAGE_SIZE ?? "500")
 * const counters = Repository.make(Counter, { pageSize }).pipe(
 *   Effect.catchTag("RepositoryOptionsError", (e) => Effect.dieMessage(e.message)), // "pageSize must be ..."
 *   Effect.provide(EventStore.layerMemory())
 * )
 * ```
 * @since 0.7.0
 * @category errors
 */
export class RepositoryOptionsError extends Schema.TaggedError<RepositoryOptionsError>()("RepositoryOptionsError", {
  /** The aggregate the repository was for. */
  aggregate: Schema.String,
  option: Schema.Literal("pageSize", "cache.capacity"),
  value: Schema.Unknown
}) {
  override get message(): string {
    return `Repository of ${this.aggregate}: ${this.option} must be a whole number of 1 or more, got ${String(this.value)}`
  }
}

/**
 * The options that cannot be invalid: without `pageSize`, and without a
 * `cache` capacity (the cache off, or left to its default). Given such
 * options (or none), {@link make} and {@link Tag} cannot fail.
 *
 * @example
 * ```ts
 * import { Effect, Schedule, Schema } from "effect"
 * import { Aggregate, Repository } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * const Counter = Aggregate.make({ name: "Counter", events: Incremented, commands: Incremented, initialState: 0,
 *   evolve: (n: number, e) => n + e.by, decide: (c) => Effect.succeed(c) })
 *
 * const options: Repository.CheckedOptions<number> = { retry: Schedule.recurs(3), cache: false }
 * const counters = Repository.make(Counter, options) // cannot fail: no RepositoryOptionsError in its type
 * ```
 * @since 0.7.0
 * @category models
 */
export type CheckedOptions<S = unknown> = Options<S> & {
  readonly pageSize?: undefined
  readonly cache?: false | undefined
}

/**
 * Everything `execute` can fail with, besides the aggregate's domain errors.
 *
 * @example
 * ```ts
 * import type { Repository } from "@chronicle/core"
 *
 * const httpStatus = (error: Repository.ExecuteError): number => {
 *   switch (error._tag) {
 *     case "InvalidCommandError":
 *     case "InvalidAppendError":
 *       return 400
 *     case "ConcurrencyError":
 *       return 409
 *     default:
 *       return 500
 *   }
 * }
 * ```
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError =
  | InvalidCommandError
  | ConcurrencyError
  | InvalidAppendError
  | StoreError
  | UnknownOutcomeError
  | EventDecodeError
  | EventEncodeError

/**
 * Everything `load` can fail with.
 *
 * @example
 * ```ts
 * import type { Repository } from "@chronicle/core"
 *
 * const httpStatus = (error: Repository.LoadError): number => (error._tag === "InvalidCommandError" ? 400 : 500)
 * ```
 * @since 0.1.0
 * @category errors
 */
export type LoadError = InvalidCommandError | StoreError | EventDecodeError

/**
 * Options of `execute`.
 *
 * @example
 * ```ts
 * import type { Repository } from "@chronicle/core"
 *
 * // the form showed version 3: refuse the command if the account changed since
 * const options: Repository.ExecuteOptions = { commandId: "req-42", expectedVersion: 3, metadata: { userId: "u-1" } }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface ExecuteOptions {
  /**
   * Identifies the command. The same id executed twice on a stream appends
   * once. Defaults to a new random id.
   */
  readonly commandId?: string | undefined
  /**
   * What the caller expects of the stream, in the vocabulary of appends
   * (`AppendOptions.expectedVersion`); a number `n` means
   * `ExpectedVersion.exact(n)`.
   * - `exact(n)` (or `n`): the version the caller last saw (for example in a
   *   form it rendered). The command is decided on the state at exactly this
   *   version and appended against it: when the stream is at another
   *   version, `execute` fails at once with a `ConcurrencyError` (carrying
   *   the actual version), without deciding and without retrying.
   * - `NoStream`: the same as `exact(0)`: the command must create the stream.
   * - `StreamExists`: the stream must have an event already; otherwise a
   *   `ConcurrencyError` at once. Conflicts are retried as usual.
   * - `Any` (the default): decide on the current state, retry on conflict.
   *
   * A negative or fractional version is an `InvalidCommandError`.
   */
  readonly expectedVersion?: ExpectedVersion.ExpectedVersion | number | undefined
  /** Free metadata stored on every event this command appends. */
  readonly metadata?: UserMetadata | undefined
}

/**
 * What `execute` returns.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { type EventCodec, Position, type Repository } from "@chronicle/core"
 *
 * const describe = (result: Repository.ExecuteResult<number, EventCodec.Tagged>): string =>
 *   result.duplicate
 *     ? `command ${result.commandId} was already applied`
 *     : `${result.events.length} events, now v${result.version}` +
 *       Option.match(result.position, { onNone: () => "", onSome: (p) => ` at ${Position.format(p)}` })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface ExecuteResult<S, E> {
  /** The events the command appended (or had appended, when `duplicate`). */
  readonly events: ReadonlyArray<E>
  /** The state after the command. */
  readonly state: S
  /** The stream version after the command. */
  readonly version: number
  /** The global position of the last appended event; none when nothing was appended. */
  readonly position: Option.Option<Position>
  readonly commandId: string
  readonly correlationId: string
  /** `true` when this command id had already been executed: nothing new was written. */
  readonly duplicate: boolean
}

/**
 * What `load` returns.
 *
 * @example
 * ```ts
 * import type { Repository } from "@chronicle/core"
 *
 * const describe = (result: Repository.LoadResult<number>): string =>
 *   result.version === 0 ? "no such counter" : `count ${result.state} at v${result.version}`
 * ```
 * @since 0.1.0
 * @category models
 */
export interface LoadResult<S> {
  readonly state: S
  /** The stream version: 0 when the stream does not exist. */
  readonly version: number
  /** The position of the stream's last event; none for an empty stream. */
  readonly position: Option.Option<Position>
}

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import { Repository, SnapshotStore } from "@chronicle/core"
 *
 * const options: Repository.Options<number> = {
 *   cache: { capacity: 10 * Repository.defaultCacheCapacity },
 *   pageSize: 500,
 *   snapshots: { strategy: SnapshotStore.every(100), mode: "inline" }
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options<S = unknown> {
  /**
   * How to retry the load-decide-append cycle after a `ConcurrencyError`.
   * Defaults to {@link defaultRetry}.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * The state cache: the state of recently used streams, kept in memory (an
   * LRU of `capacity` streams). A command on a cached stream appends at once
   * with the cached version, without reading the stream first: one round
   * trip instead of two.
   *
   * **On by default**, with a budget of {@link defaultCacheCapacity} streams
   * per repository: memory is bounded by that many states (and the ids of
   * the last 32 commands of each), so size `capacity` by your states (1,000
   * states of 1 KB is about 1 MB). `cache: false` turns it off.
   *
   * Correctness does not depend on the cache, also with other processes
   * writing to the same streams:
   * - a decision is appended with the exact version of the state it was made
   *   on, so a stale entry can only make the append conflict;
   * - that conflict reads only the newer events and decides again, once,
   *   whatever the `retry` schedule (without the cache the command would have
   *   read them first); a conflict that remains evicts the entry;
   * - with an explicit `expectedVersion` that differs from the cached
   *   version, the newer events are read before anything is decided;
   * - a domain error or an empty decision made on a cached state is
   *   confirmed against the stream before it is returned.
   */
  readonly cache?: { readonly capacity: number } | false | undefined
  /**
   * How many events a load reads per round trip (default
   * {@link defaultPageSize}). A load folds each page as it arrives, so a
   * long stream never sits in memory whole, and a temporal query stops
   * reading at its target.
   */
  readonly pageSize?: number | undefined
  /**
   * When to write snapshots (the aggregate must declare its `state` Schema and
   * a `SnapshotStore` must be in context: when either is missing, building the
   * repository logs a warning, once). Snapshots are read whenever both exist,
   * whatever the strategy.
   */
  readonly snapshots?:
    | {
        readonly strategy: SnapshotStore.Strategy<S>
        /** `background` (default): off the command's path; `inline`: before `execute` returns. */
        readonly mode?: "background" | "inline" | undefined
      }
    | undefined
}

/**
 * The default conflict retry: a jittered exponential backoff from 2 ms
 * (× 1.5 per retry), capped at 25 ms between attempts, at most 40 retries
 * (about 0.9 s in all). The cap is low on purpose: under contention on one
 * stream, a command that backs off for long keeps losing to commands that
 * do not (it starves), and a few starved commands set the pace of all. A
 * 250 ms cap made 8 writers on one stream three times slower (W5 in
 * BENCHMARKS.md).
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { Repository } from "@chronicle/core"
 *
 * const patient = Repository.defaultRetry.pipe(Schedule.intersect(Schedule.recurs(50)))
 * ```
 * @since 0.1.0
 * @category retry
 */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("2 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("25 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(40))
)

/**
 * The state cache's default budget: this many streams per repository (see
 * `Options.cache`).
 *
 * @example
 * ```ts
 * import { Repository } from "@chronicle/core"
 *
 * const bigger = { cache: { capacity: Repository.defaultCacheCapacity * 10 } }
 * ```
 * @since 0.6.0
 * @category constants
 */
export const defaultCacheCapacity = 1_000

/**
 * How many events a load reads per round trip by default (see
 * `Options.pageSize`).
 *
 * @example
 * ```ts
 * import { Repository } from "@chronicle/core"
 *
 * const smallPages = { pageSize: Repository.defaultPageSize / 10 }
 * ```
 * @since 0.6.0
 * @category constants
 */
export const defaultPageSize = 1_000

/**
 * A repository for one aggregate.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { EventCodec, Repository } from "@chronicle/core"
 *
 * // works with any repository whose state is a number
 * const current = <E extends EventCodec.Tagged, C, Err>(counters: Repository.Repository<number, E, C, Err>, id: string) =>
 *   Effect.map(counters.load(id), (loaded) => loaded.state)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Repository<S, E extends EventCodec.Tagged, C, Err> {
  /** Loads, decides and appends; retries on conflict. */
  readonly execute: (
    id: string,
    command: C,
    options?: ExecuteOptions
  ) => Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError>
  /** The current state and version of one instance. */
  readonly load: (id: string) => Effect.Effect<LoadResult<S>, LoadError>
  /** The state as it was at a point in the past (version 0 when the stream did not exist yet). */
  readonly loadAt: (
    id: string,
    target: TimeTravel.Target
  ) => Effect.Effect<LoadResult<S>, LoadError | TimeTravel.TemporalQueryError>
  /** Every event with the state after it: the audit trail and time-travel view. */
  readonly history: (
    id: string,
    options?: { readonly fromVersion?: number | undefined }
  ) => Stream.Stream<TimeTravel.HistoryEntry<S, E>, LoadError>
  /** Every event of one instance, decoded, in version order. */
  readonly events: (id: string) => Stream.Stream<RecordedEvent<E>, LoadError>
  /** Validates an untyped command (from JSON, a form, a CLI) against the command Schema. */
  readonly decodeCommand: (input: unknown) => Effect.Effect<C, InvalidCommandError>
  /**
   * Checks one instance's stream: folds every event, and compares the result
   * with the version the store reports and with every stored snapshot of the
   * stream (version, position and state). Snapshot content is trusted as a
   * cache by `load` and `execute`; this is how to detect a tampered one.
   */
  readonly verify: (id: string) => Effect.Effect<Audit.VerifyReport, InvalidCommandError | StoreError>
}

/**
 * Builds the repository of an aggregate over the `EventStore` in context.
 *
 * Invalid options (a `pageSize` or `cache.capacity` that is not a whole
 * number of 1 or more) fail with a {@link RepositoryOptionsError} when the
 * repository is built, before it reads anything; only options that can hold
 * such a value put that error in the type (see {@link CheckedOptions}).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate, EventStore, Repository } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (n: number, e) => n + e.by,
 *   decide: (c) => Effect.succeed(new Incremented({ by: c.by }))
 * })
 *
 * const program = Effect.gen(function* () {
 *   const counters = yield* Repository.make(Counter)
 *   yield* counters.execute("c-1", new Increment({ by: 2 }), { commandId: "req-1" })
 *   yield* counters.execute("c-1", new Increment({ by: 2 }), { commandId: "req-1" }) // a retry: appends nothing
 *   return (yield* counters.load("c-1")).state // 2
 * }).pipe(Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export function make<Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  options?: CheckedOptions<S>
): Effect.Effect<Repository<S, E, C, Err>, never, EventStore>
export function make<Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  options?: Options<S>
): Effect.Effect<Repository<S, E, C, Err>, RepositoryOptionsError, EventStore>
export function make<Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  options?: Options<S>
): Effect.Effect<Repository<S, E, C, Err>, RepositoryOptionsError, EventStore> {
  return internal.make(
    aggregate,
    { retry: defaultRetry, cacheCapacity: defaultCacheCapacity, pageSize: defaultPageSize },
    options,
    (option, value) => new RepositoryOptionsError({ aggregate: aggregate.name, option, value })
  )
}

/**
 * A repository as a service: `class Accounts extends Repository.Tag<Accounts>()(id, aggregate, options?) {}`
 * declares a `Context.Tag` whose service is the aggregate's repository, and
 * `Accounts.layer` builds it once over the `EventStore` (and the
 * `SnapshotStore`, if any) in context. Every use then shares one instance,
 * hence one state cache; `yield* Accounts` gives the repository. For another
 * configuration of the same service (say, snapshots in the background in a
 * server), use `Layer.effect(Accounts, Repository.make(aggregate, options))`.
 * Invalid options fail the layer with a {@link RepositoryOptionsError} (see
 * {@link make}).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate, EventStore, Repository } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (n: number, e) => n + e.by,
 *   decide: (c) => Effect.succeed(new Incremented({ by: c.by }))
 * })
 *
 * class Counters extends Repository.Tag<Counters>()("app/Counters", Counter) {}
 *
 * const program = Effect.gen(function* () {
 *   const counters = yield* Counters
 *   yield* counters.execute("c-1", new Increment({ by: 2 }))
 *   return (yield* counters.load("c-1")).state // 2
 * }).pipe(Effect.provide(Counters.layer), Effect.provide(EventStore.layerMemory()))
 * ```
 * @since 0.6.0
 * @category services
 */
export const Tag = <Self>() => {
  function tag<const Id extends string, Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
    id: Id,
    aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
    options?: CheckedOptions<S>
  ): TagClass<Self, Id, S, E, C, Err>
  function tag<const Id extends string, Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
    id: Id,
    aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
    options?: Options<S>
  ): TagClass<Self, Id, S, E, C, Err, RepositoryOptionsError>
  function tag<const Id extends string, Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
    id: Id,
    aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
    options?: Options<S>
  ): TagClass<Self, Id, S, E, C, Err, RepositoryOptionsError> {
    const service = Context.Tag(id)<Self, Repository<S, E, C, Err>>()
    return Object.assign(service, { aggregate, layer: Layer.effect(service, make(aggregate, options)) })
  }
  return tag
}

/**
 * What {@link Tag} returns: a `Context.Tag` class of a repository, with the
 * layer that builds it and the aggregate it serves.
 *
 * @example
 * ```ts
 * import type { EventCodec, Repository } from "@chronicle/core"
 *
 * const describe = <Self, Id extends string, S, E extends EventCodec.Tagged, C, Err>(
 *   repository: Repository.TagClass<Self, Id, S, E, C, Err>
 * ): string => `${repository.key} serves ${repository.aggregate.name}`
 * ```
 * @since 0.6.0
 * @category services
 */
export type TagClass<
  Self,
  Id extends string,
  S,
  E extends EventCodec.Tagged,
  C,
  Err,
  /** `RepositoryOptionsError` when the options given could be invalid. */
  LayerError = never
> = Context.TagClass<Self, Id, Repository<S, E, C, Err>> & {
  /** Builds the one repository of the app over the `EventStore` (and `SnapshotStore`, if any) in context. */
  readonly layer: Layer.Layer<Self, LayerError, EventStore>
  /** The aggregate the repository serves. */
  readonly aggregate: { readonly name: string }
}
