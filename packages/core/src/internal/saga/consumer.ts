/**
 * A saga's trigger consumer: a `Projection` named `saga:<name>`, so it has
 * the lease, checkpoint, status, lag and poison policy of every projection.
 * It reads the saga's trigger events, the events of its signals, and the
 * retry requests of its journal, and hands each to the runner:
 *
 * - a trigger: start the instance it names (a runner starts an instance
 *   once, however often its trigger is delivered);
 * - a signal's event: deliver it to the instance it names;
 * - a retry request: start the instance's next run.
 *
 * Consecutive triggers of a batch may be started concurrently (the runner's
 * `startConcurrency`, once per instance id in the run): the batch's
 * checkpoint is written only after every one of them was started, in the
 * same transaction, so a crash before it delivers the batch again, and
 * the runner's once-per-instance start makes that a no-op.
 *
 * A trigger that does not decode is an `EventDecodeError`, and an event
 * naming no valid instance an `InvalidInstanceId`: both are bad data, parked
 * by default.
 *
 * @internal
 */
import { Effect, Either } from "effect"
import type { AppendError } from "../../AppendError.js"
import * as Correlation from "../../Correlation.js"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "../../Event.js"
import { EventEncodeError, recordedAs } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import * as Projection from "../../Projection.js"
import type * as Saga from "../../Saga.js"
import * as SagaError from "../../SagaError.js"
import type { StoreError } from "../../StoreError.js"
import * as StreamId from "../../StreamId.js"
import { consumerName } from "./control.js"
import * as Definition from "./definition.js"
import * as Journal from "./journal.js"

/** A consumed event, sorted out. @internal */
export type Routed<T> =
  | { readonly _tag: "Trigger"; readonly recorded: RecordedEvent<T>; readonly stored: Journal.StoredEventJson }
  | {
      readonly _tag: "Signal"
      readonly signal: Saga.AnySignal
      readonly instanceId: string
      readonly stored: Journal.StoredEventJson
    }
  | { readonly _tag: "InvalidSignal"; readonly signal: Saga.AnySignal; readonly reason: string }
  | { readonly _tag: "Retry"; readonly request: Journal.SagaRetryRequested }
  | { readonly _tag: "Ignored" }

/** The errors a handler may fail with. @internal */
export type HandlerError = StoreError | AppendError | EventDecodeError | SagaError.InvalidInstanceId

/** What a runner does with consumed events. @internal */
export interface Handlers<T, R> {
  /**
   * How many consecutive triggers of a batch `start` may run for at once
   * (each instance id once); 1: one at a time, in order. `start` must then
   * be safe to run concurrently for distinct instances.
   */
  readonly startConcurrency: number
  /** Runs when the consumer takes the lease, before it reads events. */
  readonly setup: Effect.Effect<void, HandlerError, R>
  readonly start: (
    instanceId: string,
    recorded: RecordedEvent<T>,
    trigger: Journal.StoredEventJson
  ) => Effect.Effect<void, HandlerError, R>
  readonly signal: (
    signal: Saga.AnySignal,
    instanceId: string,
    stored: Journal.StoredEventJson
  ) => Effect.Effect<void, HandlerError, R>
  readonly retry: (request: Journal.SagaRetryRequested) => Effect.Effect<void, HandlerError, R>
}

const inCategories = (categories: ReadonlyArray<string> | undefined, streamId: string): boolean =>
  categories === undefined || categories.length === 0 || categories.includes(StreamId.category(streamId))

/** The codec of what a saga consumes: triggers, signals' events and retry requests. @internal */
export const codecOf = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>
): EventCodec.EventCodec<Routed<T>> => {
  const triggerTypes = new Set(saga.trigger.storedTypes)
  const journalCategory = Journal.category(saga.name)
  const retryType = "SagaRetryRequested"
  const storedTypes = [...new Set([...saga.trigger.storedTypes, ...saga.signals.flatMap((s) => s.types), retryType])]
  const decode = (stored: StoredEvent): Either.Either<RecordedEvent<Routed<T>>, EventDecodeError> => {
    if (triggerTypes.has(stored.type) && inCategories(saga.categories, stored.streamId)) {
      return Either.map(saga.trigger.decode(stored), (recorded) =>
        recordedAs<Routed<T>>(stored, { _tag: "Trigger", recorded, stored: Journal.toJson(stored) })
      )
    }
    for (const signal of saga.signals) {
      if (!signal.types.includes(stored.type) || !inCategories(signal.categories, stored.streamId)) continue
      const routed = signal.route(stored)
      if (Either.isRight(routed)) {
        return Either.right(
          recordedAs<Routed<T>>(stored, {
            _tag: "Signal",
            signal,
            instanceId: routed.right.instanceId,
            stored: Journal.toJson(stored)
          })
        )
      }
      const error = routed.left
      return typeof error === "string"
        ? Either.right(recordedAs<Routed<T>>(stored, { _tag: "InvalidSignal", signal, reason: error }))
        : Either.left(error)
    }
    if (stored.type === retryType && StreamId.category(stored.streamId) === journalCategory) {
      return Either.map(Journal.codec.decode(stored), (recorded) =>
        recordedAs<Routed<T>>(
          stored,
          recorded.event._tag === "SagaRetryRequested"
            ? { _tag: "Retry", request: recorded.event }
            : { _tag: "Ignored" }
        )
      )
    }
    return Either.right(recordedAs<Routed<T>>(stored, { _tag: "Ignored" }))
  }
  return {
    types: storedTypes,
    storedTypes,
    versionOf: () => 1,
    encode: (event) =>
      Either.left(new EventEncodeError({ eventType: event._tag, reason: "a saga consumer never writes events" })),
    decode,
    decodePayload: () => Either.left("a saga consumer decodes stored events only"),
    upcasters: []
  }
}

/**
 * The trigger consumer of a saga, as a projection.
 *
 * @internal
 */
export const projection = <T extends EventCodec.Tagged, A, E, R, RH>(
  saga: Saga.Saga<T, A, E, R>,
  handlers: Handlers<T, RH>
): Projection.Projection<Routed<T>, HandlerError, RH> => {
  const all = [saga.categories, ...saga.signals.map((s) => s.categories)]
  const categories = all.some((c) => c === undefined || c.length === 0)
    ? undefined
    : [...new Set([...all.flatMap((c) => c ?? []), Journal.category(saga.name)])]
  const inContext = <A, E2, R2>(recorded: RecordedEvent<Routed<T>>, effect: Effect.Effect<A, E2, R2>) =>
    Correlation.withContext(effect, { correlationId: recorded.metadata.correlationId, causationId: recorded.eventId })
  // The instance a trigger names, and the effect that starts it.
  const startOf = (recorded: RecordedEvent<Routed<T>>, trigger: Extract<Routed<T>, { _tag: "Trigger" }>) =>
    Either.map(Definition.instanceIdOf(saga, trigger.recorded), (instanceId) => ({
      instanceId,
      start: inContext(recorded, handlers.start(instanceId, trigger.recorded, trigger.stored))
    }))
  const handle = (recorded: RecordedEvent<Routed<T>>): Effect.Effect<void, HandlerError, RH> => {
    const routed = recorded.event
    switch (routed._tag) {
      case "Trigger":
        return Effect.flatMap(startOf(recorded, routed), ({ start }) => start)
      case "Signal":
        return inContext(recorded, handlers.signal(routed.signal, routed.instanceId, routed.stored))
      case "InvalidSignal":
        return Effect.fail(
          new SagaError.InvalidInstanceId({
            saga: saga.name,
            eventId: recorded.eventId,
            reason: `signal ${routed.signal.name}: ${routed.reason}`
          })
        )
      case "Retry":
        return routed.request.saga === saga.name ? inContext(recorded, handlers.retry(routed.request)) : Effect.void
      case "Ignored":
        return Effect.void
    }
  }
  // A run of consecutive triggers, started concurrently: the first trigger of
  // each instance id (a later one names an instance already started, a no-op).
  const startAll = (run: ReadonlyArray<RecordedEvent<Routed<T>>>): Effect.Effect<void, HandlerError, RH> =>
    Effect.gen(function* () {
      const first = new Map<string, Effect.Effect<void, HandlerError, RH>>()
      for (const recorded of run) {
        const routed = recorded.event
        if (routed._tag !== "Trigger") continue
        const { instanceId, start } = yield* startOf(recorded, routed)
        if (!first.has(instanceId)) first.set(instanceId, start)
      }
      yield* Effect.all([...first.values()], { concurrency: handlers.startConcurrency, discard: true })
    })
  const handleBatch = (events: ReadonlyArray<RecordedEvent<Routed<T>>>): Effect.Effect<void, HandlerError, RH> =>
    Effect.gen(function* () {
      if (handlers.startConcurrency <= 1) {
        for (const recorded of events) yield* handle(recorded)
        return
      }
      let i = 0
      while (i < events.length) {
        let j = i
        while (events[j]?.event._tag === "Trigger") j++
        if (j - i > 1) {
          yield* startAll(events.slice(i, j))
          i = j
          continue
        }
        const recorded = events[i]
        if (recorded !== undefined) yield* handle(recorded)
        i++
      }
    })
  return Projection.make({
    name: consumerName(saga),
    from: codecOf(saga),
    categories,
    setup: () => handlers.setup,
    handleBatch,
    isBadData: (error) => error._tag === "InvalidInstanceId"
  })
}

/** The consumer's run options: sagas park bad data by default. @internal */
export const runOptions = (options: Saga.RunOptions | undefined): Projection.RunOptions => ({
  ...options,
  onFailure: options?.onFailure ?? "park"
})
