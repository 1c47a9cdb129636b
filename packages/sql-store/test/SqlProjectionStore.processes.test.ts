/**
 * Issue 5: one instance of a projection at a time, across real OS
 * processes, on PostgreSQL. Two child processes run the same projection on
 * one schema; the first holds the lease and does all the work until it is
 * killed (SIGKILL, mid-batch); the second takes over once the lease expires
 * and finishes, every event applied exactly once.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { EventStore, Repository } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, type Duration, Effect, Layer, Schedule, Schema, Stream } from "effect"
import { SqlEventStore, SqlProjectionStore } from "../src/index.js"
import * as Postgres from "./support/postgres.js"
import { Deposit, Open, Wallet } from "./support/Wallet.js"

const script = fileURLToPath(new URL("./support/projection-worker.ts", import.meta.url))

interface Worker {
  readonly child: ChildProcess
  readonly output: () => string
}

/** A worker process, killed when the scope closes (also if the test fails). */
const worker = (url: string, owner: string) =>
  Effect.acquireRelease(
    Effect.sync((): Worker => {
      const child = spawn(process.execPath, ["--import", "tsx", script, url, owner], {
        stdio: ["pipe", "pipe", "pipe"]
      })
      let output = ""
      child.stdout?.on("data", (chunk) => {
        output += String(chunk)
      })
      child.stderr?.on("data", (chunk) => {
        output += String(chunk)
      })
      return { child, output: () => output }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

const started = (w: Worker) =>
  Effect.suspend(() => (w.output().includes("started") ? Effect.void : Effect.fail(w.output()))).pipe(
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("30 seconds")))
  )

const Rows = Schema.Array(Schema.Struct({ event_id: Schema.String, processed_by: Schema.String }))

/** The applied rows in the order they were committed. */
const rows = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* Effect.flatMap(
    sql`SELECT event_id, processed_by FROM shared_applied ORDER BY seq`,
    Schema.decodeUnknown(Rows)
  )
})

const waitForRows = (atLeast: number, timeout: Duration.DurationInput) =>
  rows.pipe(
    Effect.repeat({ schedule: Schedule.spaced("25 millis"), until: (r) => r.length >= atLeast }),
    Effect.timeout(timeout),
    Effect.zipRight(rows)
  )

const seed = (wallets: number, deposits: number, prefix: string) =>
  Effect.gen(function* () {
    const repo = yield* Repository.make(Wallet)
    for (let w = 0; w < wallets; w++) {
      yield* repo.execute(`${prefix}${w}`, new Open({ owner: "bob" }))
      for (let i = 1; i <= deposits; i++)
        yield* repo.execute(`${prefix}${w}`, new Deposit({ amount: i, currency: "EUR" }))
    }
  })

describe.skipIf(!Postgres.available)("Projections across two OS processes (PostgreSQL)", () => {
  it.live(
    "only one process works at a time; after SIGKILL the other takes over and every event lands once",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const url = Postgres.urlFor(schema)
        const stores = Layer.mergeAll(SqlEventStore.layer(), SqlProjectionStore.layer()).pipe(
          Layer.provideMerge(Postgres.layerOn(schema, { maxConnections: 4 }))
        )
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABLE shared_applied (
            seq bigint GENERATED ALWAYS AS IDENTITY, event_id text NOT NULL, stream_id text NOT NULL,
            amount integer NOT NULL, processed_by text NOT NULL)`
          yield* seed(2, 15, "a")

          const first = yield* worker(url, "first")
          yield* started(first)
          yield* waitForRows(3, "20 seconds")
          const second = yield* worker(url, "second")
          yield* started(second)

          // Both run now; more work arrives while the first holds the lease.
          yield* seed(2, 14, "b")
          yield* waitForRows(32 + 5, "20 seconds")
          first.child.kill("SIGKILL")
          const atKill = yield* rows
          expect(new Set(atKill.map((r) => r.processed_by))).toEqual(new Set(["first"]))
          expect(atKill.length).toBeLessThan(62)

          const final = yield* waitForRows(62, "30 seconds")
          const store = yield* EventStore.EventStore
          const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ categories: ["Wallet"] })))
          expect(all).toHaveLength(62)
          // exactly once
          expect(final.map((r) => r.event_id).sort()).toEqual(all.map((e) => e.eventId).sort())
          // one owner at a time: all of the first's rows, then only the second's
          const owners = final.map((r) => r.processed_by)
          const switchAt = owners.indexOf("second")
          expect(switchAt).toBeGreaterThanOrEqual(atKill.length)
          expect(owners.slice(0, switchAt).every((o) => o === "first")).toBe(true)
          expect(owners.slice(switchAt).every((o) => o === "second")).toBe(true)
          expect(second.child.exitCode).toBeNull()
        }).pipe(Effect.provide(stores))
      }).pipe(Effect.scoped),
    90_000
  )
})
