/**
 * Where the bank keeps its events: the one place that chooses the store.
 *
 * - `DATABASE_URL` set: PostgreSQL at that URL;
 * - otherwise a SQLite file: `BANK_DB` if set, else `.chronicle/bank.db`
 *   under the directory the command was run from (`INIT_CWD`, set by pnpm,
 *   or the current directory). The folder is created on first use;
 * - `BANK_DB=:memory:` keeps everything in memory for one run.
 *
 * Each store comes with a snapshot store and a projection store over the
 * same `SqlClient` (the SQL ones keep snapshots, checkpoints and leases in
 * tables next to the events), so that a short-lived CLI process reads an
 * account from its newest snapshot rather than from its first event, and a
 * projection's read-model writes commit with its checkpoint in one
 * transaction. In memory, the same stores run on an in-memory SQLite
 * database, so the SQL read models work there too.
 *
 * @since 0.1.0
 */

import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import type { EventStore, ProjectionStore, SnapshotStore } from "@chronicle/core"
import { SqlStores } from "@chronicle/sql-store"
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Config, Effect, Layer, Option, Redacted, Schema } from "effect"

/**
 * The store the bank will use, read from the environment.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const choice: BankStore.StoreChoice = { _tag: "Sqlite", filename: "/tmp/bank.db" }
 * ```
 * @since 0.1.0
 * @category models
 */
export type StoreChoice =
  | {
      readonly _tag: "Postgres"
      readonly url: Redacted.Redacted<string>
      /**
       * The most connections the pool opens (default
       * {@link defaultPostgresConnections}). Each command holds one while its
       * append runs; a server with more requests in flight than connections
       * queues the rest for one.
       */
      readonly maxConnections?: number | undefined
    }
  | { readonly _tag: "Sqlite"; readonly filename: string }
  | { readonly _tag: "Memory" }

/**
 * The PostgreSQL pool's size when a store choice names none.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const pool = BankStore.defaultPostgresConnections // 4
 * ```
 * @since 0.7.0
 * @category constants
 */
export const defaultPostgresConnections = 4

/**
 * The default SQLite file, relative to the directory the bank runs from.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const onDisk = BankStore.layer({ _tag: "Sqlite", filename: BankStore.defaultSqliteFile }) // ".chronicle/bank.db"
 * ```
 * @since 0.1.0
 * @category constants
 */
export const defaultSqliteFile = ".chronicle/bank.db"

/**
 * Reads the store choice from the environment (`DATABASE_URL`, `BANK_DB`,
 * `INIT_CWD`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const describe = BankStore.choose.pipe(Effect.map(BankStore.describe))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const choose: Effect.Effect<StoreChoice, BankStoreError> = Effect.gen(function* () {
  const databaseUrl = yield* Config.option(Config.redacted("DATABASE_URL"))
  const bankDb = yield* Config.option(Config.nonEmptyString("BANK_DB"))
  const initCwd = yield* Config.option(Config.nonEmptyString("INIT_CWD"))
  if (Option.isSome(databaseUrl) && Redacted.value(databaseUrl.value).length > 0) {
    return { _tag: "Postgres", url: databaseUrl.value } as const
  }
  const base = Option.getOrElse(initCwd, () => process.cwd())
  if (Option.isSome(bankDb)) {
    return bankDb.value === ":memory:"
      ? ({ _tag: "Memory" } as const)
      : ({ _tag: "Sqlite", filename: NodePath.resolve(base, bankDb.value) } as const)
  }
  return { _tag: "Sqlite", filename: NodePath.resolve(base, defaultSqliteFile) } as const
}).pipe(Effect.mapError((error) => new BankStoreError({ reason: `invalid configuration: ${error.message}` })))

/**
 * Describes a store for humans, without secrets: the password in a
 * PostgreSQL URL is hidden.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * BankStore.describe({ _tag: "Sqlite", filename: "/tmp/bank.db" }) // "SQLite file /tmp/bank.db"
 * ```
 * @since 0.1.0
 * @category rendering
 */
export const describe = (choice: StoreChoice): string => {
  switch (choice._tag) {
    case "Postgres":
      return `PostgreSQL ${hidePassword(Redacted.value(choice.url))}`
    case "Sqlite":
      return `SQLite file ${choice.filename}`
    case "Memory":
      return "in memory (nothing is kept after this run)"
  }
}

const hidePassword = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(unparseable DATABASE_URL)"
  }
}

/**
 * The store could not be configured or opened.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * new BankStore.BankStoreError({ reason: "cannot create /readonly/.chronicle" }).message
 * ```
 * @since 0.1.0
 * @category errors
 */
export class BankStoreError extends Schema.TaggedError<BankStoreError>()("BankStoreError", {
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot open the bank's store: ${this.reason}`
  }
}

/**
 * The services a store choice provides: the event store, a snapshot store
 * and a projection store of the same kind, and the `SqlClient` they share
 * (which the read models write through).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { Bank, BankStore } from "@chronicle/example-bank"
 *
 * const stores: Layer.Layer<BankStore.Stores, BankStore.BankStoreError> = BankStore.layer({ _tag: "Memory" })
 * const program = Bank.open("alice", { owner: "Alice", overdraftLimit: 0 }).pipe(
 *   Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(stores)))
 * )
 * ```
 * @since 0.2.0
 * @category models
 */
export type Stores =
  | EventStore.EventStore
  | SnapshotStore.SnapshotStore
  | ProjectionStore.ProjectionStore
  | SqlClient.SqlClient

/**
 * The SQL stores over one client, which they also expose: one table prefix,
 * one migration run (events, snapshots, projections, …) when they build.
 */
const sqlStores = <E>(client: Layer.Layer<SqlClient.SqlClient, E>) => SqlStores.layer().pipe(Layer.provideMerge(client))

/**
 * The `EventStore`, `SnapshotStore`, `ProjectionStore` and `SqlClient` layer
 * for a store choice. The stores run their migrations when the layer builds,
 * so tables exist on first use; the SQLite file's folder is created if
 * needed. `Memory` is SQLite in memory: gone when the layer is released.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore } from "@chronicle/core"
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const head = EventStore.EventStore.pipe(
 *   Effect.flatMap((store) => store.head),
 *   Effect.provide(BankStore.layer({ _tag: "Memory" }))
 * )
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (choice: StoreChoice): Layer.Layer<Stores, BankStoreError> => {
  const opening = ((): Layer.Layer<Stores, unknown> => {
    switch (choice._tag) {
      case "Postgres":
        return Layer.unwrapEffect(
          Effect.as(
            Effect.zipRight(checkPostgresUrl(choice.url), checkConnections(choice.maxConnections)),
            sqlStores(
              PgClient.layer({ url: choice.url, maxConnections: choice.maxConnections ?? defaultPostgresConnections })
            )
          )
        )
      case "Sqlite":
        return Layer.unwrapEffect(
          Effect.as(checkSqliteFile(choice.filename), sqlStores(SqliteClient.layer({ filename: choice.filename })))
        )
      case "Memory":
        return sqlStores(SqliteClient.layer({ filename: ":memory:" }))
    }
  })()
  // Every failure while opening, typed or not (a driver that throws, a
  // migration that fails), becomes one BankStoreError naming its cause.
  return opening.pipe(
    Layer.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && failure.value instanceof BankStoreError) return Layer.fail(failure.value)
      return Layer.fail(
        new BankStoreError({ reason: `${describe(choice)}: ${explainCause(Cause.squash(cause), choice._tag)}` })
      )
    })
  )
}

const checkConnections = (maxConnections: number | undefined): Effect.Effect<void, BankStoreError> =>
  maxConnections === undefined || (Number.isSafeInteger(maxConnections) && maxConnections >= 1)
    ? Effect.void
    : Effect.fail(new BankStoreError({ reason: `maxConnections must be a positive integer, got ${maxConnections}` }))

const checkPostgresUrl = (url: Redacted.Redacted<string>): Effect.Effect<void, BankStoreError> =>
  Effect.suspend(() => {
    let protocol: string | undefined
    try {
      protocol = new URL(Redacted.value(url)).protocol
    } catch {
      protocol = undefined
    }
    return protocol === "postgres:" || protocol === "postgresql:"
      ? Effect.void
      : Effect.fail(
          new BankStoreError({
            reason: "DATABASE_URL is not a PostgreSQL URL (postgres://user:password@host:5432/database)"
          })
        )
  })

/**
 * The SQLite file must be absent (it is created), empty, or a SQLite
 * database: a directory or another kind of file is refused before the
 * driver is asked to open it. Its folder is created if missing.
 */
const checkSqliteFile = (filename: string): Effect.Effect<void, BankStoreError> =>
  Effect.tryPromise({
    try: async (): Promise<string | undefined> => {
      const stat = await NodeFs.stat(filename).catch((error: unknown) => {
        if (typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT") return undefined
        throw error
      })
      if (stat === undefined) {
        await NodeFs.mkdir(NodePath.dirname(filename), { recursive: true })
        return undefined
      }
      if (stat.isDirectory()) return `${filename} is a directory, not a SQLite file (set BANK_DB to a file path)`
      if (!stat.isFile()) return `${filename} is not a regular file`
      if (stat.size === 0) return undefined
      const handle = await NodeFs.open(filename, "r")
      try {
        const header = Buffer.alloc(sqliteHeader.length)
        await handle.read(header, 0, header.length, 0)
        return header.equals(sqliteHeader) ? undefined : `${filename} is not a SQLite database`
      } finally {
        await handle.close()
      }
    },
    catch: (cause) => new BankStoreError({ reason: `cannot use ${filename}: ${explainCause(cause, "Sqlite")}` })
  }).pipe(
    Effect.flatMap((problem) =>
      problem === undefined ? Effect.void : Effect.fail(new BankStoreError({ reason: problem }))
    )
  )

/** The first 16 bytes of every SQLite database file. */
const sqliteHeader = Buffer.from("SQLite format 3\u0000", "latin1")

const messageOf = (error: unknown): string => {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map(messageOf))].join("; ")
  }
  if (error instanceof Error) return error.message
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

const codeOf = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  if ("code" in error && typeof error.code === "string") return error.code
  return error instanceof AggregateError ? codeOf(error.errors[0]) : undefined
}

/** What a network or PostgreSQL error code means, in a few words. */
const meanings: Record<string, string> = {
  ECONNREFUSED: "connection refused (is PostgreSQL running, and on that host and port?)",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "the host name could not be resolved",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ECONNRESET: "the connection was reset",
  "3D000": "the database does not exist",
  "28P01": "authentication failed",
  "28000": "authentication failed",
  "42501": "permission denied",
  SQLITE_CANTOPEN: "the file cannot be opened",
  SQLITE_NOTADB: "not a SQLite database",
  SQLITE_READONLY: "the file is read-only",
  SQLITE_BUSY: "the database is locked by another process",
  EACCES: "permission denied",
  EROFS: "read-only file system"
}

/**
 * One line that says why opening a store failed, from the error and its
 * causes: "PgClient: Failed to connect" alone does not tell a stopped server
 * from a missing database or a wrong password.
 *
 * @example
 * ```ts
 * import { BankStore } from "@chronicle/example-bank"
 *
 * const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5999"), { code: "ECONNREFUSED" })
 * BankStore.explainCause(new Error("PgClient: Failed to connect", { cause }), "Postgres")
 * // "connection refused (is PostgreSQL running, and on that host and port?): PgClient: Failed to connect: connect ECONNREFUSED 127.0.0.1:5999"
 * ```
 * @since 0.4.0
 * @category errors
 */
export const explainCause = (error: unknown, kind: StoreChoice["_tag"]): string => {
  const messages: Array<string> = []
  let meaning: string | undefined
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    const message = messageOf(current).replaceAll("\n", " ").trim()
    if (message !== "" && !messages.includes(message)) messages.push(message)
    const code = codeOf(current)
    if (code !== undefined && meanings[code] !== undefined) meaning = meanings[code]
    current = typeof current === "object" && "cause" in current ? current.cause : undefined
  }
  const detail =
    messages.length === 0 ? `unknown ${kind === "Postgres" ? "PostgreSQL" : "SQLite"} error` : messages.join(": ")
  return meaning === undefined ? detail : `${meaning}: ${detail}`
}
