/**
 * `@chronicle/core/DurableSaga`: runs a saga definition (see `Saga`) as a
 * durable workflow on `@effect/workflow`, so an instance survives a crash of
 * its process and resumes where it stopped, on the same machine or another.
 * The engine is a layer: `WorkflowEngine.layerMemory` in tests,
 * `SqlWorkflowEngine.layer` from `@chronicle/sql-store/SqlWorkflowEngine` on
 * SQLite or PostgreSQL.
 *
 * It is its own entry point, not part of `@chronicle/core`'s index, so an
 * app that only uses in-process sagas never loads `@effect/workflow`, an
 * optional peer dependency (with its peers `@effect/platform`,
 * `@effect/rpc` and `@effect/experimental`).
 *
 * How a saga maps onto the engine:
 *
 * - one workflow per saga (`chronicle.saga.<name>`), one execution per
 *   instance run, its id derived from the instance id and the run number:
 *   the engine deduplicates a trigger delivered twice;
 * - each step is an `Activity` (`step/<name>`): once it completed, a
 *   replay returns its recorded result (decoded with its `success` Schema)
 *   or its typed error (its `error` Schema, or `StepFailed`), and never runs
 *   it again; a step interrupted by a crash runs again, and its command id
 *   makes that a no-op on the aggregate;
 * - each compensation is registered as with `Workflow.withCompensation`: the
 *   engine runs it only when the whole workflow fails, in reverse order of
 *   registration; an interruption that is not the end of the run (the
 *   runner shutting down, or losing the instance to another runner, which
 *   resumes it) compensates nothing and records no failure. Compensations
 *   are not recorded by the engine: after a
 *   crash in the middle of compensating, the replayed workflow fails again
 *   and every compensation runs again, which their own command ids make
 *   no-ops for those that took effect;
 * - `Saga.awaitEvent` is a `DurableDeferred` (`signal/<name>`) raced with a
 *   durable `DurableClock` (`deadline/<name>`): the workflow suspends while
 *   it waits, and the event or the deadline resumes it (on the SQL engine,
 *   a deadline fires on the storage poll after it passed, within about a
 *   second). `Saga.sleep` is a `DurableClock` too, but one of at most
 *   `inMemoryThreshold` (default 60 s, the engine's) sleeps in memory, as an
 *   activity that starts over after a crash.
 *
 * @since 0.5.0
 * @module
 */
import { Activity, DurableClock, DurableDeferred, Workflow, WorkflowEngine } from "@effect/workflow"
import { Cause, Clock, Duration, Effect, Either, Exit, Layer, Option, Schema, type Scope } from "effect"
import * as Correlation from "./Correlation.js"
import type * as EventCodec from "./EventCodec.js"
import { EventStore } from "./EventStore.js"
import * as Consumer from "./internal/saga/consumer.js"
import { decodeJson, finish } from "./internal/saga/inProcess.js"
import * as Journal from "./internal/saga/journal.js"
import * as Steps from "./internal/saga/steps.js"
import * as Projection from "./Projection.js"
import type * as ProjectionStore from "./ProjectionStore.js"
import * as Saga from "./Saga.js"

/**
 * Options of {@link layer}: those of the trigger consumer (see
 * `Saga.RunOptions`), and of the engine's clocks.
 *
 * @since 0.5.0
 * @category models
 */
export interface Options extends Saga.RunOptions {
  /**
   * `Saga.sleep`s of at most this long run in memory (as an activity that
   * starts over after a crash); longer ones are durable clocks, which the
   * SQL engine fires on its next storage poll. Default 60 s. (The deadline of
   * `Saga.awaitEvent` is always a durable clock.)
   */
  readonly inMemoryThreshold?: Duration.DurationInput | undefined
}

/**
 * The payload of a saga's workflow: the instance, the run, and the trigger
 * event as stored.
 *
 * @since 0.5.0
 * @category models
 */
export const Payload = Schema.Struct({
  instanceId: Schema.String,
  run: Schema.Number,
  attempt: Schema.Number,
  trigger: Journal.StoredEventJson
})

/**
 * The workflow a saga runs as: its name is `chronicle.saga.<saga name>`,
 * its success the run's result (encoded), its error `Saga.SagaFailure`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 * import * as DurableSaga from "@chronicle/core/DurableSaga"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
 * const Pong = Saga.make({ name: "Pong", trigger: Pinged, id: (e) => e.id, run: () => Effect.void })
 *
 * const workflow = DurableSaga.workflow(Pong) // its name: "chronicle.saga.Pong"
 * ```
 * @since 0.5.0
 * @category workflow
 */
export const workflow = (saga: { readonly name: string }) =>
  Workflow.make({
    name: `chronicle.saga.${saga.name}`,
    payload: Payload,
    idempotencyKey: (payload) => `${payload.instanceId}#${payload.run}`,
    success: Schema.Unknown,
    error: Saga.SagaFailure
  })

/**
 * Runs a saga durably on the `WorkflowEngine` in context: its trigger
 * consumer (the projection `saga:<name>`, with the lease, checkpoint,
 * status, lag and poison policy of every projection) starts a workflow
 * execution per instance and delivers the signals' events to the waiting
 * executions; the engine runs them, and resumes them after a crash.
 *
 * @example
 * ```ts
 * import { WorkflowEngine } from "@effect/workflow"
 * import { Effect, Layer, Schema } from "effect"
 * import { ProjectionStore, Saga, EventStore } from "@chronicle/core"
 * import * as DurableSaga from "@chronicle/core/DurableSaga"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
 * const Pong = Saga.make({
 *   name: "Pong",
 *   trigger: Pinged,
 *   id: (e) => e.id,
 *   run: () => Saga.step("pong", { run: () => Effect.log("pong") })
 * })
 *
 * const App = DurableSaga.layer(Pong).pipe(
 *   Layer.provideMerge(Layer.mergeAll(EventStore.layerMemory(), ProjectionStore.layerMemory, WorkflowEngine.layerMemory))
 * )
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  options?: Options
): Layer.Layer<never, never, WorkflowEngine.WorkflowEngine | EventStore | ProjectionStore.ProjectionStore | R> => {
  const flow = workflow(saga)
  const inMemoryThreshold = options?.inMemoryThreshold
  const registered = flow.toLayer((payload) => body(saga, payload, inMemoryThreshold))
  const consumer = Layer.unwrapEffect(
    Effect.gen(function* () {
      const store = yield* EventStore
      const execute = (instanceId: string, run: number, attempt: number, trigger: Journal.StoredEventJson) =>
        flow.execute({ instanceId, run, attempt, trigger }, { discard: true })
      const deliver = (
        instanceId: string,
        run: number,
        attempt: number,
        trigger: Journal.StoredEventJson,
        signal: string,
        event: Journal.StoredEventJson
      ) =>
        Effect.gen(function* () {
          const executionId = yield* flow.executionId({ instanceId, run, attempt, trigger })
          const deferred = signalDeferred(signal)
          yield* DurableDeferred.done(deferred, {
            token: DurableDeferred.tokenFromExecutionId(deferred, { workflow: flow, executionId }),
            exit: Exit.succeed(event)
          })
        })
      const handlers: Consumer.Handlers<T, WorkflowEngine.WorkflowEngine> = {
        // the engine resumes its own executions
        setup: Effect.void,
        // The engine deduplicates by execution id: a trigger delivered again starts
        // nothing new. The handlers write no journal event: the consumer's
        // transaction would hold the journal stream while the workflow (on
        // another connection) writes to it. The workflow journals what it
        // receives (so that a retried run gets it again).
        start: (instanceId, _recorded, trigger) => execute(instanceId, 1, 1, trigger),
        signal: (signal, instanceId, stored) =>
          Effect.gen(function* () {
            const folded = yield* Journal.load(store, saga.name, instanceId)
            if (Option.exists(folded, (f) => Journal.isTerminal(f.state))) {
              return yield* Effect.logDebug(`saga ${saga.name}: instance ${instanceId} ended before ${signal.name}`)
            }
            // not journaled yet: the workflow of its first run has not written yet
            const run = Option.match(folded, { onNone: () => 1, onSome: (f) => Math.max(1, f.run) })
            const attempt = Option.match(folded, { onNone: () => 1, onSome: (f) => f.attempt })
            // The execution id depends on the instance and the run only: any
            // stored event fills the payload's trigger when none is known yet.
            const trigger = Option.getOrElse(
              Option.flatMap(folded, (f) => f.trigger),
              () => stored
            )
            yield* deliver(instanceId, run, attempt, trigger, signal.name, stored)
          }),
        retry: (request) =>
          Effect.gen(function* () {
            const folded = yield* Journal.load(store, saga.name, request.instanceId)
            if (Option.isNone(folded) || folded.value.run !== request.run || Option.isNone(folded.value.trigger)) return
            const trigger = folded.value.trigger.value
            yield* execute(request.instanceId, request.run, request.attempt, trigger)
            for (const [name, event] of folded.value.signals) {
              yield* deliver(request.instanceId, request.run, request.attempt, trigger, name, event)
            }
          })
      }
      return Projection.layer(Consumer.projection(saga, handlers), Consumer.runOptions(options))
    })
  )
  // registered first, so that the consumer never starts an unregistered workflow
  return consumer.pipe(Layer.provide(registered))
}

const signalDeferred = (name: string) => DurableDeferred.make(`signal/${name}`, { success: Journal.StoredEventJson })

/** The workflow of one instance run. */
const body = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  payload: typeof Payload.Type,
  inMemoryThreshold: Duration.DurationInput | undefined
) => {
  const identity = Steps.identityOf(saga.name, payload.instanceId, payload.run, payload.attempt, payload.trigger)
  return Effect.gen(function* () {
    const store = yield* EventStore
    const engine = yield* Effect.context<
      WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance | Scope.Scope
    >()
    const recorded = yield* decodeJson(saga.trigger, payload.trigger)
    const journal = (key: ReadonlyArray<string>, event: Journal.JournalEvent) =>
      Effect.orDie(Steps.journal(store, identity)(key, event))
    const compensation: { started: boolean; readonly failures: Array<string> } = { started: false, failures: [] }
    // @effect/workflow closes the instance's scope also when its fiber is
    // merely interrupted (its runner shuts down or loses the instance to
    // another one): the instance then resumes elsewhere, so neither the
    // compensations nor the failure record may run. Only a real failure, or
    // an interruption the engine was asked for, ends the run.
    const instance = yield* WorkflowEngine.WorkflowInstance
    const endedForGood = (exit: Exit.Exit<unknown, unknown>): exit is Exit.Failure<unknown, unknown> =>
      Exit.isFailure(exit) && (instance.interrupted || !Cause.isInterruptedOnly(exit.cause))
    // Written again by each replay: a no-op then (its id is deterministic).
    yield* journal(
      ["started", `${identity.run}`],
      new Journal.SagaStarted({
        saga: saga.name,
        instanceId: payload.instanceId,
        run: payload.run,
        attempt: payload.attempt,
        mode: "durable",
        trigger: payload.trigger
      })
    )
    // Registered first, so it runs last: once every compensation has run.
    yield* Workflow.addFinalizer((exit) =>
      !endedForGood(exit)
        ? Effect.void
        : finish(saga, identity, recorded.event, exit.cause, compensation.failures, journal).pipe(
            Correlation.withContext({ correlationId: identity.correlationId, causationId: identity.triggerEventId })
          )
    )

    const inEngine = <B, EB, RB>(effect: Effect.Effect<B, EB, RB>) => Effect.provide(effect, engine)

    // `Workflow.withCompensation`, except that an interruption that is not the
    // end of the run (see `endedForGood`) compensates nothing.
    const withCompensation = <B, EB, RB, RC>(
      effect: Effect.Effect<B, EB, RB>,
      compensate: (value: B, cause: Cause.Cause<unknown>) => Effect.Effect<void, never, RC>
    ) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.tap(restore(effect), (value) =>
          Workflow.addFinalizer((exit) => (endedForGood(exit) ? compensate(value, exit.cause) : Effect.void))
        )
      )

    const step = <B, I, E2, R2, EA, EI, RC>(name: string, spec: Saga.StepSpec<B, I, E2, R2, EA, EI, RC>) => {
      const context = Steps.stepContext(identity, name)
      const run = inEngine(
        Activity.make({
          name: `step/${name}`,
          success: spec.success,
          error: Schema.Union(spec.error ?? Schema.Never, Saga.StepFailed),
          execute: Steps.runStep(identity, name, spec, context).pipe(
            Effect.tap(() =>
              journal(
                ["step", `${identity.run}`, name],
                new Journal.SagaStepCompleted({ run: identity.run, step: name, commandId: context.commandId })
              )
            )
          )
        })
      )
      const compensate = spec.compensate
      if (compensate === undefined) return run
      return withCompensation(run, (result: B, cause) =>
        Effect.gen(function* () {
          const reason = Steps.describeCause(cause)
          if (!compensation.started) {
            compensation.started = true
            yield* journal(
              ["compensating", `${identity.run}`],
              new Journal.SagaCompensating({ run: identity.run, reason })
            )
          }
          const context = Steps.compensationContext(identity, name, cause)
          const failed = yield* Steps.runCompensation(compensate(result, context), spec.compensationRetry)
          if (Option.isSome(failed)) {
            compensation.failures.push(`${name}: ${failed.value}`)
            return yield* journal(
              ["compensation-failed", `${identity.run}`, name],
              new Journal.SagaCompensationFailed({ run: identity.run, step: name, reason: failed.value })
            )
          }
          yield* journal(
            ["compensated", `${identity.run}`, name],
            new Journal.SagaStepCompensated({ run: identity.run, step: name, commandId: context.commandId })
          )
        }).pipe(
          Correlation.withContext({ correlationId: identity.correlationId, causationId: identity.triggerEventId })
        )
      ).pipe(Effect.provide(engine))
    }

    // Records the wait (and its deadline, computed once: the activity's result is replayed).
    const waiting = (what: string, duration: Option.Option<Duration.Duration>) =>
      Activity.make({
        name: `wait/${what}`,
        success: Schema.NullOr(Schema.Number),
        execute: Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const until = Option.match(duration, { onNone: () => null, onSome: (d) => now + Duration.toMillis(d) })
          yield* journal(
            ["wait", `${identity.run}`, what],
            new Journal.SagaWaiting({ run: identity.run, for: what, ...(until === null ? {} : { until }) })
          )
          return until
        })
      }).pipe(inEngine)
    // Records the end of a wait, and the event received (kept for a retried run).
    const resumed = (
      what: string,
      outcome: "event" | "timeout" | "slept",
      received?: { readonly signal: string; readonly event: Journal.StoredEventJson }
    ) =>
      Activity.make({
        name: `resumed/${what}`,
        execute: Effect.orDie(
          Steps.journalAll(
            store,
            identity
          )([
            ...(received === undefined
              ? []
              : [
                  {
                    key: ["signal", `${identity.run}`, received.signal, received.event.eventId],
                    event: new Journal.SagaSignalReceived(received)
                  }
                ]),
            {
              key: ["resumed", `${identity.run}`, what],
              event: new Journal.SagaResumed({ run: identity.run, for: what, outcome })
            }
          ])
        )
      }).pipe(inEngine)

    const awaitEvent = <S extends EventCodec.Tagged>(
      signal: Saga.Signal<S>,
      timeout: Option.Option<Duration.Duration>
    ) =>
      Effect.gen(function* () {
        const what = `event:${signal.name}`
        yield* waiting(what, timeout)
        const deferred = signalDeferred(signal.name)
        type Got = Option.Option<Journal.StoredEventJson>
        type InWorkflow = WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance
        const fromSignal: Effect.Effect<Got, never, InWorkflow> = Effect.map(
          DurableDeferred.await(deferred),
          Option.some
        )
        const got: Got = yield* Option.match(timeout, {
          onNone: () => fromSignal,
          onSome: (duration) => {
            // Always a durable clock: with an in-memory one the workflow would not
            // suspend while it waits, and the event could not resume it.
            const fromClock: Effect.Effect<Got, never, InWorkflow> = DurableClock.sleep({
              name: `deadline/${signal.name}`,
              duration,
              inMemoryThreshold: Duration.zero
            }).pipe(Effect.as(Option.none()))
            return DurableDeferred.raceAll({
              name: `deadline/${signal.name}`,
              success: Schema.Option(Journal.StoredEventJson),
              error: Schema.Never,
              effects: [fromSignal, fromClock]
            })
          }
        }).pipe(inEngine)
        yield* Option.match(got, {
          onNone: () => resumed(what, "timeout"),
          onSome: (event) => resumed(what, "event", { signal: signal.name, event })
        })
        if (Option.isNone(got)) {
          return yield* new Saga.EventTimeout({
            saga: identity.saga,
            instanceId: identity.instanceId,
            signal: signal.name,
            timeoutMillis: Option.match(timeout, { onNone: () => 0, onSome: Duration.toMillis })
          })
        }
        return (yield* decodeJson(signal.codec, got.value)).event
      })

    const sleep = (name: string, duration: Duration.Duration) =>
      Effect.gen(function* () {
        const what = `sleep:${name}`
        yield* waiting(what, Option.some(duration))
        yield* DurableClock.sleep({ name: `sleep/${name}`, duration, inMemoryThreshold }).pipe(Effect.provide(engine))
        yield* resumed(what, "slept")
      })

    const runtime: Saga.InstanceRuntime = {
      saga: identity.saga,
      instanceId: identity.instanceId,
      run: identity.run,
      attempt: identity.attempt,
      step,
      awaitEvent,
      sleep
    }
    const context: Saga.RunContext<T> = {
      saga: identity.saga,
      instanceId: identity.instanceId,
      recorded,
      attempt: identity.attempt
    }
    const run: Effect.Effect<A, E, R> = saga
      .run(recorded.event, context)
      .pipe(Effect.provideService(Saga.Instance, runtime))
    const result = yield* run
    const encoded = Either.getOrUndefined(saga.encodeResult(result))
    yield* Activity.make({
      name: "completed",
      execute: journal(["completed", `${identity.run}`], Journal.completed(identity.run, encoded))
    }).pipe(inEngine)
    return encoded
  }).pipe(
    Effect.catchAll((error) => Effect.fail(Steps.toSagaFailure(identity, error))),
    Correlation.withContext({ correlationId: identity.correlationId, causationId: identity.triggerEventId }),
    Effect.withSpan("Chronicle.Saga.instance", {
      attributes: { saga: identity.saga, instanceId: identity.instanceId, run: identity.run, durable: true }
    })
  )
}
