/**
 * PostgreSQL for tests.
 *
 * - `available`: whether `DATABASE_URL` (default
 *   `postgres://postgres@127.0.0.1:5432/test`) answers. When it does not, PG
 *   suites are skipped with a notice, unless `CI` is set: then importing this
 *   module fails the test file, so CI can never pass without PostgreSQL.
 * - `layer`: a `PgClient` on a fresh schema of its own (through `search_path`),
 *   dropped when the layer is released, so test files run in parallel.
 * - `raw`: a plain `pg` client on the same schema, for holding transactions
 *   and writing rows behind the store's back.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted } from "effect"
import pg from "pg"
import { SqlEventStore } from "../../src/index.js"

export const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const reachable = async (): Promise<boolean> => {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

export const available = await reachable()

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

const adminQuery = async (text: string): Promise<void> => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

/** A fresh schema, dropped when the scope closes. */
export const schema = Effect.acquireRelease(
  Effect.promise(async () => {
    const name = `chronicle_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`
    await adminQuery(`CREATE SCHEMA "${name}"`)
    return name
  }),
  (name) => Effect.promise(() => adminQuery(`DROP SCHEMA IF EXISTS "${name}" CASCADE`))
)

export interface LayerOptions {
  readonly maxConnections?: number
  readonly applicationName?: string
}

/** A `PgClient` (and `SqlClient`) on a fresh schema. */
export const layerOn = (name: string, options?: LayerOptions) =>
  PgClient.layer({
    url: Redacted.make(urlFor(name)),
    maxConnections: options?.maxConnections ?? 20,
    applicationName: options?.applicationName ?? "chronicle-sql-store-test"
  })

/** A `PgClient` (and `SqlClient`) on a fresh schema of its own. */
export const layer = (options?: LayerOptions) =>
  Layer.unwrapScoped(Effect.map(schema, (name) => layerOn(name, options))).pipe(Layer.orDie)

/** A raw `pg` client on `schema`, closed when the scope closes. */
export const raw = (name: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: urlFor(name) })
      client.on("error", () => undefined)
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

/**
 * Terminates every backend of `applicationName` (a test store's pool and
 * LISTEN connections), through `admin`; returns how many.
 */
export const terminateBackends = async (admin: pg.Client, applicationName: string): Promise<number> => {
  const result = await admin.query<{ n: number }>(
    "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1",
    [applicationName]
  )
  return result.rows[0]?.n ?? 0
}

/** The schema a test store lives in (for raw clients). */
export class TestSchema extends Context.Tag("chronicle/test/TestSchema")<TestSchema, string>() {}

/**
 * An `EventStore` plus its `PgClient`/`SqlClient` and `TestSchema`, on a
 * fresh schema of its own.
 */
export const storeLayer = (options?: LayerOptions & { readonly store?: SqlEventStore.Options }) =>
  Layer.unwrapScoped(
    Effect.map(schema, (name) =>
      SqlEventStore.layer(options?.store).pipe(
        Layer.provideMerge(layerOn(name, options)),
        Layer.merge(Layer.succeed(TestSchema, name))
      )
    )
  ).pipe(Layer.orDie)
