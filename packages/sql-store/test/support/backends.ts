/**
 * The SQL backends every SQL-side test of snapshots and projections runs on:
 * SQLite in memory, SQLite in a file, and PostgreSQL on a fresh schema. Each
 * build of a backend's layer is a fresh database (or schema).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import * as Postgres from "./postgres.js"

export interface Backend {
  readonly name: string
  readonly dialect: "pg" | "sqlite"
  readonly skip: boolean
  /** A fresh database per build. */
  readonly sql: Layer.Layer<SqlClient.SqlClient>
}

const dir = mkdtempSync(join(tmpdir(), "chronicle-sql-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A fresh SQLite file per build. */
export const sqliteFile: Layer.Layer<SqlClient.SqlClient> = Layer.unwrapEffect(
  Effect.sync(() => SqliteClient.layer({ filename: join(dir, `${crypto.randomUUID()}.db`) }))
).pipe(Layer.orDie)

export const freshFile = (): string => join(dir, `${crypto.randomUUID()}.db`)

export const backends: ReadonlyArray<Backend> = [
  {
    name: "SQLite :memory:",
    dialect: "sqlite",
    skip: false,
    sql: Layer.orDie(SqliteClient.layer({ filename: ":memory:" }))
  },
  { name: "SQLite file", dialect: "sqlite", skip: false, sql: sqliteFile },
  { name: "PostgreSQL", dialect: "pg", skip: !Postgres.available, sql: Postgres.layer({ maxConnections: 10 }) }
]
