/**
 * Runs the migrations on a SQLite file in a process of its own and prints
 * what it applied as JSON: `tsx migrate-sqlite.ts <file> [prefix]`.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect } from "effect"
import { SqlMigrations } from "../../src/index.js"

const [filename = "", tablePrefix] = process.argv.slice(2)

const program = SqlMigrations.run({ tablePrefix }).pipe(Effect.provide(SqliteClient.layer({ filename })))

Effect.runPromise(program).then(
  (applied) => {
    process.stdout.write(JSON.stringify(applied))
  },
  (error: unknown) => {
    process.stderr.write(String(error))
    process.exitCode = 1
  }
)
