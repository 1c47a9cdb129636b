/**
 * A PostgreSQL database of its own, for tests of the workflow engine: its
 * shard locks are advisory locks, which are per database and not prefixed,
 * so two engines in one database would take each other's shards.
 */
import { Effect } from "effect"
import pg from "pg"
import { databaseUrl } from "./postgres.js"

const admin = async (text: string): Promise<void> => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

/** The URL of a database on the test server. */
export const urlOf = (name: string): string => {
  const url = new URL(databaseUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** A fresh database, dropped (its sessions ended) when the scope closes; its URL. */
export const fresh = Effect.acquireRelease(
  Effect.promise(async () => {
    const name = `chronicle_w_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`
    await admin(`CREATE DATABASE "${name}"`)
    return urlOf(name)
  }),
  (url) =>
    Effect.promise(() => admin(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`)).pipe(
      Effect.ignore
    )
)
