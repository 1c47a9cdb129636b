/**
 * The in-process saga runner: each instance is a fiber of this process, and
 * each step a scoped resource of the instance: when `run` fails for good,
 * the instance's scope closes with the failure and the completed steps'
 * compensations run in reverse order (an interruption, say at shutdown,
 * compensates nothing: the instance is run again when the runner starts).
 *
 * Instances start from the trigger consumer (a projection): starting one
 * appends `SagaStarted` to its journal, in the consumer's transaction, so a
 * replayed trigger starts nothing new; when the consumer takes its lease,
 * the instances whose journal shows no end are run again (their steps'
 * command ids make what was applied a no-op; waits and sleeps keep their
 * recorded deadlines).
 *
 * @internal
 */
import {
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Exit,
  FiberSet,
  Layer,
  Option,
  Scope
} from "effect"
import * as Correlation from "../../Correlation.js"
import type * as EventCodec from "../../EventCodec.js"
import { EventStore } from "../../EventStore.js"
import * as Projection from "../../Projection.js"
import type * as Saga from "../../Saga.js"
import * as SagaError from "../../SagaError.js"
import * as SagaInstance from "../../SagaInstance.js"
import * as SagaStep from "../../SagaStep.js"
import * as Consumer from "./consumer.js"
import * as Journal from "./journal.js"
import * as Steps from "./steps.js"

interface Running {
  readonly waiters: Map<string, Deferred.Deferred<Journal.StoredEventJson>>
}

/** Decodes a stored event kept as JSON with a codec; a bad one is a defect (it was checked when consumed). @internal */
export const decodeJson = <S extends EventCodec.Tagged>(
  codec: EventCodec.EventCodec<S>,
  json: Journal.StoredEventJson
) =>
  Either.match(
    Either.flatMap(Journal.fromJson(json), (stored) => Either.mapLeft(codec.decode(stored), (e) => e.message)),
    {
      onLeft: (reason) => Effect.dieMessage(`Saga: a recorded event no longer decodes: ${reason}`),
      onRight: Effect.succeed
    }
  )

/** @internal */
export const layer = <T extends EventCodec.Tagged, A, E, R>(saga: Saga.Saga<T, A, E, R>, options?: Saga.RunOptions) =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const store = yield* EventStore
      // Instances run on a runtime captured now, not in the consumer's
      // transaction (whose context a fork would inherit).
      const runFork = yield* FiberSet.makeRuntime<R | EventStore>()
      const running = new Map<string, Running>()

      const start = (instanceId: string, run: number, attempt: number, trigger: Journal.StoredEventJson) =>
        Effect.sync(() => {
          if (running.has(instanceId)) return
          const state: Running = { waiters: new Map() }
          running.set(instanceId, state)
          runFork(
            instance(saga, store, state, Steps.identityOf(saga.name, instanceId, run, attempt, trigger), trigger).pipe(
              Effect.ensuring(Effect.sync(() => running.delete(instanceId)))
            )
          )
        })

      const handlers: Consumer.Handlers<T, never> = {
        // one at a time: a start journals in the consumer's transaction (one connection)
        startConcurrency: 1,
        setup: Effect.gen(function* () {
          for (const folded of yield* Journal.loadAll(store, saga.name)) {
            if (Journal.isTerminal(folded.state) || Option.isNone(folded.trigger)) continue
            yield* Effect.logInfo(`saga ${saga.name}: running instance ${folded.instanceId} again (run ${folded.run})`)
            yield* start(folded.instanceId, folded.run, folded.attempt, folded.trigger.value)
          }
        }),
        start: (instanceId, _recorded, trigger) =>
          Effect.gen(function* () {
            const identity = Steps.identityOf(saga.name, instanceId, 1, 1, trigger)
            // The instance's first journal event, its id derived from the
            // trigger: this trigger replayed is a duplicate, and another
            // trigger naming the same instance finds its journal begun.
            const fresh = yield* Steps.journalFirst(store, identity)(
              ["started", "1", trigger.eventId],
              new Journal.SagaStarted({ saga: saga.name, instanceId, run: 1, attempt: 1, mode: "in-process", trigger })
            )
            if (fresh) yield* start(instanceId, 1, 1, trigger)
          }),
        signal: (signal, instanceId, stored) =>
          Effect.gen(function* () {
            const folded = yield* Journal.load(store, saga.name, instanceId)
            if (Option.isNone(folded) || Journal.isTerminal(folded.value.state)) {
              return yield* Effect.logDebug(`saga ${saga.name}: no running instance ${instanceId} for ${signal.name}`)
            }
            const identity = Steps.identityOf(saga.name, instanceId, folded.value.run, folded.value.attempt, stored)
            yield* Steps.journal(store, identity)(
              ["signal", signal.name, stored.eventId],
              new Journal.SagaSignalReceived({ signal: signal.name, event: stored })
            )
            const waiter = running.get(instanceId)?.waiters.get(signal.name)
            if (waiter !== undefined) yield* Deferred.succeed(waiter, stored)
          }),
        retry: (request) =>
          Effect.gen(function* () {
            const folded = yield* Journal.load(store, saga.name, request.instanceId)
            if (Option.isNone(folded) || folded.value.run !== request.run || Option.isNone(folded.value.trigger)) return
            const trigger = folded.value.trigger.value
            const identity = Steps.identityOf(saga.name, request.instanceId, request.run, request.attempt, trigger)
            const fresh = yield* Steps.journal(store, identity)(
              ["started", `${request.run}`],
              new Journal.SagaStarted({
                saga: saga.name,
                instanceId: request.instanceId,
                run: request.run,
                attempt: request.attempt,
                mode: "in-process",
                trigger
              })
            )
            if (fresh) yield* start(request.instanceId, request.run, request.attempt, trigger)
          })
      }
      return Projection.layer(Consumer.projection(saga, handlers), Consumer.runOptions(options))
    })
  )

/** One instance, from its first step to its end (or an interruption). */
const instance = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  store: EventStore["Type"],
  state: Running,
  identity: Steps.Identity,
  trigger: Journal.StoredEventJson
) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const recorded = yield* decodeJson(saga.trigger, trigger)
      const journalOrFail = Steps.journal(store, identity)
      const journal = (key: ReadonlyArray<string>, event: Journal.JournalEvent) =>
        Effect.orDie(journalOrFail(key, event))
      const scope = yield* Scope.make(ExecutionStrategy.sequential)
      const compensation: { started: boolean; readonly failures: Array<string> } = { started: false, failures: [] }

      const step = <B, I, E2, R2, EA, EI, RC>(name: string, spec: SagaInstance.StepSpec<B, I, E2, R2, EA, EI, RC>) =>
        Effect.gen(function* () {
          const context = Steps.stepContext(identity, name)
          const result = yield* restore(Steps.runStep(identity, name, spec, context))
          const compensate = spec.compensate
          if (compensate !== undefined) {
            const env = yield* Effect.context<RC>()
            yield* Scope.addFinalizerExit(scope, (exit) =>
              Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)
                ? Effect.void
                : Effect.gen(function* () {
                    const reason = Steps.describeCause(exit.cause)
                    if (!compensation.started) {
                      compensation.started = true
                      yield* journal(
                        ["compensating", `${identity.run}`],
                        new Journal.SagaCompensating({ run: identity.run, reason })
                      )
                    }
                    const context = Steps.compensationContext(identity, name, exit.cause)
                    const failed = yield* Steps.runCompensation(compensate(result, context), spec.compensationRetry)
                    if (Option.isSome(failed)) {
                      compensation.failures.push(`${name}: ${failed.value}`)
                      yield* journal(
                        ["compensation-failed", `${identity.run}`, name],
                        new Journal.SagaCompensationFailed({ run: identity.run, step: name, reason: failed.value })
                      )
                    } else {
                      yield* journal(
                        ["compensated", `${identity.run}`, name],
                        new Journal.SagaStepCompensated({ run: identity.run, step: name, commandId: context.commandId })
                      )
                    }
                  }).pipe(Effect.provide(env))
            )
          }
          yield* journal(
            ["step", `${identity.run}`, name],
            new Journal.SagaStepCompleted({ run: identity.run, step: name, commandId: context.commandId })
          )
          return result
        })

      // A deadline recorded by an earlier run of this instance is kept.
      const deadline = (what: string, duration: Duration.Duration) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const folded = yield* Effect.orDie(Journal.load(store, identity.saga, identity.instanceId))
          const recordedUntil = Option.flatMap(folded, (f) =>
            Option.flatMap(
              Option.filter(f.waitingFor, (w) => w.for === what && f.run === identity.run),
              (w) => w.until
            )
          )
          const until = Option.getOrElse(recordedUntil, () => now + Duration.toMillis(duration))
          yield* journal(
            ["wait", `${identity.run}`, what],
            new Journal.SagaWaiting({ run: identity.run, for: what, until })
          )
          return { until, left: Duration.millis(Math.max(0, until - now)), folded }
        })

      const awaitEvent = <S extends EventCodec.Tagged>(
        signal: Saga.Signal<S>,
        timeout: Option.Option<Duration.Duration>
      ) =>
        Effect.gen(function* () {
          const what = `event:${signal.name}`
          const waiter = yield* Deferred.make<Journal.StoredEventJson>()
          state.waiters.set(signal.name, waiter)
          const { left, folded } = Option.isSome(timeout)
            ? yield* deadline(what, timeout.value)
            : {
                left: Duration.infinity,
                folded: yield* Effect.zipRight(
                  journal(["wait", `${identity.run}`, what], new Journal.SagaWaiting({ run: identity.run, for: what })),
                  Effect.orDie(Journal.load(store, identity.saga, identity.instanceId))
                )
              }
          // an event that arrived before the wait is in the journal
          const early = Option.flatMap(folded, (f) => Option.fromNullable(f.signals.get(signal.name)))
          if (Option.isSome(early)) {
            yield* Deferred.succeed(waiter, early.value)
          }
          const got = yield* restore(
            Option.isSome(timeout)
              ? Deferred.await(waiter).pipe(Effect.timeoutOption(left))
              : Effect.map(Deferred.await(waiter), Option.some)
          ).pipe(Effect.ensuring(Effect.sync(() => state.waiters.delete(signal.name))))
          yield* journal(
            ["resumed", `${identity.run}`, what],
            new Journal.SagaResumed({ run: identity.run, for: what, outcome: Option.isSome(got) ? "event" : "timeout" })
          )
          if (Option.isNone(got)) {
            return yield* new SagaError.EventTimeout({
              saga: identity.saga,
              instanceId: identity.instanceId,
              signal: signal.name,
              timeoutMillis: Duration.toMillis(Option.getOrElse(timeout, () => Duration.zero))
            })
          }
          const decoded = yield* decodeJson(signal.codec, got.value)
          return decoded.event
        })

      const sleep = (name: string, duration: Duration.Duration) =>
        Effect.gen(function* () {
          const what = `sleep:${name}`
          const { left } = yield* deadline(what, duration)
          yield* restore(Effect.sleep(left))
          yield* journal(
            ["resumed", `${identity.run}`, what],
            new Journal.SagaResumed({ run: identity.run, for: what, outcome: "slept" })
          )
        })

      const exit = yield* restore(Steps.instanceRun(saga, identity, recorded, { step, awaitEvent, sleep })).pipe(
        Effect.exit
      )
      if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) {
        // stopped, not failed: nothing is compensated, the next runner runs it again
        return yield* Scope.close(scope, exit)
      }
      if (Exit.isSuccess(exit)) {
        yield* Scope.close(scope, exit)
        const result = Either.getOrUndefined(saga.encodeResult(exit.value))
        return yield* journal(["completed", `${identity.run}`], Journal.completed(identity.run, result))
      }
      yield* Effect.logWarning(
        `saga ${identity.saga} ${identity.instanceId} failed: ${Steps.describeCause(exit.cause)}`
      )
      yield* Scope.close(scope, exit)
      yield* finish(saga, identity, recorded.event, exit.cause, compensation.failures, journal)
    }).pipe(
      Effect.orDie,
      Correlation.withContext({ correlationId: identity.correlationId, causationId: identity.triggerEventId }),
      Effect.catchAllDefect((defect) =>
        Effect.logError(`saga ${identity.saga} ${identity.instanceId}: the runner failed`, Cause.die(defect))
      ),
      Effect.withSpan("Chronicle.Saga.instance", {
        attributes: { saga: identity.saga, instanceId: identity.instanceId, run: identity.run }
      })
    )
  )

/**
 * Ends a failed run once its compensations ran: `onFailure` (as the step
 * `on-failure`) when every compensation succeeded, then `SagaFailed`
 * (`compensationFailed` when a compensation or `onFailure` failed for good).
 *
 * @internal
 */
export const finish = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  identity: Steps.Identity,
  event: T,
  cause: Cause.Cause<unknown>,
  compensationFailures: ReadonlyArray<string>,
  journal: (key: ReadonlyArray<string>, event: Journal.JournalEvent) => Effect.Effect<unknown>
) =>
  Effect.gen(function* () {
    const reason = Steps.describeCause(cause)
    if (compensationFailures.length > 0) {
      return yield* journal(
        ["failed", `${identity.run}`],
        new Journal.SagaFailed({
          run: identity.run,
          reason: `${reason}; compensation failed: ${compensationFailures.join("; ")}`,
          compensationFailed: true
        })
      )
    }
    const onFailureFailed = yield* Option.match(saga.onFailure, {
      onNone: () => Effect.succeed(Option.none<string>()),
      onSome: (onFailure) =>
        Steps.runCompensation(
          onFailure(event, Steps.failureOf(identity, cause)).pipe(
            Effect.provideService(SagaInstance.Instance, Steps.onFailureRuntime(identity))
          ),
          SagaStep.defaultRetry
        )
    })
    yield* journal(
      ["failed", `${identity.run}`],
      new Journal.SagaFailed({
        run: identity.run,
        reason: Option.match(onFailureFailed, {
          onNone: () => reason,
          onSome: (failure) => `${reason}; on-failure failed: ${failure}`
        }),
        compensationFailed: Option.isSome(onFailureFailed)
      })
    )
  })
