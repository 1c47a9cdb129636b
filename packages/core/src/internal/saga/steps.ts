/**
 * What both saga runners share: command ids, step and compensation
 * contexts, running a step under its retry and error rules, describing a
 * failure, and appending to the journal with retries.
 *
 * @internal
 */
import { Cause, Effect, Either, Option, ParseResult, Schedule, Schema } from "effect"
import { type AppendError, isConcurrencyError } from "../../AppendError.js"
import type { RecordedEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type { EventStore } from "../../EventStore.js"
import * as ExpectedVersion from "../../ExpectedVersion.js"
import type * as Saga from "../../Saga.js"
import * as SagaError from "../../SagaError.js"
import * as SagaInstance from "../../SagaInstance.js"
import * as SagaStep from "../../SagaStep.js"
import type { StoreError } from "../../StoreError.js"
import { describeError } from "../describe.js"
import * as Journal from "./journal.js"

/** Who an instance is. @internal */
export interface Identity {
  readonly saga: string
  readonly instanceId: string
  readonly run: number
  readonly attempt: number
  /** The trigger event's correlation id: the instance's. */
  readonly correlationId: string
  /** The trigger event's id. */
  readonly triggerEventId: string
}

/**
 * The saga's `run` for one instance, with the instance's runtime (how its
 * steps, waits and sleeps are carried out: in process or on the engine)
 * provided. @internal
 */
export const instanceRun = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  identity: Identity,
  recorded: RecordedEvent<T>,
  operations: Pick<SagaInstance.InstanceRuntime, "step" | "awaitEvent" | "sleep">
): Effect.Effect<A, E, R> =>
  saga
    .run(recorded.event, { saga: identity.saga, instanceId: identity.instanceId, recorded, attempt: identity.attempt })
    .pipe(
      Effect.provideService(SagaInstance.Instance, {
        saga: identity.saga,
        instanceId: identity.instanceId,
        run: identity.run,
        attempt: identity.attempt,
        ...operations
      })
    )

/** The command id of a step, or of its compensation (see `SagaStep.commandId`). @internal */
export const commandId = (identity: Identity, step: string, compensation = false): string =>
  SagaStep.commandId({
    saga: identity.saga,
    instanceId: identity.instanceId,
    step,
    attempt: identity.attempt,
    compensation
  })

/** @internal */
export const stepContext = (identity: Identity, step: string): SagaStep.StepContext => ({
  commandId: commandId(identity, step),
  metadata: {
    saga: identity.saga,
    sagaInstance: identity.instanceId,
    sagaStep: step,
    sagaTrigger: identity.triggerEventId
  },
  saga: identity.saga,
  instanceId: identity.instanceId,
  step,
  attempt: identity.attempt
})

/** @internal */
export const compensationContext = (
  identity: Identity,
  step: string,
  cause: Cause.Cause<unknown>
): SagaStep.CompensationContext => ({
  commandId: commandId(identity, step, true),
  metadata: {
    saga: identity.saga,
    sagaInstance: identity.instanceId,
    sagaStep: step,
    sagaCompensation: true,
    sagaTrigger: identity.triggerEventId
  },
  saga: identity.saga,
  instanceId: identity.instanceId,
  step,
  attempt: identity.attempt,
  reason: describeCause(cause),
  cause
})

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

/**
 * One line for an error, for people: its message (following its causes,
 * see `describeError`) without its tag, or its tag when it has no message
 * of its own (Schema renders a tagged error's empty fields as `{  }`); a
 * recorded `SagaFailure` is its reason.
 *
 * @internal
 */
export const describe = (error: unknown): string => {
  if (error instanceof SagaError.SagaFailure) return error.reason
  const text = describeError(error)
  const tag = tagOf(error)
  if (tag === undefined) return text
  if (!text.startsWith(`${tag}: `)) return text
  const message = text.slice(tag.length + 2)
  // no message of its own: Schema renders the fields (`{  }` when there are none)
  if (message.startsWith("{")) return /^\{\s*\}$/.test(message) ? tag : text
  return message
}

/** A readable reason for a failure cause: its first failure, or its first defect. @internal */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return describe(failure.value)
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) return `defect: ${describe(defect.value)}`
  return Cause.isInterruptedOnly(cause) ? "interrupted" : (Cause.pretty(cause).split("\n")[0] ?? "unknown")
}

/** @internal */
export const failureOf = (identity: Identity, cause: Cause.Cause<unknown>): SagaInstance.FailureContext => ({
  ...stepContext(identity, "on-failure"),
  reason: describeCause(cause),
  errorTag: Option.getOrUndefined(
    Option.flatMap(Cause.failureOption(cause), (e) =>
      Option.fromNullable(e instanceof SagaError.SagaFailure ? e.errorTag : tagOf(e))
    )
  ),
  cause
})

/** The error a failed run is recorded with (the durable workflow's error). @internal */
export const toSagaFailure = (identity: Identity, error: unknown): SagaError.SagaFailure =>
  error instanceof SagaError.SagaFailure
    ? error
    : new SagaError.SagaFailure({
        saga: identity.saga,
        instanceId: identity.instanceId,
        reason: describe(error),
        errorTag: tagOf(error)
      })

const safely =
  <E>(predicate: (error: E) => boolean) =>
  (error: E): boolean => {
    try {
      return predicate(error)
    } catch {
      return false
    }
  }

/**
 * Runs a step's effect: retried on its schedule while `retryWhile` says so;
 * a failure its `error` Schema describes stays as it is, any other becomes
 * `StepFailed`; the result goes through the `success` Schema (encoded and
 * decoded), so the in-process runner returns what the durable one would
 * return from its journal.
 *
 * @internal
 */
export const runStep = <A, I, E, R, EA, EI, RC>(
  identity: Identity,
  name: string,
  spec: SagaInstance.StepSpec<A, I, E, R, EA, EI, RC>,
  context: SagaStep.StepContext
): Effect.Effect<A, EA | SagaError.StepFailed, R> => {
  const isDeclared = spec.error === undefined ? undefined : Schema.is(spec.error)
  return spec.run(context).pipe(
    Effect.retry({ schedule: spec.retry, while: safely(spec.retryWhile) }),
    Effect.catchAll((error): Effect.Effect<never, EA | SagaError.StepFailed> => {
      if (isDeclared?.(error)) return Effect.fail(error)
      return Effect.fail(
        new SagaError.StepFailed({
          saga: identity.saga,
          instanceId: identity.instanceId,
          step: name,
          reason: describe(error),
          errorTag: tagOf(error)
        })
      )
    }),
    Effect.flatMap((result) =>
      Schema.encode(spec.success)(result).pipe(
        Effect.flatMap(Schema.decode(spec.success)),
        Effect.catchAll((error: ParseResult.ParseError) =>
          Effect.dieMessage(
            `Saga ${identity.saga}: the result of step ${name} does not fit its success Schema: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
          )
        )
      )
    )
  )
}

/**
 * Runs a compensation: retried on its schedule while the error is a passing
 * fault (`SagaStep.isTransient`); a defect counts as a failure. Succeeds with
 * the reason it failed for good, if it did.
 *
 * @internal
 */
export const runCompensation = <R>(
  effect: Effect.Effect<unknown, unknown, R>,
  retry: Schedule.Schedule<unknown, unknown>
): Effect.Effect<Option.Option<string>, never, R> =>
  effect.pipe(
    Effect.retry({ schedule: retry, while: SagaStep.isTransient }),
    Effect.sandbox,
    Effect.either,
    Effect.map(Either.match({ onLeft: (cause) => Option.some(describeCause(cause)), onRight: () => Option.none() }))
  )

const journalRetry = Schedule.exponential("50 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.intersect(Schedule.recurs(40))
)

/**
 * Appends a journal event with a deterministic id (see `Journal.append`),
 * retrying store failures for about a minute: the journal is written by
 * the instance, which must not fail on a passing outage.
 *
 * @internal
 */
export const journal =
  (store: EventStore["Type"], identity: Identity) =>
  (key: ReadonlyArray<string>, event: Journal.JournalEvent): Effect.Effect<boolean, AppendError | StoreError> =>
    journalAll(store, identity)([{ key, event }])

/** Appends several journal events in one append (see {@link journal}). @internal */
export const journalAll =
  (store: EventStore["Type"], identity: Identity) =>
  (
    entries: ReadonlyArray<{ readonly key: ReadonlyArray<string>; readonly event: Journal.JournalEvent }>
  ): Effect.Effect<boolean, AppendError | StoreError> =>
    Journal.append(
      store,
      {
        saga: identity.saga,
        instanceId: identity.instanceId,
        correlationId: identity.correlationId,
        causationId: identity.triggerEventId
      },
      entries
    ).pipe(
      Effect.retry({ schedule: journalRetry, while: SagaStep.isTransient }),
      Effect.map((result) => !result.duplicate)
    )

/**
 * Appends an instance's first journal event, only if its journal does not
 * exist yet: `false` when it does (whatever its first event holds, say the
 * instance was started by another trigger naming the same instance id).
 *
 * @internal
 */
export const journalFirst =
  (store: EventStore["Type"], identity: Identity) =>
  (key: ReadonlyArray<string>, event: Journal.JournalEvent): Effect.Effect<boolean, AppendError | StoreError> =>
    Journal.append(
      store,
      {
        saga: identity.saga,
        instanceId: identity.instanceId,
        correlationId: identity.correlationId,
        causationId: identity.triggerEventId
      },
      [{ key, event }],
      ExpectedVersion.NoStream
    ).pipe(
      Effect.map((result) => !result.duplicate),
      // the journal exists: not a passing fault, so before the retry
      Effect.catchIf(isConcurrencyError, () => Effect.succeed(false)),
      Effect.retry({ schedule: journalRetry, while: SagaStep.isTransient })
    )

/** @internal */
export const identityOf = (
  saga: string,
  instanceId: string,
  run: number,
  attempt: number,
  trigger: Journal.StoredEventJson
): Identity => ({
  saga,
  instanceId,
  run,
  attempt,
  correlationId: trigger.metadata.correlationId,
  triggerEventId: trigger.eventId
})

/**
 * The instance runtime `onFailure` runs with: it is not a step, so it cannot
 * run steps, wait or sleep.
 *
 * @internal
 */
export const onFailureRuntime = (identity: Identity): SagaInstance.InstanceRuntime => {
  const refuse = (what: string) =>
    Effect.dieMessage(`Saga ${identity.saga}: onFailure cannot ${what}; use the command id it is given`)
  return {
    saga: identity.saga,
    instanceId: identity.instanceId,
    run: identity.run,
    attempt: identity.attempt,
    step: () => refuse("run a step"),
    awaitEvent: () => refuse("wait for an event"),
    sleep: () => refuse("sleep")
  }
}
