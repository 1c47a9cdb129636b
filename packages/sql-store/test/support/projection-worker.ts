/**
 * One OS process running the "shared" projection on PostgreSQL, for the
 * two-process test: `tsx projection-worker.ts <database url> <owner>`.
 *
 * The handler writes one row per event with its owner into `shared_applied`
 * (no unique key, so a double application would show), then lingers a
 * little, inside the projection's transaction. It prints "started" once the
 * runner is forked, and exits when its stdin closes (the parent test ended).
 */
import { Projection } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlEventStore, SqlProjectionStore } from "../../src/index.js"
import { amountOf } from "./readModel.js"
import { Wallet } from "./Wallet.js"

const [url = "", owner = "worker"] = process.argv.slice(2)

export const Shared = Projection.make({
  name: "shared",
  from: Wallet,
  categories: ["Wallet"],
  handle: (recorded) =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO shared_applied (event_id, stream_id, amount, processed_by)
        VALUES (${recorded.eventId}, ${recorded.streamId}, ${amountOf(recorded.event)}, ${owner})`
      yield* Effect.sleep("25 millis")
    })
})

const stores = Layer.mergeAll(SqlEventStore.layer({ pollInterval: "100 millis" }), SqlProjectionStore.layer()).pipe(
  Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }))
)

const main = Effect.gen(function* () {
  yield* Layer.build(
    Projection.layer(Shared, { owner, leaseTtl: "3 seconds", pollInterval: "50 millis", batchSize: 5 })
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
