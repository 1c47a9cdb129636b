/**
 * `@chronicle/sql-store/SqlWorkflowEngine`: the production engine of durable
 * sagas (`DurableSaga` in `@chronicle/core`): `@effect/cluster`'s
 * `ClusterWorkflowEngine` over its SQL message and runner storage, on the
 * `SqlClient` in context (PostgreSQL, or SQLite as the embedded default).
 *
 * - **One process** (the default): a single runner (`SingleRunner`'s
 *   setup) runs every workflow; after a crash, the next process to start on
 *   the same database resumes them where they stopped.
 * - **Several processes** (`mode: "socket"`, each with its own `address`):
 *   each process is a runner listening on its own socket; the shards of workflows are spread
 *   over the live runners, each held by one runner at a time (PostgreSQL
 *   advisory locks, released the moment a process dies; on SQLite, rows in
 *   the locks table, which expire). When a process dies, its shards move to
 *   the others once its runner's heartbeat is older than
 *   `shardLockExpiration` (35 s by default), and its workflows resume there.
 *
 * The engine's tables are `<tablePrefix>cluster_messages`, `…_replies`,
 * `…_runners`, `…_locks` (and its own migrations table), created on first
 * use. On PostgreSQL the advisory lock numbers are not prefixed: run one
 * engine per database (or set `shardLockDisableAdvisory`).
 *
 * It is its own entry point, not part of `@chronicle/sql-store`'s index:
 * `@effect/workflow`, `@effect/cluster`, `@effect/rpc` (and, for several
 * processes, `@effect/platform-node`) are optional peers, installed only by
 * apps with durable sagas.
 *
 * @since 0.5.0
 * @module
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { SqlClient } from "@effect/sql"
import { WorkflowEngine } from "@effect/workflow"
import { Context, Duration, Effect, Layer, Option } from "effect"

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * import * as SqlWorkflowEngine from "@chronicle/sql-store/SqlWorkflowEngine"
 *
 * const options: SqlWorkflowEngine.Options = { tablePrefix: "bank_", mode: "socket", address: { host: "10.0.0.5", port: 34431 } }
 * const engine = SqlWorkflowEngine.layer(options)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Options {
  /**
   * The prefix of the store's tables (as in `SqlEventStore`): the engine's
   * are `<tablePrefix>cluster_…`. Default `chronicle_`.
   */
  readonly tablePrefix?: string | undefined
  /**
   * `single` (default): this process runs every workflow whose shards it
   * holds, and talks to no other process (a message another process stores
   * is seen on the next storage poll). `socket`: this process is one of
   * several runners that send each other messages over sockets, listening
   * on `address` (or `listenAddress`).
   */
  readonly mode?: "single" | "socket" | undefined
  /**
   * This runner's address: its identity in the runners table, and in
   * `socket` mode where the others reach it. Default `localhost:34431`.
   * A process restarted with the address of a dead one takes its shards
   * over at once; processes running at the same time need distinct
   * addresses (then a dead one's shards wait until its lock expires, see
   * `shardLockExpiration`).
   */
  readonly address?: { readonly host: string; readonly port: number } | undefined
  /** Where a `socket` runner listens, when it differs from `address` (say `0.0.0.0`). */
  readonly listenAddress?: { readonly host: string; readonly port: number } | undefined
  /**
   * Anything else of `@effect/cluster`'s `ShardingConfig`. Chronicle's
   * defaults: `entityTerminationTimeout` 0 (on shutdown a running workflow
   * is interrupted at once; it resumes on the next runner), and, in
   * single-runner mode, `entityMessagePollInterval` 1 s (how soon a durable
   * clock fires or a message stored by another process is seen).
   */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

/**
 * The `ShardingConfig` {@link layer} runs with for these options.
 *
 * @example
 * ```ts
 * import * as SqlWorkflowEngine from "@chronicle/sql-store/SqlWorkflowEngine"
 *
 * const config = SqlWorkflowEngine.config({ mode: "socket", address: { host: "10.0.0.5", port: 34431 } })
 * ```
 * @since 0.5.0
 * @category config
 */
export const config = (options?: Options): ShardingConfig.ShardingConfig["Type"] => ({
  ...ShardingConfig.defaults,
  entityTerminationTimeout: Duration.zero,
  ...(options?.mode === "socket" ? {} : { entityMessagePollInterval: Duration.seconds(1) }),
  ...(options?.address === undefined
    ? {}
    : { runnerAddress: Option.some(RunnerAddress.make(options.address.host, options.address.port)) }),
  ...(options?.listenAddress === undefined
    ? {}
    : { runnerListenAddress: Option.some(RunnerAddress.make(options.listenAddress.host, options.listenAddress.port)) }),
  ...options?.shardingConfig
})

/**
 * The `WorkflowEngine` on SQL: `ClusterWorkflowEngine` over
 * `SqlMessageStorage` and `SqlRunnerStorage` (prefixed tables), as a single
 * runner or, in `socket` mode, one of several processes on sockets.
 *
 * Calls into the engine from a saga's trigger consumer run inside the
 * consumer's transaction: on SQLite (one connection) the engine's writes join
 * that transaction; on PostgreSQL they run outside it, so that the runner
 * that picks a message up sees it at once.
 *
 * @example
 * ```ts
 * import { SqlEventStore, SqlProjectionStore } from "@chronicle/sql-store"
 * import * as SqlWorkflowEngine from "@chronicle/sql-store/SqlWorkflowEngine"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { Layer } from "effect"
 *
 * const Durable = Layer.mergeAll(
 *   SqlEventStore.layer(),
 *   SqlProjectionStore.layer({ migrate: false }),
 *   SqlWorkflowEngine.layer()
 * ).pipe(Layer.provideMerge(SqliteClient.layer({ filename: "app.db" })))
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<WorkflowEngine.WorkflowEngine, never, SqlClient.SqlClient> => {
  const prefix = `${options?.tablePrefix ?? "chronicle_"}cluster`
  const storage = Layer.merge(
    SqlMessageStorage.layerWith({ prefix }),
    Layer.orDie(SqlRunnerStorage.layerWith({ prefix }))
  ).pipe(Layer.provideMerge(ShardingConfig.layer(config(options))))
  const sharding =
    options?.mode !== "socket"
      ? Sharding.layer.pipe(
          Layer.provideMerge(Runners.layerNoop),
          Layer.provide(RunnerHealth.layerNoop),
          Layer.provideMerge(storage)
        )
      : NodeClusterSocket.layer({ storage: "byo", shardingConfig: config(options) }).pipe(
          Layer.orDie,
          Layer.provideMerge(storage)
        )
  return Layer.effect(WorkflowEngine.WorkflowEngine, outsideTransactions).pipe(
    Layer.provide(ClusterWorkflowEngine.layer.pipe(Layer.provide(sharding)))
  )
}

/**
 * On PostgreSQL, the engine's calls that a caller may make inside a
 * transaction (starting a workflow, completing a deferred) run outside it.
 */
const outsideTransactions = Effect.gen(function* () {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const sql = yield* SqlClient.SqlClient
  const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  if (!isPg) return engine
  // the same services, without the caller's transaction
  const outside = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.mapInputContext(effect, (context: Context.Context<R>) => {
      const services = new Map(context.unsafeMap)
      services.delete(SqlClient.TransactionConnection.key)
      return Context.unsafeMake<R>(services)
    })
  return WorkflowEngine.WorkflowEngine.of({
    ...engine,
    execute: (workflow, options) => outside(engine.execute(workflow, options)),
    poll: (workflow, executionId) => outside(engine.poll(workflow, executionId)),
    interrupt: (workflow, executionId) => outside(engine.interrupt(workflow, executionId)),
    resume: (workflow, executionId) => outside(engine.resume(workflow, executionId)),
    deferredDone: (deferred, options) => outside(engine.deferredDone(deferred, options))
  })
})
