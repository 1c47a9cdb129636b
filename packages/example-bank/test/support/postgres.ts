/**
 * PostgreSQL for the bank's tests (a minimal copy of the pattern in
 * `packages/sql-store/test/support`; test folders never import each other).
 *
 * - `available`: whether `DATABASE_URL` (default
 *   `postgres://postgres@127.0.0.1:5432/test`) answers. When it does not, the
 *   PostgreSQL suites are skipped with a notice, unless `CI` is set: then
 *   importing this module fails the test file.
 * - `freshSchema`: a schema of its own (dropped when the scope closes) and a
 *   connection URL whose sessions use it, so test files run in parallel.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"

export const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const admin = (statement: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(statement)
  }).pipe(
    Effect.scoped,
    Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })),
    Effect.timeout("5 seconds")
  )

export const available = await Effect.runPromise(
  admin("SELECT 1").pipe(
    Effect.as(true),
    Effect.catchAllCause(() => Effect.succeed(false))
  )
)

if (!available) {
  if (process.env.CI) {
    throw new Error(`PostgreSQL at ${databaseUrl} is unreachable, and CI is set: PostgreSQL tests must run on CI`)
  }
  console.warn(`NOTICE: PostgreSQL at ${databaseUrl} is unreachable; skipping the PostgreSQL suites (set CI to fail).`)
}

/** A connection string whose sessions use `schema`. */
export const urlFor = (schema: string): string => {
  const url = new URL(databaseUrl)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return url.toString()
}

/** A fresh schema, dropped when the scope closes; yields the URL of a connection that uses it. */
export const freshSchema = Effect.acquireRelease(
  Effect.gen(function* () {
    const name = `chronicle_bank_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`
    yield* admin(`CREATE SCHEMA "${name}"`)
    return name
  }),
  (name) => Effect.orDie(admin(`DROP SCHEMA IF EXISTS "${name}" CASCADE`))
).pipe(
  Effect.orDie,
  Effect.map((name) => Redacted.make(urlFor(name)))
)
