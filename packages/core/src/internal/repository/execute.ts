/**
 * Executing a command: load (or recall from the cache), decide, append with
 * the exact version of the state decided on, and retry on conflict.
 *
 * @internal
 */
import { Effect, Either, Metric, Option } from "effect"
import * as Aggregate from "../../Aggregate.js"
import { ConcurrencyError, isConcurrencyError } from "../../AppendError.js"
import * as Correlation from "../../Correlation.js"
import * as EventCodec from "../../EventCodec.js"
import * as ExpectedVersion from "../../ExpectedVersion.js"
import * as Metrics from "../../Metrics.js"
import type { Position } from "../../Position.js"
import { type ExecuteError, type ExecuteOptions, type ExecuteResult, InvalidCommandError } from "../../Repository.js"
import type { StreamId } from "../../StreamId.js"
import { retryLazily } from "../retryLazily.js"
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

const attempt = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  cache: StateCache<S, E>,
  streamId: StreamId,
  command: C,
  commandId: string,
  correlationId: string,
  options: ExecuteOptions | undefined,
  known: { last: Loaded<S, E> | undefined }
): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
  Effect.gen(function* () {
    const hit = known.last === undefined ? cache.recall(streamId) : undefined
    let fromCache = hit !== undefined && !hit.recentCommands.includes(commandId)
    let current =
      known.last !== undefined
        ? yield* loadNewer(context, streamId, commandId, known.last)
        : fromCache && hit !== undefined
          ? hit.loaded
          : yield* loadStream(context, streamId, commandId)
    const expected = exactOf(options?.expectedVersion)
    if (expected !== undefined && expected !== current.version && fromCache) {
      // The caller saw another version than the cache holds: read what is
      // newer before deciding anything.
      current = yield* loadNewer(context, streamId, commandId, current)
      fromCache = false
    }
    known.last = current
    const forget = Effect.sync(() => cache.forget(streamId))
    const retryOnce = (): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
      attempt(context, cache, streamId, command, commandId, correlationId, options, known)
    const retryAfterForget = () =>
      Effect.zipRight(
        Effect.sync(() => {
          cache.forget(streamId)
          known.last = undefined
        }),
        retryOnce()
      )
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
    const duplicateOf = (loaded: Loaded<S, E>): ExecuteResult<S, E> => ({
      events: loaded.byCommand.map((r) => r.event),
      state: loaded.state,
      version: loaded.version,
      position: Option.fromNullable(loaded.byCommand[loaded.byCommand.length - 1]).pipe(Option.map((r) => r.position)),
      commandId,
      correlationId,
      duplicate: true
    })
    if (current.byCommand.length > 0) return duplicateOf(current)
    if (expected !== undefined && expected !== current.version) {
      // Never decide on a state other than the one the caller expects.
      return yield* new ConcurrencyError({ streamId, expected: `${expected}`, actual: current.version })
    }
    if (isStreamExists(options?.expectedVersion) && current.version === 0) {
      if (fromCache) return yield* retryAfterForget()
      return yield* new ConcurrencyError({ streamId, expected: "stream exists", actual: 0 })
    }
    const decision = yield* Effect.either(context.model.decide(command, current.state))
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
    const data = yield* EventCodec.toEventData(context.model.codec, events, (index) =>
      Correlation.deterministicId(commandId, streamId, `${index}`)
    )
    // Always the version of the state the decision was made on.
    const outcome = yield* Effect.either(
      context.store.append(streamId, data, {
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
        yield* countRetry(context.model.name)
        return yield* retryOnce()
      }
      return yield* Effect.fail(outcome.left)
    }
    const appended = outcome.right
    if (appended.duplicate) return duplicateOf(yield* loadStream(context, streamId, commandId))
    const state = Aggregate.fold(context.model, events, current.state)
    const snapshotted = yield* snapshotAfter(context, streamId, current, state, appended)
    const version = appended.nextExpectedVersion
    const position = Option.fromNullable(appended.positions[appended.positions.length - 1])
    cache.remember(
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
    return { events, state, version, position, commandId, correlationId, duplicate: false }
  })

/** @internal */
export const execute =
  <S, E extends EventCodec.Tagged, C, Err>(
    context: Context<S, E, C, Err>,
    cache: StateCache<S, E>
  ): ((id: string, command: C, options?: ExecuteOptions) => Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError>) =>
  // A span without `Effect.fn`: `Effect.fn` captures the caller's stack trace
  // on every call (an `Error` per command), which cost more client CPU than
  // the span itself in W1; the span keeps its name and nests as before.
  (id, command, options) =>
    Effect.withSpan(executeOnce(context, cache, id, command, options), "Chronicle.Repository.execute", {
      captureStackTrace: false
    })

const executeOnce = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  cache: StateCache<S, E>,
  id: string,
  command: C,
  options: ExecuteOptions | undefined
): Effect.Effect<ExecuteResult<S, E>, Err | ExecuteError> =>
  Effect.gen(function* () {
    const { model } = context
    const streamId = yield* streamIdOf(model.name, id)
    const valid = yield* checkCommand(model, id, command)
    const expected = exactOf(options?.expectedVersion)
    if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
      return yield* new InvalidCommandError({
        aggregate: model.name,
        id,
        reason: `the expected version ${expected} is not a non-negative integer`
      })
    }
    const correlation = yield* Correlation.current
    const commandId = options?.commandId ?? crypto.randomUUID()
    const correlationId = Option.getOrElse(correlation.correlationId, () => commandId)
    yield* Effect.annotateCurrentSpan({ aggregate: model.name, streamId, commandId, correlationId })
    const requireExists = isStreamExists(options?.expectedVersion)
    const once = attempt(context, cache, streamId, valid, commandId, correlationId, options, { last: undefined })
    return yield* expected === undefined
      ? retryLazily(once, {
          schedule: context.retry,
          // A missing stream under `StreamExists` is the caller's expectation failing, not a race.
          while: (error) =>
            isConcurrencyError(error) && !(requireExists && error.actual === 0)
              ? Effect.as(countRetry(model.name), true)
              : Effect.succeed(false)
        })
      : once
  })
