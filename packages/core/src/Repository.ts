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
import { Chunk, DateTime, Effect, Either, Option, Schedule, Schema, Stream } from "effect"
import * as Aggregate from "./Aggregate.js"
import * as Correlation from "./Correlation.js"
import type { EventDecodeError, EventEncodeError, RecordedEvent, StoredEvent, UserMetadata } from "./Event.js"
import * as EventCodec from "./EventCodec.js"
import {
  type AppendResult,
  ConcurrencyError,
  EventStore,
  type InvalidAppendError,
  type ReadStreamOptions,
  type UnknownOutcomeError
} from "./EventStore.js"
import * as ExpectedVersion from "./ExpectedVersion.js"
import type { Position } from "./Position.js"
import * as PositionModule from "./Position.js"
import * as SnapshotStore from "./SnapshotStore.js"
import type { StoreError } from "./StoreError.js"
import * as StreamId from "./StreamId.js"
import * as TimeTravel from "./TimeTravel.js"

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
   * The version the caller last saw (for example in a form it rendered). The
   * command is then decided on the state at exactly this version and appended
   * against it: when the stream is at another version, `execute` fails at once
   * with a `ConcurrencyError` (carrying the actual version), without deciding
   * and without retrying. A negative or fractional version is an
   * `InvalidCommandError`.
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
   * Keep the state of recently used streams in memory (an LRU of `capacity`
   * streams). A command on a cached stream then appends at once with the
   * cached version, without reading the stream first: one round trip
   * instead of two. Correctness does not depend on the cache, also with
   * other processes writing to the same streams:
   * - a decision is appended with the exact version of the state it was made
   *   on, so a stale entry can only make the append conflict;
   * - that conflict reads only the newer events and decides again, once,
   *   whatever the `retry` schedule (without the cache the command would have
   *   read them first); a conflict that remains evicts the entry;
   * - with an explicit `expectedVersion` that differs from the cached
   *   version, the newer events are read before anything is decided;
   * - a domain error or an empty decision made on a cached state is
   *   confirmed against the stream before it is returned.
   *
   * Off by default.
   */
  readonly cache?: { readonly capacity: number } | undefined
  /**
   * When to write snapshots (the aggregate must declare its `state` Schema and
   * a `SnapshotStore` must be in context). Snapshots are read whenever both
   * exist, whatever the strategy.
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
 * How one stored snapshot compares with the stream it claims, in a
 * {@link VerifyReport}:
 * - `matches`: the event at its version has its position, and its state
 *   equals the fold of the events up to that version (compared through the
 *   state Schema's encoding);
 * - `mismatch`: it does not (see `reason` and `differences`); loads ignore a
 *   snapshot whose version or position does not match, but use one whose
 *   content alone was changed;
 * - `ignored`: its state schema version is not the aggregate's, so loads
 *   never use it;
 * - `unchecked`: it could not be compared (an event before it does not
 *   decode, or the aggregate declares no state Schema).
 *
 * @since 0.2.0
 * @category verification
 */
export interface SnapshotCheck {
  readonly version: number
  readonly position: Position
  readonly stateVersion: number
  readonly outcome: "matches" | "mismatch" | "ignored" | "unchecked"
  /** Why it does not match, or was ignored or unchecked; empty when it matches. */
  readonly reason: string
  /** For a state that differs: each difference, `before` being the fold and `after` the snapshot (encoded). */
  readonly differences: ReadonlyArray<TimeTravel.Change>
}

/**
 * One inconsistency {@link Repository.verify} found in a stream.
 *
 * @since 0.2.0
 * @category verification
 */
export type VerifyIssue =
  | {
      /** The version the store reports for the stream (its `streams` row) is not the last event's. */
      readonly _tag: "StreamVersionMismatch"
      readonly eventsVersion: number
      readonly streamVersion: number
    }
  | {
      /** The events' versions are not contiguous from 1. */
      readonly _tag: "VersionGap"
      readonly expected: number
      readonly found: number
    }
  | {
      /** A stored event does not decode; the fold stops there. */
      readonly _tag: "UndecodableEvent"
      readonly version: number
      readonly position: Position
      readonly reason: string
    }
  | {
      /** A stored snapshot does not match the stream (see its {@link SnapshotCheck}). */
      readonly _tag: "SnapshotMismatch"
      readonly version: number
      readonly reason: string
    }

/**
 * What {@link Repository.verify} found: the fold of every event compared
 * with the version the store reports and with every stored snapshot.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Repository } from "@chronicle/core"
 *
 * const explain = (report: Repository.VerifyReport) =>
 *   report.consistent
 *     ? Effect.log(`${report.streamId}: ${report.events} events, ${report.snapshots.length} snapshots, consistent`)
 *     : Effect.logError(`${report.streamId}: ${report.issues.map((issue) => issue._tag).join(", ")}`)
 * ```
 * @since 0.2.0
 * @category verification
 */
export interface VerifyReport {
  readonly streamId: StreamId.StreamId
  /** How many events were read. */
  readonly events: number
  /** The version of the last event read (0 for none). */
  readonly eventsVersion: number
  /** The version the store reports for the stream. */
  readonly streamVersion: number
  readonly snapshots: ReadonlyArray<SnapshotCheck>
  readonly issues: ReadonlyArray<VerifyIssue>
  /** `true` when no issue was found. */
  readonly consistent: boolean
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
  /**
   * Checks one instance's stream: folds every event, and compares the result
   * with the version the store reports and with every stored snapshot of the
   * stream (version, position and state). Snapshot content is trusted as a
   * cache by `load` and `execute`; this is how to detect a tampered one.
   */
  readonly verify: (id: string) => Effect.Effect<VerifyReport, InvalidCommandError | StoreError>
}

/**
 * Builds the repository of an aggregate over the `EventStore` in context.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate, Repository, EventStore } from "@chronicle/core"
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
export const make = <Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  options?: Options<S>
): Effect.Effect<Repository<S, E, C, Err>, never, EventStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const snapshotStore = yield* Effect.serviceOption(SnapshotStore.SnapshotStore)
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
    const startFrom = (streamId: StreamId.StreamId, bounds: SnapshotStore.Bounds | undefined): Effect.Effect<Start> => {
      if (Option.isNone(snapshotStore) || Option.isNone(stateCodec)) return Effect.succeed(initial)
      const codec = stateCodec.value
      return snapshotStore.value.load(streamId, bounds).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.succeed(initial),
            onSome: (snapshot) => {
              if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 1) {
                return Effect.as(
                  Effect.logWarning(
                    `ignoring snapshot of ${streamId}@${snapshot.version}: its version is not a stream version`
                  ),
                  initial
                )
              }
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

    // Folds stored events (from index `skip` on) into a loaded state in one
    // synchronous loop: no per-event Effect or Stream machinery on the hot
    // path of every command.
    const foldStored = (
      from: Loaded,
      events: ReadonlyArray<StoredEvent>,
      inRange: (event: StoredEvent) => boolean,
      commandId: string | undefined,
      skip = 0
    ): Either.Either<Loaded, EventDecodeError> => {
      let state = from.state
      let version = from.version
      let position = from.position
      let byCommand = from.byCommand
      for (let i = skip; i < events.length; i++) {
        const stored = events[i]
        if (stored === undefined || !inRange(stored)) break
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
        const inRange = withinTarget(target)
        const start = yield* startFrom(streamId, bounds)
        if (start.version > 0) {
          // Read from the snapshot's own event on: the snapshot is used only if
          // that event exists and has the snapshot's position (a snapshot of
          // another stream's past, or a stale or tampered row, does not match).
          const events = yield* store.readEvents(streamId, { from: start.version, to: bounds?.maxVersion })
          const mismatch = snapshotMismatch(start, events[0])
          if (mismatch === undefined) {
            return yield* foldStored(
              { ...start, byCommand: [], snapshotVersion: start.version },
              events,
              inRange,
              commandId,
              1
            )
          }
          yield* Effect.logWarning(`ignoring snapshot of ${streamId}@${start.version}: ${mismatch}`)
        }
        const events = yield* store.readEvents(streamId, { from: 1, to: bounds?.maxVersion })
        return yield* foldStored({ ...initial, byCommand: [], snapshotVersion: 0 }, events, inRange, commandId)
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
          const snapshot: SnapshotStore.Snapshot = {
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
      const existing = cached.get(streamId)
      const previous = existing?.recentCommands ?? []
      cached.delete(streamId)
      cached.set(streamId, {
        // Concurrent commands may finish out of order: never go back to an older state.
        loaded:
          existing !== undefined && existing.loaded.version > loaded.version
            ? existing.loaded
            : { ...loaded, byCommand: [] },
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
        let fromCache = hit !== undefined && !hit.recentCommands.includes(commandId)
        let current =
          cache.last !== undefined
            ? yield* loadNewer(streamId, commandId, cache.last)
            : fromCache && hit !== undefined
              ? hit.loaded
              : yield* loadStream(streamId, commandId)
        const expected = options?.expectedVersion
        if (expected !== undefined && expected !== current.version && fromCache) {
          // The caller saw another version than the cache holds: read what is
          // newer before deciding anything.
          current = yield* loadNewer(streamId, commandId, current)
          fromCache = false
        }
        cache.last = current
        const forget = Effect.sync(() => {
          cached.delete(streamId)
        })
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
                      Effect.zipRight(
                        forget,
                        Effect.sync(() => {
                          cache.last = undefined
                        })
                      ),
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
        if (expected !== undefined && expected !== current.version) {
          // Never decide on a state other than the one the caller expects.
          return yield* new ConcurrencyError({ streamId, expected: `${expected}`, actual: current.version })
        }
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
        // Always the version of the state the decision was made on.
        const outcome = yield* Effect.either(
          store.append(streamId, data, {
            expectedVersion: ExpectedVersion.exact(current.version),
            metadata: { correlationId, causationId: commandId, user: options?.metadata }
          })
        )
        if (Either.isLeft(outcome)) {
          // Whatever went wrong, the cached entry may be stale now.
          yield* forget
          if (fromCache && isConcurrencyError(outcome.left)) {
            // The cached state was stale: read the newer events and decide
            // again, once, as an uncached command would have from the start.
            return yield* attempt(streamId, command, commandId, correlationId, options, cache)
          }
          return yield* Effect.fail(outcome.left)
        }
        const appended = outcome.right
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
          version,
          position,
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
      const expected = options?.expectedVersion
      if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
        return yield* new InvalidCommandError({
          aggregate: aggregate.name,
          id,
          reason: `the expected version ${expected} is not a non-negative integer`
        })
      }
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

    // Every stored snapshot of a stream, newest first. The SnapshotStore can
    // only return the newest one within bounds, so this walks down by version.
    const snapshotsOf = (
      streamId: StreamId.StreamId
    ): Effect.Effect<ReadonlyArray<SnapshotStore.Snapshot>, StoreError> =>
      Effect.gen(function* () {
        if (Option.isNone(snapshotStore)) return []
        const found: Array<SnapshotStore.Snapshot> = []
        let bound: number | undefined
        for (;;) {
          const next = yield* snapshotStore.value.load(
            streamId,
            bound === undefined ? undefined : { maxVersion: bound }
          )
          if (Option.isNone(next)) return found
          const snapshot = next.value
          // A store that ignores the bound would never let this loop end.
          if (!Number.isFinite(snapshot.version) || (bound !== undefined && snapshot.version > bound)) return found
          found.push(snapshot)
          bound = Math.ceil(snapshot.version) - 1
        }
      })

    const verify = Effect.fn("Chronicle.Repository.verify")(function* (id: string) {
      const streamId = yield* streamIdOf(id)
      const streamVersion = yield* store.streamVersion(streamId)
      const snapshots = yield* snapshotsOf(streamId)
      const checks = new Map<SnapshotStore.Snapshot, SnapshotCheck>()
      const check = (
        snapshot: SnapshotStore.Snapshot,
        outcome: SnapshotCheck["outcome"],
        reason: string,
        differences: ReadonlyArray<TimeTravel.Change> = []
      ) =>
        checks.set(snapshot, {
          version: snapshot.version,
          position: snapshot.position,
          stateVersion: snapshot.stateVersion,
          outcome,
          reason,
          differences
        })
      const byVersion = new Map<number, Array<SnapshotStore.Snapshot>>()
      for (const snapshot of snapshots) {
        if (Option.isNone(stateCodec)) check(snapshot, "unchecked", "the aggregate declares no state Schema")
        else if (snapshot.stateVersion !== stateCodec.value.version) {
          check(
            snapshot,
            "ignored",
            `state version ${snapshot.stateVersion}, the aggregate's is ${stateCodec.value.version}: loads never use it`
          )
        } else byVersion.set(snapshot.version, [...(byVersion.get(snapshot.version) ?? []), snapshot])
      }
      const compare = (snapshot: SnapshotStore.Snapshot, event: StoredEvent, state: S): void => {
        if (Option.isNone(stateCodec)) return
        const codec = stateCodec.value
        if (PositionModule.Order(event.position, snapshot.position) !== 0) {
          return void check(
            snapshot,
            "mismatch",
            `the event at version ${snapshot.version} is at position ${event.position}, the snapshot says ${snapshot.position}`
          )
        }
        const stored = codec.decode(snapshot.state)
        if (Either.isLeft(stored)) return void check(snapshot, "mismatch", `its state does not decode: ${stored.left}`)
        const folded = codec.encode(state)
        const kept = codec.encode(stored.right)
        if (Either.isLeft(folded) || Either.isLeft(kept)) {
          return void check(snapshot, "unchecked", "a state does not encode")
        }
        const differences = TimeTravel.diff(folded.right, kept.right)
        if (differences.length === 0) return void check(snapshot, "matches", "")
        check(snapshot, "mismatch", "its state differs from the fold of the events", differences)
      }

      const issues: Array<VerifyIssue> = []
      let state = aggregate.initialState
      let count = 0
      let lastVersion = 0
      let decodable = true
      yield* store.read(streamId).pipe(
        Stream.runForEach((stored) =>
          Effect.sync(() => {
            count++
            if (stored.version !== lastVersion + 1) {
              issues.push({ _tag: "VersionGap", expected: lastVersion + 1, found: stored.version })
            }
            lastVersion = stored.version
            if (!decodable) return
            const recorded = aggregate.codec.decode(stored)
            if (Either.isLeft(recorded)) {
              decodable = false
              issues.push({
                _tag: "UndecodableEvent",
                version: stored.version,
                position: stored.position,
                reason: recorded.left.reason
              })
              return
            }
            state = aggregate.evolve(state, recorded.right.event)
            for (const snapshot of byVersion.get(stored.version) ?? []) compare(snapshot, stored, state)
          })
        )
      )
      for (const snapshot of snapshots) {
        if (checks.has(snapshot)) continue
        if (decodable || snapshot.version < 1) {
          check(
            snapshot,
            "mismatch",
            snapshot.version >= 1 && Number.isInteger(snapshot.version)
              ? `the stream has no event at version ${snapshot.version} (${count} events)`
              : "its version is not a stream version"
          )
        } else check(snapshot, "unchecked", "an event before it does not decode")
      }
      if (streamVersion !== lastVersion) {
        issues.unshift({ _tag: "StreamVersionMismatch", eventsVersion: lastVersion, streamVersion })
      }
      const snapshotChecks = snapshots.flatMap((snapshot) => {
        const found = checks.get(snapshot)
        return found === undefined ? [] : [found]
      })
      for (const found of snapshotChecks) {
        if (found.outcome === "mismatch") {
          issues.push({ _tag: "SnapshotMismatch", version: found.version, reason: found.reason })
        }
      }
      const report: VerifyReport = {
        streamId,
        events: count,
        eventsVersion: lastVersion,
        streamVersion,
        snapshots: snapshotChecks,
        issues,
        consistent: issues.length === 0
      }
      return report
    })

    return {
      execute,
      load,
      loadAt,
      history,
      verify,
      events: (id) => Stream.unwrap(Effect.map(streamIdOf(id), (streamId) => decoded(streamId))),
      decodeCommand: (input) =>
        Either.mapLeft(
          decodeUnknownCommand(input),
          (error) => new InvalidCommandError({ aggregate: aggregate.name, id: "", reason: error.message })
        )
    }
  })

const boundsOf = (target: Target | undefined): SnapshotStore.Bounds | undefined => {
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

/** Why a snapshot does not belong to its stream, given the stream's event at the snapshot's version. */
const snapshotMismatch = (
  snapshot: { readonly version: number; readonly position: Option.Option<Position> },
  event: StoredEvent | undefined
): string | undefined => {
  if (event === undefined) return `the stream has fewer than ${snapshot.version} events`
  if (event.version !== snapshot.version) return `the stream has no event at version ${snapshot.version}`
  if (Option.isNone(snapshot.position)) return "it has no position"
  return PositionModule.Order(event.position, snapshot.position.value) === 0
    ? undefined
    : `the event at version ${snapshot.version} is at position ${event.position}, the snapshot says ${snapshot.position.value}`
}

const isConcurrencyError = (error: unknown): error is ConcurrencyError =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "ConcurrencyError"
