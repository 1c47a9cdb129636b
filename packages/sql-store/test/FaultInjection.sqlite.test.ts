/**
 * Fault injection on SQLite, with real OS processes (issue 8, test
 * hygiene): writers and a projector killed with SIGKILL mid-work, twice;
 * then every acknowledged command is stored exactly once, versions are
 * contiguous, and the read model equals a fresh rebuild.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { SqlEventStore, SqlMigrations, SqlProjectionStore } from "../src/index.js"
import * as Faults from "./support/faults.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-faults-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("Fault injection (SQLite, OS processes)", () => {
  it.live(
    "writers and a projector killed with SIGKILL mid-work: nothing acknowledged is lost or doubled",
    () => {
      const file = join(dir, "faults.db")
      const client = SqliteClient.layer({ filename: file })
      const stores = Layer.mergeAll(SqlEventStore.layer(), SqlProjectionStore.layer()).pipe(Layer.provideMerge(client))
      return Effect.gen(function* () {
        yield* SqlMigrations.run().pipe(Effect.provide(client))
        const { events, acknowledged } = yield* Faults.crashes("sqlite", file).pipe(Effect.provide(stores))
        expect(events).toBeGreaterThanOrEqual(acknowledged)
      }).pipe(Effect.scoped)
    },
    120_000
  )
})
