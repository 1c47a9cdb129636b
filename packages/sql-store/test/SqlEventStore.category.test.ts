/**
 * Issue 12, W7: a catch-up filtered on a category reads that category's
 * events, not the whole log. The feed's statements are captured as they
 * run and explained (`EXPLAIN ANALYZE`): the rows PostgreSQL examines
 * (returned by scans plus removed by their filters) stay proportional to
 * the category's events when it holds 1% of the log. On SQLite, the same
 * statement is planned as a search of the category index.
 */
import { EventStore, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import * as Statement from "@effect/sql/Statement"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"
import { SqlEventStore } from "../src/index.js"
import * as Postgres from "./support/postgres.js"

const { eventData, uniqueCategory } = EventStoreConformance

interface PlanNode {
  readonly "Node Type"?: string
  readonly "Actual Rows"?: number
  readonly "Actual Loops"?: number
  readonly "Rows Removed by Filter"?: number
  readonly "Rows Removed by Index Recheck"?: number
  readonly Plans?: ReadonlyArray<PlanNode>
}

/** Rows the scans of a plan looked at: returned, or read and thrown away. */
const examined = (node: PlanNode): number => {
  const own = (node["Node Type"] ?? "").includes("Scan")
    ? ((node["Actual Rows"] ?? 0) +
        (node["Rows Removed by Filter"] ?? 0) +
        (node["Rows Removed by Index Recheck"] ?? 0)) *
      (node["Actual Loops"] ?? 1)
    : 0
  return own + (node.Plans ?? []).reduce((sum, child) => sum + examined(child), 0)
}

const ExplainRows = Schema.Array(Schema.Struct({ "QUERY PLAN": Schema.Unknown }))

/** Seeds `others` events in other categories and `mine` in `category`, then analyzes the table. */
const seed = (store: EventStore.EventStore["Type"], category: string, mine: number, others: number) =>
  Effect.gen(function* () {
    const noise = uniqueCategory("Noise")
    for (let i = 0; i < others / 100; i++) {
      yield* store.append(
        StreamId.forAggregate(noise, String(i)),
        Array.from({ length: 100 }, () => eventData("Noise"))
      )
      if (i % 9 === 0) yield* store.append(StreamId.forAggregate(category, String(i)), [eventData("Mine")])
    }
    const written = Math.ceil(others / 100 / 9)
    for (let i = written; i < mine; i++) {
      yield* store.append(StreamId.forAggregate(category, String(i)), [eventData("Mine")])
    }
  })

describe.skipIf(!Postgres.available)("SqlEventStore category filter (PostgreSQL)", () => {
  it.live(
    "a catch-up on a category holding 1% of the log examines rows in proportion to its own events",
    () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const category = uniqueCategory("Rare")
        const mine = 100
        yield* seed(store, category, mine, 9_900)
        yield* sql`ANALYZE chronicle_events`

        const statements: Array<readonly [string, ReadonlyArray<unknown>]> = []
        const capture: Statement.Statement.Transformer = (self) =>
          Effect.sync(() => {
            const compiled = self.compile()
            // the feed's reads (readAll/subscribe), whatever their filter
            if (compiled[0].includes("(transaction_id, position) >")) statements.push(compiled)
            return self
          })
        const read = yield* store
          .readAll({ categories: [category], batchSize: 30 })
          .pipe(Stream.runCollect, Statement.withTransformer(capture))
        expect(Chunk.size(read)).toBe(mine)
        expect(Chunk.toReadonlyArray(read).every((e) => e.streamId.startsWith(`${category}-`))).toBe(true)
        // 100 events in batches of 30: 4 reads
        expect(statements.length).toBe(4)

        let total = 0
        for (const [text, params] of statements) {
          const rows = yield* sql
            .unsafe(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params)
            .pipe(Effect.flatMap(Schema.decodeUnknown(ExplainRows)), Statement.withTransformerDisabled)
          const plan = rows[0]?.["QUERY PLAN"]
          const root = Array.isArray(plan) ? (plan[0] as { readonly Plan: PlanNode }).Plan : undefined
          expect(root).toBeDefined()
          if (root !== undefined) total += examined(root)
        }
        // Without the index, every read scanned the ~10,000 rows after its position.
        expect(total).toBeGreaterThanOrEqual(mine)
        expect(total).toBeLessThan(mine * 3)
      }).pipe(Effect.provide(Postgres.storeLayer())),
    120_000
  )
})

describe("SqlEventStore category filter (SQLite)", () => {
  it.effect("the filtered feed searches the category index", () =>
    Effect.gen(function* () {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      const category = uniqueCategory("Rare")
      yield* seed(store, category, 10, 900)
      const statements: Array<readonly [string, ReadonlyArray<unknown>]> = []
      const capture: Statement.Statement.Transformer = (self) =>
        Effect.sync(() => {
          const compiled = self.compile()
          if (compiled[0].includes("WHERE position >")) statements.push(compiled)
          return self
        })
      const read = yield* store
        .readAll({ categories: [category] })
        .pipe(Stream.runCollect, Statement.withTransformer(capture))
      expect(Chunk.size(read)).toBe(10)
      const [text, params] = statements[0] ?? ["", []]
      const plan = yield* sql
        .unsafe<{ readonly detail: string }>(`EXPLAIN QUERY PLAN ${text}`, params)
        .pipe(Statement.withTransformerDisabled)
      expect(plan.map((row) => row.detail).join("\n")).toContain("USING INDEX chronicle_events_category")
    }).pipe(
      Effect.provide(SqlEventStore.layer().pipe(Layer.provideMerge(SqliteClient.layer({ filename: ":memory:" }))))
    )
  )
})
