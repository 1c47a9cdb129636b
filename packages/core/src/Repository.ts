/**
 * Typed command handling for one aggregate: load the stream, fold it, decide,
 * and append with the expected version, retrying on conflict.
 *
 * - A command may carry a `commandId`. Event ids are derived from it, so
 *   executing the same command id twice on a stream appends once: retries
 *   and saga steps are safe.
 * - The causation id of the recorded events is the command id; the
 *   correlation id is the ambient one (see `Correlation`), or the command id
 *   when none is set.
 * - Commands are validated against the aggregate's command Schema, so bad
 *   input is a typed `InvalidCommandError`, never a defect.
 *
 * @since 0.1.0
 */
import { Chunk, Effect, Either, Option, Schedule, Schema, Stream } from "effect"
import * as Aggregate from "./Aggregate.js"
import * as Correlation from "./Correlation.js"
import type { EventDecodeError, EventEncodeError, RecordedEvent, UserMetadata } from "./Event.js"
import * as EventCodec from "./EventCodec.js"
import { type ConcurrencyError, EventStore, type InvalidAppendError, type StoreError } from "./EventStore.js"
import * as ExpectedVersion from "./ExpectedVersion.js"
import type { Position } from "./Position.js"
import * as StreamId from "./StreamId.js"

/**
 * A command did not pass the aggregate's command Schema, or named an invalid
 * aggregate id. Nothing was written.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Repository } from "@chronicle/core"
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
 * Everything `execute` can fail with, besides the aggregate's domain errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError =
  | InvalidCommandError
  | ConcurrencyError
  | InvalidAppendError
  | StoreError
  | EventDecodeError
  | EventEncodeError

/**
 * Everything `load` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type LoadError = InvalidCommandError | StoreError | EventDecodeError

/**
 * Options of `execute`.
 *
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
   * The version the caller last saw (for example in a form it rendered). When
   * given, a conflict fails at once instead of being retried.
   */
  readonly expectedVersion?: number | undefined
  /** Free metadata stored on every event this command appends. */
  readonly metadata?: UserMetadata | undefined
}

/**
 * What `execute` returns.
 *
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
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How to retry the load-decide-append cycle after a `ConcurrencyError`.
   * Defaults to {@link defaultRetry}.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * The default conflict retry: exponential backoff from 5 ms with jitter,
 * capped at 250 ms between attempts, at most 12 retries.
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
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("5 millis").pipe(
  Schedule.union(Schedule.spaced("250 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(12))
)

/**
 * A repository for one aggregate.
 *
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
  /** Every event of one instance, decoded, in version order. */
  readonly events: (id: string) => Stream.Stream<RecordedEvent<E>, LoadError>
  /** Validates an untyped command (from JSON, a form, a CLI) against the command Schema. */
  readonly decodeCommand: (input: unknown) => Effect.Effect<C, InvalidCommandError>
}

/**
 * Builds the repository of an aggregate over the `EventStore` in context.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate, InMemoryEventStore, Repository } from "@chronicle/core"
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
 * }).pipe(Effect.provide(InMemoryEventStore.layer))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  options?: Options
): Effect.Effect<Repository<S, E, C, Err>, never, EventStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const retry = options?.retry ?? defaultRetry
    const validateCommand = Schema.validateEither(aggregate.commands)
    const decodeUnknownCommand = Schema.decodeUnknownEither(aggregate.commands)

    // A command built with its class constructor is validated as it is; a plain
    // object of the right shape (say, parsed JSON typed as the command) is
    // decoded into the command's class, so both are accepted and checked.
    const checkCommand = (id: string, command: C): Either.Either<C, InvalidCommandError> =>
      Either.orElse(validateCommand(command), () =>
        Either.mapLeft(
          decodeUnknownCommand(command),
          (error) => new InvalidCommandError({ aggregate: aggregate.name, id, reason: error.message })
        )
      )

    const streamIdOf = (id: string): Effect.Effect<StreamId.StreamId, InvalidCommandError> =>
      id.length === 0
        ? Effect.fail(new InvalidCommandError({ aggregate: aggregate.name, id, reason: "the id is empty" }))
        : Either.match(StreamId.parse(`${aggregate.name}-${id}`), {
            onLeft: (reason) => Effect.fail(new InvalidCommandError({ aggregate: aggregate.name, id, reason })),
            onRight: Effect.succeed
          })

    const decoded = (streamId: StreamId.StreamId): Stream.Stream<RecordedEvent<E>, StoreError | EventDecodeError> =>
      store.read(streamId).pipe(
        Stream.mapChunksEffect((chunk) =>
          Effect.map(
            Effect.forEach(chunk, (stored) => aggregate.codec.decode(stored)),
            Chunk.unsafeFromArray
          )
        )
      )

    interface Loaded extends LoadResult<S> {
      readonly byCommand: ReadonlyArray<RecordedEvent<E>>
    }

    const loadStream = (
      streamId: StreamId.StreamId,
      commandId: string | undefined
    ): Effect.Effect<Loaded, StoreError | EventDecodeError> =>
      decoded(streamId).pipe(
        Stream.runFold(
          {
            state: aggregate.initialState,
            version: 0,
            position: Option.none<Position>(),
            byCommand: [] as Array<RecordedEvent<E>>
          },
          (acc, recorded) => {
            acc.state = aggregate.evolve(acc.state, recorded.event)
            acc.version = recorded.version
            acc.position = Option.some(recorded.position)
            if (commandId !== undefined && recorded.metadata.causationId === commandId) acc.byCommand.push(recorded)
            return acc
          }
        )
      )

    const attempt = (
      streamId: StreamId.StreamId,
      command: C,
      commandId: string,
      correlationId: string,
      options: ExecuteOptions | undefined
    ): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
      Effect.gen(function* () {
        const current = yield* loadStream(streamId, commandId)
        const duplicateOf = (loaded: Loaded): ExecuteResult<S, E> => ({
          events: loaded.byCommand.map((r) => r.event),
          state: loaded.state,
          version: loaded.version,
          position: Option.fromNullable(loaded.byCommand[loaded.byCommand.length - 1]).pipe(
            Option.map((r) => r.position)
          ),
          commandId,
          correlationId,
          duplicate: true
        })
        if (current.byCommand.length > 0) return duplicateOf(current)
        const events = Aggregate.decisionEvents(yield* aggregate.decide(command, current.state))
        if (events.length === 0) {
          return {
            events,
            state: current.state,
            version: current.version,
            position: Option.none(),
            commandId,
            correlationId,
            duplicate: false
          }
        }
        const data = yield* EventCodec.toEventData(aggregate.codec, events, (index) =>
          Correlation.deterministicId(commandId, streamId, `${index}`)
        )
        const appended = yield* store.append(streamId, data, {
          expectedVersion: ExpectedVersion.exact(options?.expectedVersion ?? current.version),
          metadata: { correlationId, causationId: commandId, user: options?.metadata }
        })
        if (appended.duplicate) return duplicateOf(yield* loadStream(streamId, commandId))
        return {
          events,
          state: Aggregate.fold(aggregate, events, current.state),
          version: appended.nextExpectedVersion,
          position: Option.fromNullable(appended.positions[appended.positions.length - 1]),
          commandId,
          correlationId,
          duplicate: false
        }
      })

    const execute = Effect.fn("Chronicle.Repository.execute")(function* (
      id: string,
      command: C,
      options?: ExecuteOptions
    ) {
      const streamId = yield* streamIdOf(id)
      const valid = yield* checkCommand(id, command)
      const context = yield* Correlation.current
      const commandId = options?.commandId ?? crypto.randomUUID()
      const correlationId = Option.getOrElse(context.correlationId, () => commandId)
      yield* Effect.annotateCurrentSpan({ aggregate: aggregate.name, streamId, commandId, correlationId })
      const once = attempt(streamId, valid, commandId, correlationId, options)
      return yield* options?.expectedVersion === undefined
        ? Effect.retry(once, {
            schedule: retry,
            while: (error) => isConcurrencyError(error)
          })
        : once
    })

    const load = Effect.fn("Chronicle.Repository.load")(function* (id: string) {
      const streamId = yield* streamIdOf(id)
      const { state, version, position } = yield* loadStream(streamId, undefined)
      return { state, version, position }
    })

    return {
      execute,
      load,
      events: (id) => Stream.unwrap(Effect.map(streamIdOf(id), decoded)),
      decodeCommand: (input) =>
        Either.mapLeft(
          decodeUnknownCommand(input),
          (error) => new InvalidCommandError({ aggregate: aggregate.name, id: "", reason: error.message })
        )
    }
  })

const isConcurrencyError = (error: unknown): error is ConcurrencyError =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "ConcurrencyError"
