/**
 * `@effect/sql-pg` and `@effect/sql-sqlite-node` are optional peers of the
 * SQL store: an app installs only the driver it uses. The store finds a
 * `PgClient` through its own tag, with the same key as `@effect/sql-pg`'s,
 * and imports neither driver at run time (only types, which are erased).
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import * as SqlPg from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Option } from "effect"
import { PgClient } from "../src/internal/pgClient.js"

const src = join(import.meta.dirname, "..", "src")

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : []
  })

// `import x from`, `import { x } from`, `export { x } from` and `import "..."`
// at the start of a line (JSDoc examples are indented behind ` * `), unless
// `import type` / `export type`.
const valueImport =
  /^(?:import|export)(?!\s+type\b)(?:[^"'`]*?\bfrom\s*|\s*)["'](@effect\/sql-(?:pg|sqlite-node)[^"']*)["']/gm

describe("PgClient", () => {
  it("has the key of @effect/sql-pg's PgClient tag", () => {
    expect(PgClient.key).toBe(SqlPg.PgClient.key)
    expect(PgClient.key).toBe("@effect/sql-pg/PgClient")
  })

  it.effect("finds what is provided under @effect/sql-pg's key, and nothing otherwise", () =>
    Effect.gen(function* () {
      // A context is a map from tag keys to services: `PgClient.layer` puts its
      // client under `SqlPg.PgClient.key`. Only identity matters here.
      const client = { marker: "the provided client" }
      const provided = Context.unsafeMake(new Map([[SqlPg.PgClient.key, client]]))
      const found = yield* Effect.serviceOption(PgClient).pipe(Effect.provide(provided))
      expect(Option.getOrUndefined(found)).toBe(client)
      const missing = yield* Effect.serviceOption(PgClient)
      expect(Option.isNone(missing)).toBe(true)
    })
  )

  it("the store's sources import no SQL driver at run time", () => {
    const offenders = walk(src).flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(valueImport)].map((m) => `${relative(src, file)}: ${m[1]}`)
    )
    expect(offenders).toEqual([])
  })

  it("the import check catches a value import of a driver", () => {
    const sample = [
      'import type { PgClient } from "@effect/sql-pg/PgClient"',
      ' * import { SqliteClient } from "@effect/sql-sqlite-node"',
      'import { PgClient } from "@effect/sql-pg"',
      'import {\n  SqliteClient\n} from "@effect/sql-sqlite-node"',
      'export { PgMigrator } from "@effect/sql-pg"'
    ].join("\n")
    expect([...sample.matchAll(valueImport)].map((m) => m[1])).toEqual([
      "@effect/sql-pg",
      "@effect/sql-sqlite-node",
      "@effect/sql-pg"
    ])
  })
})
