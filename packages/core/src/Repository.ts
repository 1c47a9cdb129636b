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
 *
 * @since 0.1.0
 */
import { Chunk, DateTime, Effect, Either, Option, Schedule, Schema, Stream } from "effect"
import * as Aggregate from "./Aggregate.js"
import * as Correlation from "./Correlation.js"
import type { EventDecodeError, EventEncodeError, RecordedEvent, StoredEvent, UserMetadata } from "./Event.js"
import * as EventCodec from "./EventCodec.js"
import {
  type AppendResult,
  type ConcurrencyError,
  EventStore,
  type InvalidAppendError,
  type ReadStreamOptions,
  type StoreError,
  type UnknownOutcomeError
} from "./EventStore.js"
import * as ExpectedVersion from "./ExpectedVersion.js"
import type { Position } from "./Position.js"
import * as PositionModule from "./Position.js"
import * as Snapshot from "./Snapshot.js"
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
  | UnknownOutcomeError
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
export interface Options<S = unknown> {
  /**
   * How to retry the load-decide-append cycle after a `ConcurrencyError`.
   * Defaults to {@link defaultRetry}.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * When to write snapshots (the aggregate must declare its `state` Schema and
   * a `SnapshotStore` must be in context). Snapshots are read whenever both
   * exist, whatever the strategy.
   */
  /**
   * Keep the state of recently used streams in memory (an LRU of `capacity`
   * streams). A command on a cached stream then appends at once with the
   * cached version, without reading the stream first: one round trip
   * instead of two. Correctness does not depend on the cache: a stale entry
   * makes the append conflict, and the retry reads only the newer events; a
   * domain error or an empty decision made on a cached state is confirmed
   * against the stream before it is returned. Off by default.
   */
  readonly cache?: { readonly capacity: number } | undefined
  readonly snapshots?:
    | {
        readonly strategy: Snapshot.Strategy<S>
        /** `background` (default): off the command's path; `inline`: before `execute` returns. */
        readonly mode?: "background" | "inline" | undefined
      }
    | undefined
}

/**
 * A point in a stream's past: after its `version`-th event, at a global
 * `position`, or at an instant (`recordedAt` of each event).
 *
 * @since 0.1.0
 * @category models
 */
export type Target = { readonly version: number } | { readonly position: Position } | { readonly at: DateTime.DateTime }

/**
 * A temporal query that cannot be answered: a negative or fractional
 * version, or a version past the stream's end.
 *
 * @example
 * ```ts
 * import { Repository } from "@chronicle/core"
 *
 * const error = new Repository.TemporalQueryError({ aggregate: "Account", id: "a-1", reason: "version 9 is past the end (3 events)" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class TemporalQueryError extends Schema.TaggedError<TemporalQueryError>()("TemporalQueryError", {
  aggregate: Schema.String,
  id: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Cannot query ${this.aggregate} "${this.id}" at that point: ${this.reason}`
  }
}

/**
 * One step of a stream's history: the event, with its context and the state
 * right after it.
 *
 * @since 0.1.0
 * @category models
 */
export interface HistoryEntry<S, E> extends RecordedEvent<E> {
  readonly stateAfter: S
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
  /** The state as it was at a point in the past (version 0 when the stream did not exist yet). */
  readonly loadAt: (id: string, target: Target) => Effect.Effect<LoadResult<S>, LoadError | TemporalQueryError>
  /** Every event with the state after it: the audit trail and time-travel view. */
  readonly history: (
    id: string,
    options?: { readonly fromVersion?: number | undefined }
  ) => Stream.Stream<HistoryEntry<S, E>, LoadError>
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
  options?: Options<S>
): Effect.Effect<Repository<S, E, C, Err>, never, EventStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshotStore = yield* Effect.serviceOption(Snapshot.SnapshotStore)
    const stateCodec = aggregate.state
    const snapshotStrategy = options?.snapshots?.strategy
    const snapshotMode = options?.snapshots?.mode ?? "background"
    const retry = options?.retry ?? defaultRetry
    const encodeCommand = Schema.encodeEither(aggregate.commands)
    const decodeUnknownCommand = Schema.decodeUnknownEither(aggregate.commands)

    // A command is checked by encoding it: that checks every field, so a class
    // instance built with validation turned off cannot slip through. A plain
    // object of the command's encoded shape (say, parsed JSON typed as the
    // command) fails that, and is decoded into the command instead.
    const checkCommand = (id: string, command: C): Either.Either<C, InvalidCommandError> =>
      Either.orElse(
        Either.map(encodeCommand(command), () => command),
        () =>
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

    const decodeChunk = (chunk: Chunk.Chunk<StoredEvent>) =>
      Effect.map(
        Effect.forEach(chunk, (stored) => aggregate.codec.decode(stored)),
        Chunk.unsafeFromArray
      )

    const decoded = (
      streamId: StreamId.StreamId,
      options?: ReadStreamOptions
    ): Stream.Stream<RecordedEvent<E>, StoreError | EventDecodeError> =>
      store.read(streamId, options).pipe(Stream.mapChunksEffect(decodeChunk))

    interface Start {
      readonly state: S
      readonly version: number
      readonly position: Option.Option<Position>
    }
    const initial: Start = { state: aggregate.initialState, version: 0, position: Option.none() }

    // The newest usable snapshot within the bounds; anything wrong with it is
    // logged and the state is rebuilt from events instead.
    const startFrom = (streamId: StreamId.StreamId, bounds: Snapshot.Bounds | undefined): Effect.Effect<Start> => {
      if (Option.isNone(snapshotStore) || Option.isNone(stateCodec)) return Effect.succeed(initial)
      const codec = stateCodec.value
      return snapshotStore.value.load(streamId, bounds).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.succeed(initial),
            onSome: (snapshot) => {
              if (snapshot.stateVersion !== codec.version) {
                return Effect.as(
                  Effect.logWarning(
                    `ignoring snapshot of ${streamId}@${snapshot.version}: state version ${snapshot.stateVersion}, expected ${codec.version}`
                  ),
                  initial
                )
              }
              return Either.match(codec.decode(snapshot.state), {
                onLeft: (reason) =>
                  Effect.as(
                    Effect.logWarning(`ignoring snapshot of ${streamId}@${snapshot.version}: ${reason}`),
                    initial
                  ),
                onRight: (state) =>
                  Effect.succeed({ state, version: snapshot.version, position: Option.some(snapshot.position) })
              })
            }
          })
        ),
        Effect.catchAll((error) =>
          Effect.as(Effect.logWarning(`snapshot of ${streamId} not loaded: ${error.message}`), initial)
        )
      )
    }

    interface Loaded extends LoadResult<S> {
      /** The events caused by the command being executed (it already ran when not empty). */
      readonly byCommand: ReadonlyArray<RecordedEvent<E>>
      /** The version of the snapshot the state was loaded from (0 for none). */
      readonly snapshotVersion: number
    }

    // Folds stored events into a loaded state in one synchronous loop: no
    // per-event Effect or Stream machinery on the hot path of every command.
    const foldStored = (
      from: Loaded,
      events: ReadonlyArray<StoredEvent>,
      inRange: (event: StoredEvent) => boolean,
      commandId: string | undefined
    ): Either.Either<Loaded, EventDecodeError> => {
      let state = from.state
      let version = from.version
      let position = from.position
      let byCommand = from.byCommand
      for (const stored of events) {
        if (!inRange(stored)) break
        const decoded = aggregate.codec.decode(stored)
        if (Either.isLeft(decoded)) return Either.left(decoded.left)
        const recorded = decoded.right
        state = aggregate.evolve(state, recorded.event)
        version = recorded.version
        position = Option.some(recorded.position)
        if (commandId !== undefined && recorded.metadata.causationId === commandId) {
          byCommand = [...byCommand, recorded]
        }
      }
      return Either.right({ state, version, position, byCommand, snapshotVersion: from.snapshotVersion })
    }

    const loadStream = (
      streamId: StreamId.StreamId,
      commandId: string | undefined,
      target?: Target
    ): Effect.Effect<Loaded, StoreError | EventDecodeError> =>
      Effect.gen(function* () {
        const bounds = boundsOf(target)
        const start = yield* startFrom(streamId, bounds)
        const events = yield* store.readEvents(streamId, { from: start.version + 1, to: bounds?.maxVersion })
        return yield* foldStored(
          { ...start, byCommand: [], snapshotVersion: start.version },
          events,
          withinTarget(target),
          commandId
        )
      })

    // After a conflict, only the events appended since the last load are read.
    const loadNewer = (
      streamId: StreamId.StreamId,
      commandId: string,
      previous: Loaded
    ): Effect.Effect<Loaded, StoreError | EventDecodeError> =>
      Effect.flatMap(store.readEvents(streamId, { from: previous.version + 1 }), (events) =>
        foldStored(previous, events, () => true, commandId)
      )

    const snapshotAfter = (
      streamId: StreamId.StreamId,
      loaded: Loaded,
      state: S,
      appended: AppendResult
    ): Effect.Effect<boolean> => {
      const position = appended.positions[appended.positions.length - 1]
      if (
        snapshotStrategy === undefined ||
        Option.isNone(snapshotStore) ||
        Option.isNone(stateCodec) ||
        position === undefined
      ) {
        return Effect.succeed(false)
      }
      const version = appended.nextExpectedVersion
      if (!snapshotStrategy({ state, version, eventsSinceSnapshot: version - loaded.snapshotVersion })) {
        return Effect.succeed(false)
      }
      return Either.match(stateCodec.value.encode(state), {
        onLeft: (reason) =>
          Effect.as(Effect.logWarning(`snapshot of ${streamId}@${version} not taken: ${reason}`), false),
        onRight: (encoded) => {
          const snapshot: Snapshot.Snapshot = {
            streamId,
            version,
            stateVersion: stateCodec.value.version,
            state: encoded,
            position,
            recordedAt: appended.recordedAt
          }
          const write =
            snapshotMode === "inline"
              ? snapshotStore.value
                  .save(snapshot)
                  .pipe(
                    Effect.catchAll((error) =>
                      Effect.logWarning(`snapshot of ${streamId}@${version} not saved: ${error.message}`)
                    )
                  )
              : snapshotStore.value.saveInBackground(snapshot)
          return Effect.as(write, true)
        }
      })
    }

    // The optional state cache: an LRU (a Map in use order) of loaded streams,
    // with the ids of the last commands applied to each, so a repeated command
    // id is still recognised without reading the stream.
    interface Cached {
      readonly loaded: Loaded
      readonly recentCommands: ReadonlyArray<string>
    }
    const cacheCapacity = options?.cache?.capacity
    if (cacheCapacity !== undefined && (!Number.isInteger(cacheCapacity) || cacheCapacity < 1)) {
      throw new Error(`Repository.make: cache capacity must be a positive integer, got ${cacheCapacity}`)
    }
    const cached = new Map<string, Cached>()
    const recall = (streamId: StreamId.StreamId): Cached | undefined => {
      const entry = cached.get(streamId)
      if (entry !== undefined) {
        cached.delete(streamId)
        cached.set(streamId, entry)
      }
      return entry
    }
    const remember = (streamId: StreamId.StreamId, loaded: Loaded, commandId: string | undefined): void => {
      if (cacheCapacity === undefined) return
      const previous = cached.get(streamId)?.recentCommands ?? []
      cached.delete(streamId)
      cached.set(streamId, {
        loaded: { ...loaded, byCommand: [] },
        recentCommands: commandId === undefined ? previous : [...previous, commandId].slice(-32)
      })
      if (cached.size > cacheCapacity) {
        const oldest = cached.keys().next()
        if (oldest.done !== true) cached.delete(oldest.value)
      }
    }

    const attempt = (
      streamId: StreamId.StreamId,
      command: C,
      commandId: string,
      correlationId: string,
      options: ExecuteOptions | undefined,
      cache: { last: Loaded | undefined }
    ): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
      Effect.gen(function* () {
        const hit = cache.last === undefined ? recall(streamId) : undefined
        const fromCache = hit !== undefined && !hit.recentCommands.includes(commandId)
        const current =
          cache.last !== undefined
            ? yield* loadNewer(streamId, commandId, cache.last)
            : fromCache
              ? hit.loaded
              : yield* loadStream(streamId, commandId)
        cache.last = current
        // A refusal or an empty decision taken on a cached state stands only if
        // the stream has not moved since: otherwise decide again on fresh state.
        const confirmed = (
          outcome: Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError>
        ): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
          fromCache
            ? Effect.flatMap(loadNewer(streamId, commandId, current), (fresh) =>
                fresh.version === current.version
                  ? outcome
                  : Effect.zipRight(
                      Effect.sync(() => {
                        cache.last = undefined
                        cached.delete(streamId)
                      }),
                      attempt(streamId, command, commandId, correlationId, options, cache)
                    )
              )
            : outcome
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
        const decision = yield* Effect.either(aggregate.decide(command, current.state))
        if (Either.isLeft(decision)) return yield* confirmed(Effect.fail(decision.left))
        const events = Aggregate.decisionEvents(decision.right)
        if (events.length === 0) {
          return yield* confirmed(
            Effect.succeed({
              events,
              state: current.state,
              version: current.version,
              position: Option.none<Position>(),
              commandId,
              correlationId,
              duplicate: false
            })
          )
        }
        const data = yield* EventCodec.toEventData(aggregate.codec, events, (index) =>
          Correlation.deterministicId(commandId, streamId, `${index}`)
        )
        const appended = yield* store.append(streamId, data, {
          expectedVersion: ExpectedVersion.exact(options?.expectedVersion ?? current.version),
          metadata: { correlationId, causationId: commandId, user: options?.metadata }
        })
        if (appended.duplicate) return duplicateOf(yield* loadStream(streamId, commandId))
        const state = Aggregate.fold(aggregate, events, current.state)
        const snapshotted = yield* snapshotAfter(streamId, current, state, appended)
        const version = appended.nextExpectedVersion
        const position = Option.fromNullable(appended.positions[appended.positions.length - 1])
        remember(
          streamId,
          {
            state,
            version,
            position,
            byCommand: [],
            snapshotVersion: snapshotted ? version : current.snapshotVersion
          },
          commandId
        )
        return {
          events,
          state,
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
      const once = attempt(streamId, valid, commandId, correlationId, options, { last: undefined })
      return yield* options?.expectedVersion === undefined
        ? Effect.retry(once, {
            schedule: retry,
            while: (error) => isConcurrencyError(error)
          })
        : once
    })

    const load = Effect.fn("Chronicle.Repository.load")(function* (id: string) {
      const streamId = yield* streamIdOf(id)
      const hit = recall(streamId)
      const loaded =
        hit === undefined ? yield* loadStream(streamId, undefined) : yield* loadNewer(streamId, "", hit.loaded)
      if (hit !== undefined) remember(streamId, loaded, undefined)
      return { state: loaded.state, version: loaded.version, position: loaded.position }
    })

    const loadAt = Effect.fn("Chronicle.Repository.loadAt")(function* (id: string, target: Target) {
      const streamId = yield* streamIdOf(id)
      const invalid = (reason: string) => new TemporalQueryError({ aggregate: aggregate.name, id, reason })
      if ("version" in target && (!Number.isInteger(target.version) || target.version < 0)) {
        return yield* invalid(`version ${target.version} is not a non-negative integer`)
      }
      const { state, version, position } = yield* loadStream(streamId, undefined, target)
      if ("version" in target && version < target.version) {
        return yield* invalid(`version ${target.version} is past the end of the stream (${version} events)`)
      }
      return { state, version, position }
    })

    const history = (
      id: string,
      options?: { readonly fromVersion?: number | undefined }
    ): Stream.Stream<HistoryEntry<S, E>, LoadError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          const streamId = yield* streamIdOf(id)
          const fromVersion = Math.max(1, options?.fromVersion ?? 1)
          const before =
            fromVersion > 1 ? yield* loadStream(streamId, undefined, { version: fromVersion - 1 }) : initial
          return decoded(streamId, { from: before.version + 1 }).pipe(
            Stream.mapAccum(before.state, (state, recorded) => {
              const stateAfter = aggregate.evolve(state, recorded.event)
              return [stateAfter, { ...recorded, stateAfter }] as const
            })
          )
        })
      )

    return {
      execute,
      load,
      loadAt,
      history,
      events: (id) => Stream.unwrap(Effect.map(streamIdOf(id), (streamId) => decoded(streamId))),
      decodeCommand: (input) =>
        Either.mapLeft(
          decodeUnknownCommand(input),
          (error) => new InvalidCommandError({ aggregate: aggregate.name, id: "", reason: error.message })
        )
    }
  })

const boundsOf = (target: Target | undefined): Snapshot.Bounds | undefined => {
  if (target === undefined) return undefined
  if ("version" in target) return { maxVersion: target.version }
  if ("position" in target) return { maxPosition: target.position }
  return { maxRecordedAt: DateTime.toUtc(target.at) }
}

const withinTarget = (target: Target | undefined): ((event: StoredEvent) => boolean) => {
  if (target === undefined || "version" in target) return () => true
  if ("position" in target) return (event) => PositionModule.isAtOrAfter(target.position, event.position)
  const at = DateTime.toEpochMillis(target.at)
  return (event) => event.recordedAt.epochMillis <= at
}

const isConcurrencyError = (error: unknown): error is ConcurrencyError =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "ConcurrencyError"
