/**
 * Sagas (process managers): "when this event happens, do these steps on
 * other aggregates, and undo what was done if a later step fails for good".
 *
 * - `Saga.make` defines one: the trigger event (a Schema, so the trigger is
 *   typed and validated), how an event names its instance (the same id twice
 *   starts one instance), and `run`, an Effect built from `Saga.step`,
 *   `Saga.awaitEvent` and `Saga.sleep`.
 * - A step runs an effect (usually a command on an aggregate) with a retry
 *   `Schedule`, and may declare a compensation. Its command id is derived
 *   from the saga name, the instance id and the step name
 *   (`Correlation.deterministicId`), so a step run again after a crash is
 *   deduplicated by the aggregate's idempotency; a compensation has its own
 *   derived id. When the saga fails for good, the completed steps are
 *   compensated in reverse order, each with its own retry; a compensation
 *   that keeps failing leaves the instance `compensation-failed`, with the
 *   cause.
 * - The same definition runs in two ways, chosen by a layer: in-process
 *   (`Saga.layer`: resource-safe, not crash-durable) or durable
 *   (`DurableSaga.layer` from `@chronicle/core/DurableSaga`, on
 *   `@effect/workflow`). Both consume the trigger events through a
 *   projection named `saga:<name>`, with the lease, checkpoint, status, lag
 *   and poison policy of every projection.
 * - Every instance keeps a journal, a Chronicle stream
 *   `saga:<name>-<instanceId>`: `SagaAdmin.status`, `SagaAdmin.list` and
 *   `SagaAdmin.retry` read it, in any process. The errors are in
 *   `SagaError`; what a step gets, its options and default retry in
 *   `SagaStep`; the contract between the code and its runner (the
 *   `Instance` service, what `run` and `onFailure` get) in `SagaInstance`.
 *
 * @since 0.5.0
 */
import type { Duration, Effect, Either, Layer, Option, ParseResult, Schema, Scope } from "effect"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "./Event.js"
import type * as EventCodec from "./EventCodec.js"
import type { EventStore } from "./EventStore.js"
import * as internal from "./internal/saga/definition.js"
import * as InProcess from "./internal/saga/inProcess.js"
import type * as Projection from "./Projection.js"
import type * as ProjectionStore from "./ProjectionStore.js"
import type { EventTimeout, StepFailed } from "./SagaError.js"
import type { FailureContext, Instance, RunContext } from "./SagaInstance.js"
import type { CompensationContext, StepContext, StepOptions } from "./SagaStep.js"

// ---------------------------------------------------------------------------
// Signals: events a running instance waits for
// ---------------------------------------------------------------------------

/**
 * A signal, erased: what the trigger consumer needs to route an event to
 * the instance waiting for it.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class Approved extends Schema.TaggedClass<Approved>()("Approved", { transferId: Schema.String }) {}
 * class Rejected extends Schema.TaggedClass<Rejected>()("Rejected", { transferId: Schema.String }) {}
 * const signals: ReadonlyArray<Saga.AnySignal> = [
 *   Saga.signal("approved", { event: Approved, id: (e) => e.transferId }),
 *   Saga.signal("rejected", { event: Rejected, id: (e) => e.transferId })
 * ]
 * const reads = signals.flatMap((signal) => signal.types) // ["Approved", "Rejected"]
 * ```
 * @since 0.5.0
 * @category signals
 */
export interface AnySignal {
  readonly name: string
  /** Only events of streams in these categories (all when undefined). */
  readonly categories: ReadonlyArray<string> | undefined
  /** The stored type names this signal reads. */
  readonly types: ReadonlyArray<string>
  /** Decodes a stored event and names the instance it is for. */
  readonly route: (
    stored: StoredEvent
  ) => Either.Either<
    { readonly instanceId: string; readonly recorded: RecordedEvent<EventCodec.Tagged> },
    EventDecodeError | string
  >
}

/**
 * A later event an instance can wait for, and how such an event names its
 * instance (the correlation function).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class Approved extends Schema.TaggedClass<Approved>()("Approved", { transferId: Schema.String }) {}
 * const WasApproved: Saga.Signal<Approved> = Saga.signal("approved", { event: Approved, categories: ["Transfer"], id: (e) => e.transferId })
 * // inside a saga's run: the approval of this instance, or an EventTimeout after a day
 * const approval = Saga.awaitEvent(WasApproved, { timeout: "1 day" })
 * ```
 * @since 0.5.0
 * @category signals
 */
export interface Signal<S extends EventCodec.Tagged> extends AnySignal {
  readonly codec: EventCodec.EventCodec<S>
  /** The instance an event is for (the correlation function). */
  readonly instanceId: (event: S, recorded: RecordedEvent<S>) => string
}

/**
 * Defines a signal: an event type an instance waits for with
 * `Saga.awaitEvent`, routed to the instance named by `id`. List it in the
 * saga's `signals` so that its trigger consumer reads these events too. An
 * event that arrives before the instance waits is kept for it.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class TransferApproved extends Schema.TaggedClass<TransferApproved>()("TransferApproved", { transferId: Schema.String }) {}
 *
 * const Approved = Saga.signal("approved", { event: TransferApproved, categories: ["Transfer"], id: (e) => e.transferId })
 * ```
 * @since 0.5.0
 * @category signals
 */
export const signal = <S extends EventCodec.Tagged, I>(
  name: string,
  options: {
    readonly event: Schema.Schema<S, I, never>
    readonly categories?: ReadonlyArray<string> | undefined
    readonly codec?: EventCodec.EventCodec<S> | undefined
    readonly id: (event: S, recorded: RecordedEvent<S>) => string
  }
): Signal<S> => internal.signal(name, options)

// ---------------------------------------------------------------------------
// The definition
// ---------------------------------------------------------------------------

/**
 * A saga definition. Build it with {@link make}.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { type EventCodec, Saga } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
 * const Pong = Saga.make({
 *   name: "Pong",
 *   trigger: Pinged,
 *   id: (e) => e.id,
 *   run: () => Saga.step("pong", { run: () => Effect.log("pong") })
 * })
 * const describe = <T extends EventCodec.Tagged, A, E, R>(saga: Saga.Saga<T, A, E, R>): string =>
 *   `${saga.name} starts on ${saga.trigger.types.join(", ")} and waits for ${saga.signals.length} signals`
 * const line = describe(Pong)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Saga<T extends EventCodec.Tagged, A, E, R> {
  readonly name: string
  /** The trigger events' codec. */
  readonly trigger: EventCodec.EventCodec<T>
  /** Only trigger events of streams in these categories (all when undefined). */
  readonly categories: ReadonlyArray<string> | undefined
  /** The instance a trigger event starts. */
  instanceId(event: T, recorded: RecordedEvent<T>): string
  readonly signals: ReadonlyArray<AnySignal>
  /** What an instance does: steps, waits and sleeps. */
  run(event: T, context: RunContext<T>): Effect.Effect<A, E, R | Instance>
  /** Encodes the run's result for the journal (none when the saga declares no `success` Schema). */
  encodeResult(result: A): Either.Either<unknown, ParseResult.ParseError>
  /**
   * Runs once a failed run is fully compensated (retried like a step, with
   * the command id of the step `on-failure`). It cannot use `Saga.step`.
   */
  readonly onFailure: Option.Option<OnFailure<T, R>>
}

/**
 * What runs once a failed run is fully compensated. Checked bivariantly in
 * its event, as a method would be, so that any saga is a {@link Any}.
 */
type OnFailure<T, R> = {
  bivariant(event: T, failure: FailureContext): Effect.Effect<unknown, unknown, R | Instance>
}["bivariant"]

/**
 * Any saga: a list of sagas of different triggers, results, errors and
 * requirements type-checks as `ReadonlyArray<Saga.Any>` (its functions are
 * methods, checked bivariantly, so a concrete saga is assignable to it).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
 * class OrderPlaced extends Schema.TaggedClass<OrderPlaced>()("OrderPlaced", { orderId: Schema.String }) {}
 * const Pong = Saga.make({ name: "Pong", trigger: Pinged, id: (e) => e.id, run: () => Effect.void })
 * const Fulfil = Saga.make({
 *   name: "Fulfil",
 *   trigger: OrderPlaced,
 *   id: (e) => e.orderId,
 *   success: Schema.Number,
 *   run: () => Effect.succeed(1)
 * })
 * const sagas: ReadonlyArray<Saga.Any> = [Pong, Fulfil]
 * const names = sagas.map((saga) => saga.name) // ["Pong", "Fulfil"]
 * ```
 * @since 0.5.0
 * @category models
 */
export type Any = Saga<EventCodec.Tagged, unknown, unknown, unknown>

/**
 * What {@link make} takes besides `run` and `success`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class OrderPlaced extends Schema.TaggedClass<OrderPlaced>()("OrderPlaced", { orderId: Schema.String }) {}
 * const definition: Saga.Definition<OrderPlaced, Schema.Schema.Encoded<typeof OrderPlaced>, never, never> = {
 *   name: "Fulfilment",
 *   trigger: OrderPlaced,
 *   categories: ["Order"],
 *   id: (e) => e.orderId
 * }
 * const Fulfilment = Saga.make({ ...definition, run: (e) => Effect.log(`fulfilling ${e.orderId}`) })
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Definition<T extends EventCodec.Tagged, TI, E, R> {
  /** Letters, digits, `_` and `.`, at most 100 characters. */
  readonly name: string
  /** The events that start an instance: a tagged Schema (union). */
  readonly trigger: Schema.Schema<T, TI, never>
  readonly categories?: ReadonlyArray<string> | undefined
  /** The trigger events' upcasters, when they have older stored versions. */
  readonly codec?: EventCodec.EventCodec<T> | undefined
  /** The instance a trigger starts: the same id twice starts one instance. 1 to 200 characters. */
  readonly id: (event: T, recorded: RecordedEvent<T>) => string
  /** The signals `run` waits for with `Saga.awaitEvent`. */
  readonly signals?: ReadonlyArray<AnySignal> | undefined
  /**
   * Runs once a failed run is fully compensated, with the command id of the
   * step `on-failure`: for example to record the failure on an aggregate.
   */
  readonly onFailure?:
    | ((event: T, failure: FailureContext) => Effect.Effect<unknown, unknown, R | Instance>)
    | undefined
  /** Only for the type of `run`'s error (inferred). */
  readonly _E?: E | undefined
}

/**
 * Defines a saga. `run` is an Effect built from `Saga.step`,
 * `Saga.awaitEvent` and `Saga.sleep`; its error type is inferred. Give a
 * `success` Schema to record the run's result in the journal (the result is
 * then `A`; without one it is `void`). `onFailure` runs as a last step once
 * a failed run is fully compensated (for example to record the failure on
 * an aggregate).
 *
 * Under the durable runner `run` is replayed after a crash or a wait: the
 * steps already done return their recorded results, so the code between
 * steps must be deterministic (no clock, no random, no reads outside steps).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class OrderPlaced extends Schema.TaggedClass<OrderPlaced>()("OrderPlaced", { orderId: Schema.String }) {}
 *
 * export const Fulfilment = Saga.make({
 *   name: "Fulfilment",
 *   trigger: OrderPlaced,
 *   categories: ["Order"],
 *   id: (event) => event.orderId,
 *   run: (event) =>
 *     Effect.gen(function* () {
 *       yield* Saga.step("reserve", {
 *         run: (step) => Effect.log(`reserve stock for ${event.orderId} (command ${step.commandId})`),
 *         compensate: (_, step) => Effect.log(`release stock (command ${step.commandId})`)
 *       })
 *       yield* Saga.step("ship", { run: () => Effect.log("ship") })
 *     })
 * })
 * ```
 * @since 0.5.0
 * @category constructors
 */
export function make<T extends EventCodec.Tagged, TI, A, AI, E, R = never>(
  definition: Definition<T, TI, E, R> & {
    /** The Schema of the run's result, recorded in the journal. */
    readonly success: Schema.Schema<A, AI, never>
    readonly run: (event: T, context: RunContext<T>) => Effect.Effect<A, E, R | Instance>
  }
): Saga<T, A, E, R>
export function make<T extends EventCodec.Tagged, TI, E, R = never>(
  definition: Definition<T, TI, E, R> & {
    readonly success?: undefined
    readonly run: (event: T, context: RunContext<T>) => Effect.Effect<unknown, E, R | Instance>
  }
): Saga<T, void, E, R>
export function make<T extends EventCodec.Tagged, TI, A, AI, E, R>(
  definition: internal.MakeArguments<T, TI, A, AI, E, R>
): Saga<T, A, E, R> {
  return internal.make(definition)
}

// ---------------------------------------------------------------------------
// Steps, waits and sleeps
// ---------------------------------------------------------------------------

/**
 * One step of a saga: `run` (given the step's deterministic command id, see
 * `SagaStep.StepContext`), retried on its `Schedule` while `retryWhile` says so, and
 * an optional `compensate`, which runs only if the saga fails for good
 * after this step completed, in reverse order of the completed steps, with
 * its own command id and retry.
 *
 * Give `success` to use the step's result later (the durable runner records
 * it and returns it on a replay); without it the step returns `void`. The
 * step fails with the errors its `error` Schema describes, and with
 * `SagaError.StepFailed` for any other. Step names must be unique within a saga.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * const reserve = Saga.step("reserve", {
 *   run: (step) => Effect.succeed({ reservation: step.commandId }),
 *   success: Schema.Struct({ reservation: Schema.String }),
 *   compensate: (result) => Effect.log(`release ${result.reservation}`)
 * })
 * ```
 * @since 0.5.0
 * @category steps
 */
export function step<A, I, E, R, EA = never, EI = never, RC = never>(
  name: string,
  options: StepOptions<E, R, EA, EI> & {
    readonly run: (context: StepContext) => Effect.Effect<A, E, R>
    readonly success: Schema.Schema<A, I, never>
    readonly compensate?: ((result: A, context: CompensationContext) => Effect.Effect<unknown, unknown, RC>) | undefined
  }
): Effect.Effect<A, EA | StepFailed, R | RC | Instance>
export function step<E, R, EA = never, EI = never, RC = never>(
  name: string,
  options: StepOptions<E, R, EA, EI> & {
    readonly run: (context: StepContext) => Effect.Effect<unknown, E, R>
    readonly success?: undefined
    readonly compensate?:
      | ((result: undefined, context: CompensationContext) => Effect.Effect<unknown, unknown, RC>)
      | undefined
  }
): Effect.Effect<void, EA | StepFailed, R | RC | Instance>
export function step<A, I, E, R, EA, EI, RC>(
  name: string,
  options: internal.StepArguments<A, I, E, R, EA, EI, RC>
): Effect.Effect<A | undefined, EA | StepFailed, R | RC | Instance> {
  return internal.step(name, options)
}

/**
 * Waits for a signal's event for this instance: an event that arrived
 * before the wait is taken at once. With a `timeout` (a deadline), fails
 * with `SagaError.EventTimeout` when it passes: unless the saga handles it, the saga
 * then fails and compensates. The durable runner survives a crash while
 * waiting, and keeps the deadline.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class Approved extends Schema.TaggedClass<Approved>()("Approved", { transferId: Schema.String }) {}
 * const Approval = Saga.signal("approval", { event: Approved, id: (e) => e.transferId })
 *
 * const approved = Saga.awaitEvent(Approval, { timeout: "2 days" })
 * ```
 * @since 0.5.0
 * @category waiting
 */
export const awaitEvent = <S extends EventCodec.Tagged>(
  signal: Signal<S>,
  options?: { readonly timeout?: Duration.DurationInput | undefined }
): Effect.Effect<S, EventTimeout, Instance> => internal.awaitEvent(signal, options)

/**
 * Sleeps: durably under the durable runner (a crash does not restart the
 * sleep), in memory in-process. `name` must be unique within the saga.
 *
 * @example
 * ```ts
 * import { Saga } from "@chronicle/core"
 *
 * const coolingOff = Saga.sleep("cooling-off", "2 days")
 * ```
 * @since 0.5.0
 * @category waiting
 */
export const sleep = (name: string, duration: Duration.DurationInput): Effect.Effect<void, never, Instance> =>
  internal.sleep(name, duration)

// ---------------------------------------------------------------------------
// The in-process runner
// ---------------------------------------------------------------------------

/**
 * Options of the runners: those of the trigger consumer (a projection), of
 * which `onFailure` defaults to `park` for sagas (a bad trigger is set
 * aside, the feed goes on).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Saga } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
 * const Pong = Saga.make({ name: "Pong", trigger: Pinged, id: (e) => e.id, run: () => Effect.log("pong") })
 *
 * const options: Saga.RunOptions = { onFailure: "stop", batchSize: 50, leaseTtl: "30 seconds" }
 * const running = Saga.layer(Pong, options)
 * ```
 * @since 0.5.0
 * @category running
 */
export interface RunOptions extends Projection.RunOptions {}

/**
 * Runs a saga in-process: its trigger consumer (a projection named
 * `saga:<name>`, with the lease, checkpoint, status, lag and poison policy
 * of every projection) starts one instance per instance id, as a fiber of
 * this process. Each step is a scoped resource: when `run` fails for good,
 * the scope closes and the completed steps are compensated in reverse order.
 *
 * Resource-safe, not crash-durable: starting an instance is recorded in its
 * journal together with the checkpoint (one transaction on SQL stores), and
 * when the runner starts (or takes the lease over) it runs the instances
 * that did not end again from their first step (their command ids make the
 * steps already applied no-ops on the aggregates, but the steps' code runs
 * again; waits and sleeps keep the deadlines their journal recorded). An
 * interruption (shutdown) compensates nothing. For crash-durable sagas, in
 * any process, use `DurableSaga.layer` with the same definition.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { ProjectionStore, Saga, EventStore } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
 * const Pong = Saga.make({
 *   name: "Pong",
 *   trigger: Pinged,
 *   id: (e) => e.id,
 *   run: () => Saga.step("pong", { run: () => Effect.log("pong") })
 * })
 *
 * const App = Saga.layer(Pong).pipe(Layer.provideMerge(Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory)))
 * ```
 * @since 0.5.0
 * @category running
 */
export const layer = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga<T, A, E, R>,
  options?: RunOptions
): Layer.Layer<never, never, EventStore | ProjectionStore.ProjectionStore | Exclude<R, Scope.Scope>> =>
  InProcess.layer(saga, options)
