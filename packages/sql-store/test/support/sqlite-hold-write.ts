/**
 * Holds a write transaction on a SQLite file in a process of its own, as a
 * long batch job would: `tsx sqlite-hold-write.ts <file>`. It prints
 * "holding" once it has the write lock, and exits (rolling back) when its
 * stdin closes.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect } from "effect"

const [filename = ""] = process.argv.slice(2)

const program = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe("BEGIN IMMEDIATE")
  process.stdout.write("holding\n")
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(SqliteClient.layer({ filename })))

process.stdin.on("end", () => process.exit(0))
process.stdin.resume()

Effect.runPromise(program).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
