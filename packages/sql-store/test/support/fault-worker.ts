/**
 * One application process for the fault-injection tests, to be killed with
 * SIGKILL at any moment: `tsx fault-worker.ts <pg|sqlite> <url|file> <label> <writers>`.
 *
 * It runs the "fault" projection (the read model of `readModel.ts`: one row
 * per applied event and per-wallet totals, written in the projection's
 * transaction) and `writers` writers, each depositing into its own wallet
 * forever with command ids `<label>-w<n>-<i>`. A command that fails
 * (a typed error) is retried with the same command id, as an application
 * should; each one that succeeds is printed as `ack <command id>` (stdout is
 * a pipe: written synchronously). It prints `started` once running, and
 * exits when its stdin closes (the parent test ended).
 */
import { Projection, Repository } from "@chronicle/core"
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { SqlEventStore, SqlProjectionStore } from "../../src/index.js"
import * as ReadModel from "./readModel.js"
import { Deposit, Open, Wallet } from "./Wallet.js"

const [dialect = "sqlite", target = "", label = "worker", writers = "2"] = process.argv.slice(2)

const client: Layer.Layer<SqlClient.SqlClient> =
  dialect === "pg"
    ? Layer.orDie(
        PgClient.layer({ url: Redacted.make(target), maxConnections: 6, applicationName: `chronicle-fault-${label}` })
      )
    : Layer.orDie(SqliteClient.layer({ filename: target }))

const stores = Layer.mergeAll(SqlEventStore.layer({ pollInterval: "100 millis" }), SqlProjectionStore.layer()).pipe(
  Layer.provideMerge(client)
)

const writer = (n: number) =>
  Effect.gen(function* () {
    const wallets = yield* Repository.make(Wallet)
    const id = `${label}-w${n}`
    /** Runs one command until it succeeds, with the same command id every time. */
    const command = (body: Open | Deposit, commandId: string) =>
      wallets.execute(id, body, { commandId }).pipe(
        Effect.retry(Schedule.spaced("50 millis")),
        Effect.tap(() => Effect.sync(() => process.stdout.write(`ack ${commandId}\n`)))
      )
    yield* command(new Open({ owner: "ann" }), `${id}-open`)
    for (let i = 1; ; i++) {
      yield* command(new Deposit({ amount: (i % 7) + 1, currency: "EUR" }), `${id}-${i}`)
      // Leave the single SQLite connection to the projector now and then: back-to-back
      // commands in one process starve it (the connection's semaphore is not fair).
      yield* Effect.sleep("2 millis")
    }
  })

const main = Effect.gen(function* () {
  const { projection } = yield* ReadModel.make({ name: "fault", owner: label, onApply: Effect.sleep("2 millis") })
  yield* Layer.build(
    Projection.layer(projection, {
      owner: label,
      leaseTtl: "3 seconds",
      batchSize: 10,
      pollInterval: "50 millis",
      // a passing fault is retried, never parked
      retry: Schedule.spaced("100 millis")
    })
  )
  yield* Effect.forEach(
    Array.from({ length: Number(writers) }, (_, n) => n),
    (n) => Effect.forkScoped(writer(n)),
    { discard: true }
  )
  process.stdout.write("started\n")
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(stores))

process.stdin.on("end", () => process.exit(0))
process.stdin.resume()

Effect.runPromise(main).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
