import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Layer } from "effect"
import { afterAll } from "vitest"
import { SqlEventStore } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-sqlite-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

EventStoreConformance.suite(
  "SqlEventStore (SQLite :memory:)",
  SqlEventStore.layer().pipe(Layer.provide(SqliteClient.layer({ filename: ":memory:" })))
)

EventStoreConformance.suite(
  "SqlEventStore (SQLite file)",
  SqlEventStore.layer({ tablePrefix: "conf_" }).pipe(
    Layer.provide(SqliteClient.layer({ filename: join(dir, "conformance.db") }))
  )
)
