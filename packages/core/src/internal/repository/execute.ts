/**
 * Executing a command: load (or recall from the cache), decide, append with
 * the exact version of the state decided on, and retry on conflict.
 *
 * @internal
 */
import { Effect, Either, Metric, Option } from "effect"
import * as Aggregate from "../../Aggregate.js"
import type { AppendResult } from "../../Append.js"
import { ConcurrencyError, isConcurrencyError } from "../../AppendError.js"
import * as Correlation from "../../Correlation.js"
import type { EventData, EventEncodeError } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import * as ExpectedVersion from "../../ExpectedVersion.js"
import * as Metrics from "../../Metrics.js"
import type { Position } from "../../Position.js"
import { type ExecuteError, type ExecuteOptions, type ExecuteResult, InvalidCommandError } from "../../Repository.js"
import type { StreamId } from "../../StreamId.js"
import { retryLazily } from "../retryLazily.js"
import { whenTraced } from "../traced.js"
import type { Context, Loaded } from "./context.js"
import { loadNewer, loadStream } from "./fold.js"
import { snapshotAfter } from "./snapshotWrite.js"
import type { StateCache } from "./stateCache.js"
import { checkCommand, streamIdOf } from "./validation.js"

/** Counts a command decided again after a conflict, in `Metrics.commandRetries`. */
const countRetry = (aggregate: string) =>
  Metric.increment(Metric.tagged(Metrics.commandRetries, "aggregate", aggregate))

/** The exact version a command must be decided on, if the caller names one. */
const exactOf = (expected: ExpectedVersion.ExpectedVersion | number | undefined): number | undefined => {
  if (expected === undefined || typeof expected === "number") return expected
  switch (expected._tag) {
    case "Exact":
      return expected.version
    case "NoStream":
      return 0
    default:
      return undefined
  }
}

const isStreamExists = (expected: ExpectedVersion.ExpectedVersion | number | undefined): boolean =>
  expected !== undefined && typeof expected !== "number" && expected._tag === "StreamExists"

/** What one command works with, fixed for all of its attempts. */
interface Command<S, E extends EventCodec.Tagged, C, Err> {
  readonly context: Context<S, E, C, Err>
  readonly cache: StateCache<S, E>
  readonly streamId: StreamId
  readonly command: C
  readonly commandId: string
  readonly correlationId: string
  readonly options: ExecuteOptions | undefined
  /** The exact version the caller named, if any. */
  readonly expected: number | undefined
  /** The state the last attempt decided on (a retry reads only what is newer). */
  last: Loaded<S, E> | undefined
}

/** The result of a command id that already ran, from its recorded events. */
const duplicateOf = <S, E extends EventCodec.Tagged, C, Err>(
  cmd: Command<S, E, C, Err>,
  loaded: Loaded<S, E>
): ExecuteResult<S, E> => ({
  events: loaded.byCommand.map((r) => r.event),
  state: loaded.state,
  version: loaded.version,
  position: Option.fromNullable(loaded.byCommand[loaded.byCommand.length - 1]).pipe(Option.map((r) => r.position)),
  commandId: cmd.commandId,
  correlationId: cmd.correlationId,
  duplicate: true
})

/**
 * The decided events in their stored form, with ids derived from the
 * command id (a plain loop: one event per command is the common case).
 */
const encodeEvents = <S, E extends EventCodec.Tagged, C, Err>(
  cmd: Command<S, E, C, Err>,
  events: ReadonlyArray<E>
): Either.Either<ReadonlyArray<EventData>, EventEncodeError> => {
  const data: Array<EventData> = []
  for (let index = 0; index < events.length; index++) {
    const event = events[index]
    if (event === undefined) continue
    const encoded = cmd.context.model.codec.encode(event)
    if (Either.isLeft(encoded)) return Either.left(encoded.left)
    data.push({ eventId: Correlation.deterministicId(cmd.commandId, cmd.streamId, `${index}`), ...encoded.right })
  }
  return Either.right(data)
}

/** One load-decide-append cycle. */
const attempt = <S, E extends EventCodec.Tagged, C, Err>(
  cmd: Command<S, E, C, Err>
): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> => {
  const { context, cache, streamId, commandId } = cmd
  const hit = cmd.last === undefined ? cache.recall(streamId) : undefined
  const fromCache = hit !== undefined && !hit.recentCommands.includes(commandId)
  if (cmd.last !== undefined) {
    return Effect.flatMap(loadNewer(context, streamId, commandId, cmd.last), (current) => decideOn(cmd, current, false))
  }
  if (fromCache) {
    if (cmd.expected !== undefined && cmd.expected !== hit.loaded.version) {
      // The caller saw another version than the cache holds: read what is
      // newer before deciding anything.
      return Effect.flatMap(loadNewer(context, streamId, commandId, hit.loaded), (current) =>
        decideOn(cmd, current, false)
      )
    }
    return decideOn(cmd, hit.loaded, true)
  }
  return Effect.flatMap(loadStream(context, streamId, commandId), (current) => decideOn(cmd, current, false))
}

/** Decides on `current` and appends with its exact version. */
const decideOn = <S, E extends EventCodec.Tagged, C, Err>(
  cmd: Command<S, E, C, Err>,
  current: Loaded<S, E>,
  fromCache: boolean
): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> => {
  const { context, cache, streamId, commandId, correlationId, options, expected } = cmd
  cmd.last = current
  const retryAfterForget = (): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
    Effect.suspend(() => {
      cache.forget(streamId)
      cmd.last = undefined
      return attempt(cmd)
    })
  // A refusal or an empty decision taken on a cached state stands only if
  // the stream has not moved since: otherwise decide again on fresh state.
  const confirmed = (
    outcome: Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError>
  ): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
    fromCache
      ? Effect.flatMap(loadNewer(context, streamId, commandId, current), (fresh) =>
          fresh.version === current.version ? outcome : retryAfterForget()
        )
      : outcome
  if (current.byCommand.length > 0) return Effect.succeed(duplicateOf(cmd, current))
  if (expected !== undefined && expected !== current.version) {
    // Never decide on a state other than the one the caller expects.
    return Effect.fail(new ConcurrencyError({ streamId, expected: `${expected}`, actual: current.version }))
  }
  if (isStreamExists(options?.expectedVersion) && current.version === 0) {
    if (fromCache) return retryAfterForget()
    return Effect.fail(new ConcurrencyError({ streamId, expected: "stream exists", actual: 0 }))
  }
  return Effect.matchEffect(context.model.decide(cmd.command, current.state), {
    onFailure: (error) => confirmed(Effect.fail(error)),
    onSuccess: (decision) => {
      const events = Aggregate.decisionEvents(decision)
      if (events.length === 0) {
        return confirmed(
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
      const data = encodeEvents(cmd, events)
      if (Either.isLeft(data)) return Effect.fail(data.left)
      // Always the version of the state the decision was made on.
      return Effect.matchEffect(
        context.store.append(streamId, data.right, {
          expectedVersion: ExpectedVersion.exact(current.version),
          metadata: { correlationId, causationId: commandId, user: options?.metadata }
        }),
        {
          onFailure: (error) => {
            // Whatever went wrong, the cached entry may be stale now.
            cache.forget(streamId)
            if (fromCache && isConcurrencyError(error)) {
              // The cached state was stale: read the newer events and decide
              // again, once, as an uncached command would have from the start.
              return Effect.zipRight(countRetry(context.model.name), attempt(cmd))
            }
            return Effect.fail(error)
          },
          onSuccess: (appended) =>
            appended.duplicate
              ? Effect.map(loadStream(context, streamId, commandId), (loaded) => duplicateOf(cmd, loaded))
              : afterAppend(cmd, current, events, appended)
        }
      )
    }
  })
}

/** After a written append: the new state, a snapshot if due, the cache. */
const afterAppend = <S, E extends EventCodec.Tagged, C, Err>(
  cmd: Command<S, E, C, Err>,
  current: Loaded<S, E>,
  events: ReadonlyArray<E>,
  appended: AppendResult
): Effect.Effect<ExecuteResult<S, E>> => {
  const { context, streamId, commandId, correlationId } = cmd
  const state = Aggregate.fold(context.model, events, current.state)
  const version = appended.nextExpectedVersion
  const position = Option.fromNullable(appended.positions[appended.positions.length - 1])
  const done = (snapshotted: boolean): ExecuteResult<S, E> => {
    cmd.cache.remember(
      streamId,
      { state, version, position, byCommand: [], snapshotVersion: snapshotted ? version : current.snapshotVersion },
      commandId
    )
    return { events, state, version, position, commandId, correlationId, duplicate: false }
  }
  // No snapshot strategy (the default): no snapshot step at all.
  return context.snapshotStrategy === undefined
    ? Effect.succeed(done(false))
    : Effect.map(snapshotAfter(context, streamId, current, state, appended), done)
}

/** @internal */
export const execute =
  <S, E extends EventCodec.Tagged, C, Err>(
    context: Context<S, E, C, Err>,
    cache: StateCache<S, E>
  ): ((id: string, command: C, options?: ExecuteOptions) => Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError>) =>
  // A span without `Effect.fn`: `Effect.fn` captures the caller's stack trace
  // on every call (an `Error` per command), which cost more client CPU than
  // the span itself in W1; the span keeps its name and nests as before. None
  // under Effect's built-in tracer, which keeps spans nowhere (`whenTraced`).
  (id, command, options) =>
    whenTraced(
      () =>
        Effect.withSpan(executeOnce(context, cache, id, command, options, true), "Chronicle.Repository.execute", {
          captureStackTrace: false
        }),
      () => executeOnce(context, cache, id, command, options, false)
    )

const executeOnce = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  cache: StateCache<S, E>,
  id: string,
  command: C,
  options: ExecuteOptions | undefined,
  traced: boolean
): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> => {
  const { model } = context
  const expected = exactOf(options?.expectedVersion)
  return Effect.flatMap(streamIdOf(model.name, id), (streamId) => {
    const valid = checkCommand(model, id, command)
    if (Either.isLeft(valid)) return Effect.fail(valid.left)
    if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
      return Effect.fail(
        new InvalidCommandError({
          aggregate: model.name,
          id,
          reason: `the expected version ${expected} is not a non-negative integer`
        })
      )
    }
    return Effect.flatMap(Correlation.current, (correlation) => {
      const commandId = options?.commandId ?? crypto.randomUUID()
      const correlationId = Option.getOrElse(correlation.correlationId, () => commandId)
      const requireExists = isStreamExists(options?.expectedVersion)
      const cmd: Command<S, E, C, Err> = {
        context,
        cache,
        streamId,
        command: valid.right,
        commandId,
        correlationId,
        options,
        expected,
        last: undefined
      }
      // Suspended: a retry runs a new attempt (on the state `cmd.last` holds by then).
      const once = Effect.suspend(() => attempt(cmd))
      const run =
        expected === undefined
          ? retryLazily(once, {
              schedule: context.retry,
              // A missing stream under `StreamExists` is the caller's expectation failing, not a race.
              while: (error) =>
                isConcurrencyError(error) && !(requireExists && error.actual === 0)
                  ? Effect.as(countRetry(model.name), true)
                  : Effect.succeed(false)
            })
          : once
      return traced
        ? Effect.zipRight(
            Effect.annotateCurrentSpan({ aggregate: model.name, streamId, commandId, correlationId }),
            run
          )
        : run
    })
  })
}
