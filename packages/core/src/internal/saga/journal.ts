/**
 * The saga journal: one Chronicle stream per saga instance
 * (`saga:<name>-<instanceId>`) whose events record what the instance did:
 * started, each step completed, waiting, compensating, each compensation,
 * and how it ended. Both runners write it (the in-process one also uses it
 * to start an instance once); `SagaAdmin.status` and `SagaAdmin.list` fold it. Every
 * journal event has a deterministic id, so a re-run after a crash appends
 * nothing twice.
 *
 * @internal
 */
import { DateTime, Effect, Either, Option, Schema, Stream } from "effect"
import type { AppendResult } from "../../Append.js"
import type { AppendError } from "../../AppendError.js"
import * as Correlation from "../../Correlation.js"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "../../Event.js"
import * as EventCodec from "../../EventCodec.js"
import type { EventStore } from "../../EventStore.js"
import type * as ExpectedVersion from "../../ExpectedVersion.js"
import * as Position from "../../Position.js"
import type * as SagaAdmin from "../../SagaAdmin.js"
import type { StoreError } from "../../StoreError.js"
import * as StreamId from "../../StreamId.js"

/** A stored event as JSON (in the journal and in durable payloads). @internal */
export const StoredEventJson = Schema.Struct({
  eventId: Schema.String,
  streamId: Schema.String,
  version: Schema.Number,
  position: Schema.String,
  type: Schema.String,
  schemaVersion: Schema.Number,
  data: Schema.Unknown,
  metadata: Schema.Struct({
    correlationId: Schema.String,
    causationId: Schema.NullOr(Schema.String),
    user: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  }),
  recordedAt: Schema.Number
})

/** @internal */
export type StoredEventJson = typeof StoredEventJson.Type

/** @internal */
export const toJson = (stored: StoredEvent): StoredEventJson => ({
  eventId: stored.eventId,
  streamId: stored.streamId,
  version: stored.version,
  position: Position.encode(stored.position),
  type: stored.type,
  schemaVersion: stored.schemaVersion,
  data: stored.data,
  metadata: stored.metadata,
  recordedAt: stored.recordedAt.epochMillis
})

/** @internal */
export const fromJson = (json: StoredEventJson): Either.Either<StoredEvent, string> =>
  Either.all({
    streamId: StreamId.parse(json.streamId),
    position: Either.mapLeft(Position.decode(json.position), (error) => error.message)
  }).pipe(
    Either.map(({ position, streamId }) => ({
      eventId: json.eventId,
      streamId,
      version: json.version,
      position,
      type: json.type,
      schemaVersion: json.schemaVersion,
      data: json.data,
      metadata: json.metadata,
      recordedAt: utc(json.recordedAt)
    }))
  )

/** @internal */
export const utc = (millis: number): DateTime.Utc => DateTime.unsafeMake(millis)

/** @internal */
export class SagaStarted extends Schema.TaggedClass<SagaStarted>()("SagaStarted", {
  saga: Schema.String,
  instanceId: Schema.String,
  run: Schema.Int,
  attempt: Schema.Int,
  mode: Schema.Literal("in-process", "durable"),
  trigger: StoredEventJson
}) {}

/** @internal */
export class SagaStepCompleted extends Schema.TaggedClass<SagaStepCompleted>()("SagaStepCompleted", {
  run: Schema.Int,
  step: Schema.String,
  commandId: Schema.String,
  result: Schema.optional(Schema.Unknown)
}) {}

/** @internal */
export class SagaWaiting extends Schema.TaggedClass<SagaWaiting>()("SagaWaiting", {
  run: Schema.Int,
  for: Schema.String,
  until: Schema.optional(Schema.Number)
}) {}

/** @internal */
export class SagaResumed extends Schema.TaggedClass<SagaResumed>()("SagaResumed", {
  run: Schema.Int,
  for: Schema.String,
  outcome: Schema.Literal("event", "timeout", "slept")
}) {}

/** @internal */
export class SagaSignalReceived extends Schema.TaggedClass<SagaSignalReceived>()("SagaSignalReceived", {
  signal: Schema.String,
  event: StoredEventJson
}) {}

/** @internal */
export class SagaCompensating extends Schema.TaggedClass<SagaCompensating>()("SagaCompensating", {
  run: Schema.Int,
  reason: Schema.String
}) {}

/** @internal */
export class SagaStepCompensated extends Schema.TaggedClass<SagaStepCompensated>()("SagaStepCompensated", {
  run: Schema.Int,
  step: Schema.String,
  commandId: Schema.String
}) {}

/** @internal */
export class SagaCompensationFailed extends Schema.TaggedClass<SagaCompensationFailed>()("SagaCompensationFailed", {
  run: Schema.Int,
  step: Schema.String,
  reason: Schema.String
}) {}

/** @internal */
export class SagaCompleted extends Schema.TaggedClass<SagaCompleted>()("SagaCompleted", {
  run: Schema.Int,
  result: Schema.optionalWith(Schema.Unknown, { exact: true })
}) {}

/**
 * The journal event of a completed run, with its encoded result when it has
 * one (an `undefined` result, say of a saga with no `success` Schema, is
 * left out: JSON cannot hold it).
 *
 * @internal
 */
export const completed = (run: number, result: unknown): SagaCompleted =>
  new SagaCompleted(result === undefined ? { run } : { run, result })

/** @internal */
export class SagaFailed extends Schema.TaggedClass<SagaFailed>()("SagaFailed", {
  run: Schema.Int,
  reason: Schema.String,
  compensationFailed: Schema.Boolean
}) {}

/** @internal */
export class SagaRetryRequested extends Schema.TaggedClass<SagaRetryRequested>()("SagaRetryRequested", {
  saga: Schema.String,
  instanceId: Schema.String,
  run: Schema.Int,
  attempt: Schema.Int
}) {}

/** @internal */
export const JournalEvent = Schema.Union(
  SagaStarted,
  SagaStepCompleted,
  SagaWaiting,
  SagaResumed,
  SagaSignalReceived,
  SagaCompensating,
  SagaStepCompensated,
  SagaCompensationFailed,
  SagaCompleted,
  SagaFailed,
  SagaRetryRequested
)

/** @internal */
export type JournalEvent = typeof JournalEvent.Type

/** @internal */
export const codec: EventCodec.EventCodec<JournalEvent> = EventCodec.make(JournalEvent)

/** The journal's stream category of a saga. @internal */
export const category = (saga: string): string => `saga:${saga}`

/** The journal stream of one instance. @internal */
export const streamOf = (saga: string, instanceId: string): StreamId.StreamId =>
  StreamId.forAggregate(category(saga), instanceId)

/** The instance id of a journal stream. @internal */
export const instanceOf = (saga: string, streamId: string): string => streamId.slice(category(saga).length + 1)

/** The longest instance id. @internal */
export const maxInstanceIdLength = 200

/** Why an instance id is refused, if it is. @internal */
export const invalidInstanceId = (id: unknown): string | undefined => {
  if (typeof id !== "string") return `an instance id must be a string, got ${typeof id}`
  if (id.length === 0) return "an instance id must not be empty"
  if (id.length > maxInstanceIdLength) {
    return `an instance id is at most ${maxInstanceIdLength} characters, got ${id.length}`
  }
  return undefined
}

/** The states of an instance (see `SagaAdmin.State`). @internal */
export type State = SagaAdmin.State

/** What the journal says about one instance. @internal */
export interface Folded {
  readonly instanceId: string
  readonly state: State
  readonly run: number
  readonly attempt: number
  readonly mode: "in-process" | "durable" | "unknown"
  readonly steps: ReadonlyArray<string>
  readonly compensated: ReadonlyArray<string>
  readonly waitingFor: Option.Option<{ readonly for: string; readonly until: Option.Option<number> }>
  readonly error: Option.Option<string>
  readonly compensationErrors: ReadonlyArray<string>
  readonly trigger: Option.Option<StoredEventJson>
  readonly result: Option.Option<unknown>
  readonly signals: ReadonlyMap<string, StoredEventJson>
  readonly version: number
  readonly startedAt: Option.Option<RecordedEvent<JournalEvent>["recordedAt"]>
  readonly updatedAt: Option.Option<RecordedEvent<JournalEvent>["recordedAt"]>
}

/** @internal */
export const empty = (instanceId: string): Folded => ({
  instanceId,
  state: "running",
  run: 0,
  attempt: 1,
  mode: "unknown",
  steps: [],
  compensated: [],
  waitingFor: Option.none(),
  error: Option.none(),
  compensationErrors: [],
  trigger: Option.none(),
  result: Option.none(),
  signals: new Map(),
  version: 0,
  startedAt: Option.none(),
  updatedAt: Option.none()
})

/** Folds one journal event. Events of another run than the current one are ignored. @internal */
export const evolve = (state: Folded, recorded: RecordedEvent<JournalEvent>): Folded => {
  const event = recorded.event
  const base: Folded = {
    ...state,
    version: recorded.version,
    updatedAt: Option.some(recorded.recordedAt),
    startedAt: Option.isNone(state.startedAt) ? Option.some(recorded.recordedAt) : state.startedAt
  }
  const fresh = (run: number, attempt: number): Folded => ({
    ...base,
    state: "running",
    run,
    attempt,
    steps: [],
    compensated: [],
    waitingFor: Option.none(),
    error: Option.none(),
    compensationErrors: [],
    result: Option.none()
  })
  switch (event._tag) {
    case "SagaStarted":
      if (event.run < state.run) return base
      if (event.run === state.run) return { ...base, mode: event.mode, trigger: Option.some(event.trigger) }
      return { ...fresh(event.run, event.attempt), mode: event.mode, trigger: Option.some(event.trigger) }
    case "SagaRetryRequested":
      return event.run > state.run ? fresh(event.run, event.attempt) : base
    case "SagaSignalReceived":
      return { ...base, signals: new Map(state.signals).set(event.signal, event.event) }
  }
  if (event.run !== state.run) return base
  switch (event._tag) {
    case "SagaStepCompleted":
      return state.steps.includes(event.step) ? base : { ...base, steps: [...state.steps, event.step] }
    case "SagaWaiting":
      return {
        ...base,
        state: isTerminal(state.state) ? state.state : "waiting",
        waitingFor: Option.some({ for: event.for, until: Option.fromNullable(event.until) })
      }
    case "SagaResumed":
      return {
        ...base,
        state: state.state === "waiting" ? "running" : state.state,
        waitingFor: Option.none()
      }
    case "SagaCompensating":
      return {
        ...base,
        state: isTerminal(state.state) ? state.state : "compensating",
        waitingFor: Option.none(),
        error: Option.some(event.reason)
      }
    case "SagaStepCompensated":
      return state.compensated.includes(event.step)
        ? base
        : { ...base, compensated: [...state.compensated, event.step] }
    case "SagaCompensationFailed":
      return { ...base, compensationErrors: [...state.compensationErrors, `${event.step}: ${event.reason}`] }
    case "SagaCompleted":
      return { ...base, state: "completed", waitingFor: Option.none(), result: Option.fromNullable(event.result) }
    case "SagaFailed":
      return {
        ...base,
        state: event.compensationFailed ? "compensation-failed" : "failed",
        waitingFor: Option.none(),
        error: Option.some(event.reason)
      }
  }
}

/** @internal */
export const isTerminal = (state: State): boolean =>
  state === "completed" || state === "failed" || state === "compensation-failed"

/** Reads and folds one instance's journal; none when it has no journal. @internal */
export const load = (
  store: EventStore["Type"],
  saga: string,
  instanceId: string
): Effect.Effect<Option.Option<Folded>, StoreError | EventDecodeError> =>
  Effect.gen(function* () {
    const events = yield* store.readEvents(streamOf(saga, instanceId))
    if (events.length === 0) return Option.none()
    let state = empty(instanceId)
    for (const stored of events) {
      state = evolve(state, yield* codec.decode(stored))
    }
    return Option.some(state)
  })

/**
 * Folds every instance of a saga, from the global feed (a scan of the
 * saga's journal category), oldest first: in the order of their triggers in
 * the feed (instances of one consumer batch may start in any order), or of
 * their first journal event when the journal holds no trigger.
 *
 * @internal
 */
export const loadAll = (
  store: EventStore["Type"],
  saga: string
): Effect.Effect<ReadonlyArray<Folded>, StoreError | EventDecodeError> =>
  Effect.map(
    store.readAll({ categories: [category(saga)], types: codec.storedTypes }).pipe(
      Stream.mapEffect((stored) => codec.decode(stored)),
      Stream.runFold(
        { folded: new Map<string, Folded>(), first: new Map<string, Position.Position>() },
        (all, recorded) => {
          const instanceId = instanceOf(saga, recorded.streamId)
          if (!all.first.has(instanceId)) all.first.set(instanceId, recorded.position)
          all.folded.set(instanceId, evolve(all.folded.get(instanceId) ?? empty(instanceId), recorded))
          return all
        }
      )
    ),
    ({ first, folded }) => {
      const age = (f: Folded): Position.Position =>
        Option.getOrElse(
          Option.flatMap(f.trigger, (trigger) => Either.getRight(Position.decode(trigger.position))),
          () => first.get(f.instanceId) ?? Position.start
        )
      return [...folded.values()].sort((a, b) => Position.Order(age(a), age(b)))
    }
  )

/** The deterministic id of a journal event: the same facts give the same id. @internal */
export const eventId = (saga: string, instanceId: string, ...names: ReadonlyArray<string>): string =>
  Correlation.deterministicId("chronicle/saga-journal", saga, instanceId, ...names)

/**
 * Appends journal events, each with a deterministic id, in one append:
 * appending them again is a no-op (`duplicate`). The journal's metadata
 * carries the instance's correlation id and the trigger event as causation.
 *
 * @internal
 */
export const append = (
  store: EventStore["Type"],
  options: {
    readonly saga: string
    readonly instanceId: string
    readonly correlationId: string
    readonly causationId: string
  },
  entries: ReadonlyArray<{ readonly key: ReadonlyArray<string>; readonly event: JournalEvent }>,
  expectedVersion?: ExpectedVersion.ExpectedVersion
): Effect.Effect<AppendResult, AppendError | StoreError> =>
  Effect.flatMap(
    Effect.forEach(entries, ({ event, key }) =>
      Either.match(codec.encode(event), {
        // every journal event is a plain Schema class: encoding one fails only on a bug
        onLeft: (error) => Effect.die(error),
        onRight: (encoded) => Effect.succeed({ eventId: eventId(options.saga, options.instanceId, ...key), ...encoded })
      })
    ),
    (data) =>
      store.append(streamOf(options.saga, options.instanceId), data, {
        expectedVersion,
        metadata: { correlationId: options.correlationId, causationId: options.causationId }
      })
  )
