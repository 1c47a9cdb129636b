/**
 * The implementation of `DurableSaga.layer`: the trigger consumer that
 * starts a workflow execution per instance and delivers signals to waiting
 * executions, and the workflow body that runs one instance run on the
 * engine (steps as activities, waits as durable deferreds and clocks).
 *
 * @internal
 */
import { Activity, DurableClock, DurableDeferred, Workflow, WorkflowEngine } from "@effect/workflow"
import { Cause, Clock, Duration, Effect, Either, Exit, Fiber, Layer, Option, Schema, type Scope } from "effect"
import * as Correlation from "../../Correlation.js"
import { type Options, type Payload, workflow } from "../../DurableSaga.js"
import type * as EventCodec from "../../EventCodec.js"
import { EventStore } from "../../EventStore.js"
import * as Projection from "../../Projection.js"
import type * as ProjectionStore from "../../ProjectionStore.js"
import type * as Saga from "../../Saga.js"
import * as SagaError from "../../SagaError.js"
import type * as SagaInstance from "../../SagaInstance.js"
import * as Consumer from "./consumer.js"
import { decodeJson, finish } from "./inProcess.js"
import * as Journal from "./journal.js"
import * as JournalWriter from "./journalWriter.js"
import * as Steps from "./steps.js"

/** @internal */
export const layer = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  options?: Options
): Layer.Layer<never, never, WorkflowEngine.WorkflowEngine | EventStore | ProjectionStore.ProjectionStore | R> => {
  const flow = workflow(saga)
  const startConcurrency = 16
  const inMemoryThreshold = options?.inMemoryThreshold
  // The instances' journal appends go through one writer per saga, which
  // gathers those of the instances running at the same time (see `journalWriter`).
  const registered = Layer.unwrapScoped(
    Effect.map(Effect.flatMap(EventStore, JournalWriter.make), (journalStore) =>
      flow.toLayer((payload) => body(saga, payload, inMemoryThreshold, journalStore))
    )
  )
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
        // Consecutive triggers start concurrently (see below: a start is
        // idempotent), so that a burst of triggers does not wait for one
        // round trip to the engine after another.
        startConcurrency,
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

const makeSignalDeferred = (name: string) =>
  DurableDeferred.make(`signal/${name}`, { success: Journal.StoredEventJson })

// One DurableDeferred per signal name (the names a saga's definition
// declares, so the map stays small): each carries its own exit Schema, whose
// decoder would otherwise be compiled again on every wait and every delivery
// (see `sharingExitSchema`).
const signalDeferreds = new Map<string, ReturnType<typeof makeSignalDeferred>>()
const signalDeferred = (name: string) => {
  const known = signalDeferreds.get(name)
  if (known !== undefined) return known
  const made = makeSignalDeferred(name)
  signalDeferreds.set(name, made)
  return made
}

/**
 * `Activity.make` gives every activity a new `exitSchema`, and the engine
 * decodes the activity's result with it (`WorkflowEngine.activityExecute`):
 * a new schema means its decoder (an `Exit` with its `Cause` and `Defect`)
 * is compiled again, about 0.4–0.8 ms of CPU on every step of every
 * instance (SG1, h30). Activities with the same success and error Schemas
 * get one shared `exitSchema` (the same value, built by `Activity.make` the
 * first time), so the decoder is compiled once. Keyed by the Schema objects,
 * so a Schema nobody holds any more is not kept alive.
 */
const exitSchemas = new WeakMap<object, WeakMap<object, unknown>>()
const sharingExitSchema = <Act extends Activity.Any & { readonly exitSchema: unknown }>(
  activity: Act,
  key: { readonly success: object; readonly error: object }
): Act => {
  let byError = exitSchemas.get(key.success)
  if (byError === undefined) {
    byError = new WeakMap()
    exitSchemas.set(key.success, byError)
  }
  const shared = byError.get(key.error)
  if (shared === undefined) byError.set(key.error, activity.exitSchema)
  else Object.defineProperty(activity, "exitSchema", { value: shared })
  return activity
}

/** What a wait's activity returns: its deadline, if any. */
const WaitDeadline = Schema.NullOr(Schema.Number)

/** The workflow of one instance run. */
const body = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  payload: typeof Payload.Type,
  inMemoryThreshold: Duration.DurationInput | undefined,
  journalStore: EventStore["Type"]
) => {
  const identity = Steps.identityOf(saga.name, payload.instanceId, payload.run, payload.attempt, payload.trigger)
  return Effect.gen(function* () {
    const engine = yield* Effect.context<
      WorkflowEngine.WorkflowEngine | WorkflowEngine.WorkflowInstance | Scope.Scope
    >()
    const recorded = yield* decodeJson(saga.trigger, payload.trigger)
    type Entry = { readonly key: ReadonlyArray<string>; readonly event: Journal.JournalEvent }
    const appendEntries = Steps.journalAll(journalStore, identity)
    // `SagaStarted` (written again by each replay: a no-op then, its id is
    // deterministic) is appended while the run goes on to dispatch its first
    // step or wait: that is a round trip to the engine's storage, so the two
    // overlap instead of following each other (SG2). Every later journal
    // append, and the start of any step's own work, waits for it first (see
    // `append` and `flush`): the journal still shows the instance before its
    // first step runs, and its entries stay in order. Forked in the
    // instance's scope (not the execution's, closed before its finalizers):
    // a run that fails before any other journal entry still records its
    // failure after it (see the finalizer below).
    const started = yield* Effect.forkIn(
      Effect.orDie(
        appendEntries([
          {
            key: ["started", `${identity.run}`],
            event: new Journal.SagaStarted({
              saga: saga.name,
              instanceId: payload.instanceId,
              run: payload.run,
              attempt: payload.attempt,
              mode: "durable",
              trigger: payload.trigger
            })
          }
        ])
      ),
      yield* Workflow.scope
    )
    const afterStarted = Fiber.join(started)
    const append = (entries: ReadonlyArray<Entry>) => Effect.zipRight(afterStarted, appendEntries(entries))
    // The completions of the steps this run executed, not journaled yet: they
    // go with the instance's next journal entry (a wait, its end, a
    // compensation: one append for both), or alone at the start of its next
    // step. Never with an entry that may be stored already (see `step`): a
    // journal append is all new or all duplicate.
    const pending: Array<Entry> = []
    const journalAll = (entries: ReadonlyArray<Entry>) =>
      Effect.suspend(() => {
        const all = [...pending.splice(0), ...entries]
        return all.length === 0 ? Effect.asVoid(afterStarted) : Effect.asVoid(Effect.orDie(append(all)))
      })
    const journal = (key: ReadonlyArray<string>, event: Journal.JournalEvent) => journalAll([{ key, event }])
    // Before a step's own work: the journal holds `SagaStarted` and the steps completed before it.
    const flush = journalAll([])
    const compensation: { started: boolean; readonly failures: Array<string> } = { started: false, failures: [] }
    // @effect/workflow closes the instance's scope also when its fiber is
    // merely interrupted (its runner shuts down or loses the instance to
    // another one): the instance then resumes elsewhere, so neither the
    // compensations nor the failure record may run. Only a real failure, or
    // an interruption the engine was asked for, ends the run.
    const instance = yield* WorkflowEngine.WorkflowInstance
    const endedForGood = (exit: Exit.Exit<unknown, unknown>): exit is Exit.Failure<unknown, unknown> =>
      Exit.isFailure(exit) && (instance.interrupted || !Cause.isInterruptedOnly(exit.cause))
    // Registered first, so it runs last: once every compensation has run.
    // A run whose `SagaStarted` could not be stored ends with that defect and
    // journals nothing more (as when it was written before the first step).
    yield* Workflow.addFinalizer((exit) =>
      !endedForGood(exit)
        ? Effect.void
        : Effect.flatMap(Fiber.await(started), (journaled) =>
            Exit.isFailure(journaled)
              ? Effect.void
              : finish(saga, identity, recorded.event, exit.cause, compensation.failures, journal).pipe(
                  Correlation.withContext({
                    correlationId: identity.correlationId,
                    causationId: identity.triggerEventId
                  })
                )
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

    const step = <B, I, E2, R2, EA, EI, RC>(name: string, spec: SagaInstance.StepSpec<B, I, E2, R2, EA, EI, RC>) => {
      const context = Steps.stepContext(identity, name)
      const completed: Entry = {
        key: ["step", `${identity.run}`, name],
        event: new Journal.SagaStepCompleted({ run: identity.run, step: name, commandId: context.commandId })
      }
      // Whether this run executed the step (else the engine replayed its recorded result).
      let executed = false
      const run = inEngine(
        sharingExitSchema(
          Activity.make({
            name: `step/${name}`,
            success: spec.success,
            // a new Union each time: the shared exit schema is keyed by `spec.error` (see `sharingExitSchema`)
            error: Schema.Union(spec.error ?? Schema.Never, SagaError.StepFailed),
            // the previous steps' completions first, so that the journal shows them while this one runs
            execute: Effect.zipRight(
              flush,
              Effect.suspend(() => {
                executed = true
                return Steps.runStep(identity, name, spec, context)
              })
            )
          }),
          { success: spec.success, error: spec.error ?? Schema.Never }
        )
      )
      // Executed now: its completion cannot be stored yet, it waits for the
      // next journal entry. Replayed: it may or may not have been journaled
      // before the crash or suspension, so it is appended on its own (a
      // duplicate is a no-op). A step that failed journals nothing. After the
      // compensation is registered, so that a journal that cannot be written
      // does not leave a completed step without it.
      const journaled = <X, EX, RX>(effect: Effect.Effect<X, EX, RX>) =>
        Effect.tap(effect, () =>
          executed
            ? Effect.sync(() => pending.push(completed))
            : Effect.zipRight(flush, Effect.orDie(append([completed])))
        )
      const compensate = spec.compensate
      if (compensate === undefined) return journaled(run)
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
      ).pipe(Effect.provide(engine), journaled)
    }

    // Records the wait (and its deadline, computed once: the activity's result is replayed).
    const waiting = (what: string, duration: Option.Option<Duration.Duration>) =>
      Activity.make({
        name: `wait/${what}`,
        success: WaitDeadline,
        execute: Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const until = Option.match(duration, { onNone: () => null, onSome: (d) => now + Duration.toMillis(d) })
          yield* journal(
            ["wait", `${identity.run}`, what],
            new Journal.SagaWaiting({ run: identity.run, for: what, ...(until === null ? {} : { until }) })
          )
          return until
        })
      }).pipe((activity) => sharingExitSchema(activity, { success: WaitDeadline, error: Schema.Never }), inEngine)
    // Records the end of a wait, and the event received (kept for a retried run).
    const resumed = (
      what: string,
      outcome: "event" | "timeout" | "slept",
      received?: { readonly signal: string; readonly event: Journal.StoredEventJson }
    ) =>
      Activity.make({
        name: `resumed/${what}`,
        execute: Effect.orDie(
          journalAll([
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
      }).pipe((activity) => sharingExitSchema(activity, { success: Schema.Void, error: Schema.Never }), inEngine)

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
          return yield* new SagaError.EventTimeout({
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

    const run: Effect.Effect<A, E, R> = Steps.instanceRun(saga, identity, recorded, { step, awaitEvent, sleep })
    const result = yield* run
    const encoded = Either.getOrUndefined(saga.encodeResult(result))
    // Not an activity: written again by a replay, it is a no-op then (its id is deterministic).
    yield* journal(["completed", `${identity.run}`], Journal.completed(identity.run, encoded))
    return encoded
  }).pipe(
    Effect.catchAll((error) => Effect.fail(Steps.toSagaFailure(identity, error))),
    Correlation.withContext({ correlationId: identity.correlationId, causationId: identity.triggerEventId }),
    Effect.withSpan("Chronicle.Saga.instance", {
      attributes: { saga: identity.saga, instanceId: identity.instanceId, run: identity.run, durable: true }
    })
  )
}
