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
 *   or its typed error (its `error` Schema, or `SagaError.StepFailed`), and never runs
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
 * - the journal is written by the workflow (deterministic event ids, so a
 *   replay appends nothing twice): `SagaStarted` while the first step is
 *   dispatched (the step's own work starts once it is stored), each step's
 *   completion with the instance's next entry; the appends of the instances
 *   running at the same time are gathered into `EventStore.appendMany`
 *   calls (one statement on PostgreSQL), each instance waiting for its own;
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
import { Workflow, type WorkflowEngine } from "@effect/workflow"
import { type Duration, type Layer, Schema } from "effect"
import type * as EventCodec from "./EventCodec.js"
import type { EventStore } from "./EventStore.js"
import * as internal from "./internal/saga/durable.js"
import * as Journal from "./internal/saga/journal.js"
import type * as ProjectionStore from "./ProjectionStore.js"
import type * as Saga from "./Saga.js"
import * as SagaError from "./SagaError.js"

/**
 * Options of {@link layer}: those of the trigger consumer (see
 * `Saga.RunOptions`), and of the engine's clocks.
 *
 * @example
 * ```ts
 * import * as DurableSaga from "@chronicle/core/DurableSaga"
 * import { Saga } from "@chronicle/core"
 * import { Effect, Schema } from "effect"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
 * const Pong = Saga.make({ name: "Pong", trigger: Pinged, id: (e) => e.id, run: () => Effect.log("pong") })
 *
 * const options: DurableSaga.Options = { inMemoryThreshold: "5 minutes", onFailure: "park", batchSize: 100 }
 * const durable = DurableSaga.layer(Pong, options)
 * ```
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
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import * as DurableSaga from "@chronicle/core/DurableSaga"
 *
 * // what a saga's workflow was started with, from its stored payload
 * const describe = (payload: unknown) =>
 *   Effect.map(
 *     Schema.decodeUnknown(DurableSaga.Payload)(payload),
 *     (p) => `instance ${p.instanceId}, run ${p.run}, attempt ${p.attempt}`
 *   )
 * ```
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
 * its success the run's result (encoded), its error `SagaError.SagaFailure`.
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
    error: SagaError.SagaFailure
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
): Layer.Layer<never, never, WorkflowEngine.WorkflowEngine | EventStore | ProjectionStore.ProjectionStore | R> =>
  internal.layer(saga, options)
