/**
 * A PostgreSQL database of its own for the saga tests (a copy of the helper
 * in `packages/sql-store/test/support`): the workflow engine's shard locks
 * are advisory locks, per database and not prefixed, so two engines in one
 * database would take each other's shards.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { databaseUrl } from "./postgres.js"

const admin = (statement: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(statement)
  }).pipe(Effect.scoped, Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })))

/** The URL of a database on the test server. */
export const urlOf = (name: string): string => {
  const url = new URL(databaseUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** A fresh database, dropped (its sessions ended) when the scope closes; its URL. */
export const fresh = Effect.acquireRelease(
  Effect.gen(function* () {
    const name = `chronicle_b_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`
    yield* admin(`CREATE DATABASE "${name}"`)
    return urlOf(name)
  }).pipe(Effect.orDie),
  (url) => admin(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`).pipe(Effect.ignore)
)
