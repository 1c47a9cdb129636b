/**
 * Durable sagas on the SQL workflow engine, on SQLite and PostgreSQL: the
 * same saga definition as the core tests (the ledger's Move saga), run by
 * `DurableSaga.layer` over `SqlWorkflowEngine.layer`. Crashes and several
 * processes are tested with real processes in the bank's tests.
 */
import { Repository, SagaAdmin } from "@chronicle/core"
import * as DurableSaga from "@chronicle/core/DurableSaga"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Option, Redacted, Schedule, Scope } from "effect"
import { SqlEventStore, SqlProjectionStore } from "../src/index.js"
import * as SqlWorkflowEngine from "../src/SqlWorkflowEngine.js"
import { freshFile } from "./support/backends.js"
import * as Database from "./support/database.js"
import { Acct, ApproveMove, CloseAcct, Credit, Move, moveSaga, OpenAcct, RequestMove } from "./support/ledger.js"
import * as Postgres from "./support/postgres.js"

const options: DurableSaga.Options = { pollInterval: "50 millis", leaseTtl: "5 seconds", retry: Schedule.recurs(1) }

const stack = <E>(sql: Layer.Layer<SqlClient.SqlClient, E>) =>
  Layer.mergeAll(SqlEventStore.layer(), SqlProjectionStore.layer({ migrate: false }), SqlWorkflowEngine.layer()).pipe(
    Layer.provideMerge(sql)
  )

const backends = [
  {
    name: "SQLite",
    skip: false,
    sql: () => Layer.orDie(SqliteClient.layer({ filename: freshFile() })),
    /** One database that several stacks open in turn (as processes restarting would). */
    database: Effect.sync(() => {
      const filename = freshFile()
      return () => Layer.orDie(SqliteClient.layer({ filename }))
    })
  },
  {
    name: "PostgreSQL",
    skip: !Postgres.available,
    sql: () =>
      Layer.unwrapScoped(Effect.map(Database.fresh, (url) => PgClient.layer({ url: Redacted.make(url) }))).pipe(
        Layer.orDie
      ),
    database: Effect.map(Database.fresh, (url) => () => Layer.orDie(PgClient.layer({ url: Redacted.make(url) })))
  }
] as const

const setup = Effect.gen(function* () {
  const accounts = yield* Repository.make(Acct)
  for (const id of ["a", "b", "c"]) yield* accounts.execute(id, new OpenAcct())
  yield* accounts.execute("a", new Credit({ amount: 1000, refund: false }))
  yield* accounts.execute("c", new CloseAcct())
})

const request = (moveId: string, from: string, to: string, amount: number) =>
  Effect.flatMap(Repository.make(Move), (moves) =>
    moves.execute(moveId, new RequestMove({ moveId, from, to, amount }), { commandId: `request-${moveId}` })
  )

const balance = (id: string) =>
  Effect.flatMap(Repository.make(Acct), (accounts) => Effect.map(accounts.load(id), (l) => l.state.balance))

describe.each(backends)("SqlWorkflowEngine ($name)", (backend) => {
  it.live.skipIf(backend.skip)(
    "runs durable sagas: steps, compensation, a wait for an event, over prefixed tables",
    () =>
      Effect.gen(function* () {
        yield* setup
        yield* request("ok", "a", "b", 100)
        yield* request("refused", "a", "c", 200)
        yield* request("big", "a", "b", 600)
        const ok = yield* SagaAdmin.waitFor("Move", "ok", { timeout: "20 seconds" })
        expect(ok.state).toBe("completed")
        expect(ok.mode).toBe("durable")
        const refused = yield* SagaAdmin.waitFor("Move", "refused", { timeout: "20 seconds" })
        expect(refused.state).toBe("failed")
        expect(refused.compensated).toEqual(["debit"])
        const waiting = yield* SagaAdmin.waitFor("Move", "big", {
          timeout: "20 seconds",
          until: (s) => s.state === "waiting"
        })
        expect(waiting.steps).toEqual(["debit"])
        yield* Effect.flatMap(Repository.make(Move), (moves) =>
          moves.execute("big", new ApproveMove({ moveId: "big" }))
        )
        const big = yield* SagaAdmin.waitFor("Move", "big", { timeout: "20 seconds" })
        expect(big.state).toBe("completed")
        expect(yield* balance("a")).toBe(300)
        expect(yield* balance("b")).toBe(700)
        expect(yield* balance("c")).toBe(0)
        const sql = yield* SqlClient.SqlClient
        const tables = yield* sql.onDialectOrElse({
          pg: () =>
            sql<{
              name: string
            }>`SELECT table_name AS name FROM information_schema.tables WHERE table_name LIKE 'chronicle_cluster%'`,
          orElse: () =>
            sql<{
              name: string
            }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'chronicle_cluster%'`
        })
        expect(tables.map((t) => t.name)).toContain("chronicle_cluster_messages")
        expect(Option.isSome(yield* SagaAdmin.status("Move", "ok"))).toBe(true)
      }).pipe(
        Effect.provide(
          DurableSaga.layer(moveSaga({ approvalAbove: 500, deadline: "1 hour" }), options).pipe(
            Layer.provideMerge(stack(backend.sql()))
          )
        )
      ),
    60_000
  )

  it.live.skipIf(backend.skip)(
    "a runner shut down in the middle of a step compensates nothing: the next one resumes the instance and completes it",
    () =>
      Effect.gen(function* () {
        const database = yield* backend.database
        const inCredit = yield* Deferred.make<void>()
        const runner = (beforeCredit: Effect.Effect<void>) =>
          DurableSaga.layer(moveSaga({ beforeCredit }), options).pipe(Layer.provideMerge(stack(database())))
        // the first runner debits, then stops in the credit step until it is shut down
        const first = yield* Scope.make()
        const held = yield* Layer.buildWithScope(
          runner(Effect.zipRight(Deferred.succeed(inCredit, undefined), Effect.never)),
          first
        )
        yield* Effect.gen(function* () {
          yield* setup
          yield* request("held", "a", "b", 100)
          yield* Deferred.await(inCredit)
        }).pipe(Effect.provide(held))
        yield* Scope.close(first, Exit.void)
        // its interruption is not the end of the run: no compensation, no failure
        const second = yield* Scope.make()
        const resumed = yield* Layer.buildWithScope(runner(Effect.void), second)
        yield* Effect.gen(function* () {
          const interrupted = yield* SagaAdmin.status("Move", "held")
          expect(Option.map(interrupted, (s) => [s.state !== "failed", s.compensated])).toEqual(Option.some([true, []]))
          const done = yield* SagaAdmin.waitFor("Move", "held", { timeout: "40 seconds" })
          expect([done.state, done.steps, done.compensated]).toEqual(["completed", ["debit", "credit", "complete"], []])
          expect([yield* balance("a"), yield* balance("b")]).toEqual([900, 100])
        }).pipe(Effect.provide(resumed))
        yield* Scope.close(second, Exit.void)
      }).pipe(Effect.scoped),
    90_000
  )
})
