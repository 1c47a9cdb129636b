/**
 * The server's projections, run in the background for as long as the server
 * lives, and rebuilt on request without stopping the server.
 *
 * Each projection runs through `Projection.run` (the runner behind
 * `Projection.layer`), forked in the layer's scope: it holds the
 * projection's lease, follows the global feed and keeps its read model up to
 * date; closing the layer (the server shutting down) interrupts it and
 * releases the lease. A runner is kept by name in a `FiberMap` rather than
 * built with `Projection.layer`, because a rebuild in place needs the lease:
 * {@link BackgroundProjections.rebuild} stops that one runner, rebuilds with
 * `ProjectionAdmin.rebuild` (recording each progress step for
 * `GET /api/projections/{name}/rebuild`), then starts the runner again,
 * whether the rebuild succeeded or not.
 *
 * All runners and rebuilds of a server share one lease owner name
 * ({@link BackgroundProjections.owner}), so the server can tell its own lease
 * from another process's: a rebuild while another process runs the
 * projection is refused at once (409).
 *
 * @since 0.5.0
 */
import {
  type EventStore,
  Position,
  Projection,
  ProjectionAdmin,
  type ProjectionError,
  ProjectionStore
} from "@chronicle/core"
import type { SqlClient } from "@effect/sql"
import {
  Cause,
  Context,
  DateTime,
  Effect,
  FiberMap,
  Layer,
  Option,
  Ref,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as Projections from "../Projections.js"
import * as ApiErrors from "./ApiErrors.js"
import type * as ApiModels from "./ApiModels.js"
import * as StreamCatalog from "./StreamCatalog.js"

/**
 * What the server's projections need: the stores and the SQL client their
 * read models write through.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 * import { BackgroundProjections } from "@chronicle/example-bank/http"
 *
 * const stores: Layer.Layer<BackgroundProjections.Requirements, BankStore.BankStoreError> = BankStore.layer({ _tag: "Memory" })
 * const running = BackgroundProjections.layer(BackgroundProjections.bank).pipe(Layer.provide(stores))
 * ```
 * @since 0.5.0
 * @category models
 */
export type Requirements = EventStore.EventStore | ProjectionStore.ProjectionStore | SqlClient.SqlClient

/**
 * A projection the server runs, with its run options, its types erased so
 * that projections of different events sit in one list.
 *
 * @example
 * ```ts
 * import { BackgroundProjections } from "@chronicle/example-bank/http"
 *
 * const label = (definition: BackgroundProjections.Definition) => `${definition.name} v${definition.version}`
 * BackgroundProjections.bank.map(label) // ["balances v1", ...]
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Definition {
  readonly name: string
  readonly version: number
  /** The runner, for this lease owner. */
  readonly run: (owner: string) => Effect.Effect<void, ProjectionError.ProjectionFailed, Requirements>
  /** A rebuild in place, for this lease owner. */
  readonly rebuild: (owner: string) => Stream.Stream<ProjectionAdmin.Progress, unknown, Requirements>
}

/**
 * A projection as the server runs it.
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 * import { BackgroundProjections } from "@chronicle/example-bank/http"
 *
 * const balances = BackgroundProjections.define(Projections.Balances, { onFailure: "stop" })
 * ```
 * @since 0.5.0
 * @category constructors
 */
export const define = <E extends { readonly _tag: string }, Err>(
  projection: Projection.Projection<E, Err, SqlClient.SqlClient>,
  options?: Projection.RunOptions
): Definition => ({
  name: projection.name,
  version: projection.version,
  run: (owner) => Projection.run(projection, { ...options, owner }),
  rebuild: (owner) => ProjectionAdmin.rebuild(projection, { ...options, owner, waitForLease: "5 seconds" })
})

/**
 * The bank's read models (the `stop` policy: a running balance, and a
 * transfer's status, depend on the order of events) and the stream catalog (`park`: it keeps one row per
 * stream and does not depend on order).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 * import { BackgroundProjections } from "@chronicle/example-bank/http"
 *
 * const running = BackgroundProjections.layer(BackgroundProjections.bank).pipe(
 *   Layer.provide(BankStore.layer({ _tag: "Memory" }))
 * )
 * ```
 * @since 0.5.0
 * @category constructors
 */
export const bank: ReadonlyArray<Definition> = [
  define(Projections.Balances, { onFailure: "stop" }),
  define(Projections.Statements, { onFailure: "stop" }),
  define(Projections.DailyTotals, { onFailure: "stop" }),
  define(Projections.Transfers, { onFailure: "stop" }),
  define(StreamCatalog.StreamCatalog, { onFailure: "park" })
]

/**
 * The running projections of a server.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundProjections } from "@chronicle/example-bank/http"
 *
 * const rebuild = Effect.flatMap(BackgroundProjections.BackgroundProjections, (running) => running.rebuild("balances"))
 * ```
 * @since 0.5.0
 * @category services
 */
export class BackgroundProjections extends Context.Tag("@chronicle/example-bank/http/BackgroundProjections")<
  BackgroundProjections,
  {
    /** The lease owner name of this server's runners and rebuilds. */
    readonly owner: string
    readonly definitions: ReadonlyArray<Definition>
    /**
     * Starts rebuilding a projection in place and answers at once with the
     * rebuild's first state; its progress is then read with `lastRebuild`.
     */
    readonly rebuild: (
      name: string
    ) => Effect.Effect<ApiModels.RebuildView, ApiErrors.NotFound | ApiErrors.ProjectionBusy | ApiErrors.Unavailable>
    /** The last rebuild of a projection started by this server, as it stands now. */
    readonly lastRebuild: (name: string) => Effect.Effect<Option.Option<ApiModels.RebuildView>>
    /** Every change of any rebuild's state (for a progress feed). */
    readonly rebuilds: SubscriptionRef.SubscriptionRef<ReadonlyMap<string, ApiModels.RebuildView>>
  }
>() {}

const describe = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return "_tag" in error && typeof error._tag === "string" ? `${error._tag}: ${error.message}` : error.message
  }
  return String(error)
}

const make = (
  definitions: ReadonlyArray<Definition>,
  options?: { readonly owner?: string | undefined }
): Effect.Effect<BackgroundProjections["Type"], never, Requirements | Scope.Scope> =>
  Effect.gen(function* () {
    const owner = options?.owner ?? `bank-server-${crypto.randomUUID()}`
    const runners = yield* FiberMap.make<string>()
    const rebuilding = yield* FiberMap.make<string>()
    const rebuilds = yield* SubscriptionRef.make<ReadonlyMap<string, ApiModels.RebuildView>>(new Map())
    const starting = yield* Ref.make<ReadonlySet<string>>(new Set())
    const context = yield* Effect.context<Requirements>()

    const startRunner = (definition: Definition) =>
      FiberMap.run(
        runners,
        definition.name,
        definition
          .run(owner)
          .pipe(
            Effect.tapErrorCause((cause) =>
              Effect.logError(`projection ${definition.name} v${definition.version} stopped`, cause)
            )
          )
      )

    yield* Effect.forEach(definitions, startRunner, { discard: true })

    const update = (name: string, f: (view: ApiModels.RebuildView) => ApiModels.RebuildView) =>
      SubscriptionRef.update(rebuilds, (all) => {
        const current = all.get(name)
        return current === undefined ? all : new Map([...all, [name, f(current)]])
      })

    const finish = (name: string, error: Option.Option<string>) =>
      Effect.flatMap(DateTime.now, (now) =>
        update(name, (view) => ({
          ...view,
          status: Option.isSome(error) ? "failed" : "done",
          ...(Option.isNone(error) ? { lag: 0, lagExact: true } : {}),
          finishedAt: now,
          error: Option.getOrNull(error)
        }))
      )

    const runRebuild = (definition: Definition) =>
      Effect.gen(function* () {
        // Stop this server's runner: its scope closes, which releases the lease.
        yield* FiberMap.remove(runners, definition.name)
        yield* definition.rebuild(owner).pipe(
          Stream.runForEach((progress) =>
            update(definition.name, (view) => ({
              ...view,
              processed: progress.processed,
              lag: progress.lag,
              lagExact: progress.lagExact ?? true,
              checkpoint: Position.encode(progress.checkpoint)
            }))
          )
        )
      }).pipe(
        Effect.matchCauseEffect({
          onSuccess: () => finish(definition.name, Option.none()),
          onFailure: (cause) =>
            Cause.isInterruptedOnly(cause)
              ? finish(definition.name, Option.some("interrupted (the server is shutting down)"))
              : finish(
                  definition.name,
                  Option.some(
                    Option.match(Cause.failureOption(cause), {
                      onNone: () => Cause.pretty(cause),
                      onSome: describe
                    })
                  )
                )
        }),
        Effect.ensuring(startRunner(definition)),
        Effect.ensuring(Ref.update(starting, (names) => new Set([...names].filter((n) => n !== definition.name)))),
        Effect.provide(context)
      )

    const rebuild = (name: string) =>
      Effect.gen(function* () {
        const definition = definitions.find((d) => d.name === name)
        if (definition === undefined) {
          return yield* new ApiErrors.NotFound({
            resource: "projection",
            id: name,
            message: `no projection named ${name}: the projections are ${definitions.map((d) => d.name).join(", ")}`
          })
        }
        const claimed = yield* Ref.modify(starting, (names): [boolean, ReadonlySet<string>] =>
          names.has(name) ? [false, names] : [true, new Set([...names, name])]
        )
        if (!claimed) {
          return yield* new ApiErrors.ProjectionBusy({
            projection: name,
            message: `a rebuild of ${name} is already running`
          })
        }
        const store = yield* ProjectionStore.ProjectionStore
        const record = yield* store.get({ name, version: definition.version }).pipe(
          Effect.catchAll((error) =>
            Effect.zipRight(
              Ref.update(starting, (names) => new Set([...names].filter((n) => n !== name))),
              Effect.fail(ApiErrors.fromStoreError(error))
            )
          )
        )
        const lease = Option.flatMap(record, (r) => r.lease)
        if (Option.isSome(lease) && lease.value.owner !== owner) {
          yield* Ref.update(starting, (names) => new Set([...names].filter((n) => n !== name)))
          return yield* new ApiErrors.ProjectionBusy({
            projection: name,
            message: `another process runs ${name} (lease owner ${lease.value.owner}): rebuild it there, or stop it first`
          })
        }
        const startedAt = yield* DateTime.now
        const view: ApiModels.RebuildView = {
          projection: name,
          status: "running",
          processed: 0,
          lag: 0,
          lagExact: false,
          checkpoint: null,
          startedAt,
          finishedAt: null,
          error: null
        }
        yield* SubscriptionRef.update(rebuilds, (all) => new Map([...all, [name, view]]))
        yield* FiberMap.run(rebuilding, name, runRebuild(definition))
        return view
      }).pipe(Effect.provide(context))

    return {
      owner,
      definitions,
      rebuild,
      lastRebuild: (name) => Effect.map(SubscriptionRef.get(rebuilds), (all) => Option.fromNullable(all.get(name))),
      rebuilds
    }
  })

/**
 * Runs the projections in the background while the layer lives.
 *
 * @example
 * ```ts
 * import { BackgroundProjections } from "@chronicle/example-bank/http"
 *
 * const running = BackgroundProjections.layer(BackgroundProjections.bank)
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer = (
  definitions: ReadonlyArray<Definition>,
  options?: { readonly owner?: string | undefined }
): Layer.Layer<BackgroundProjections, never, Requirements> =>
  Layer.scoped(BackgroundProjections, make(definitions, options))
