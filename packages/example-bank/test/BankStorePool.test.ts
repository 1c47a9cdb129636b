/**
 * The PostgreSQL store's pool size (`StoreChoice.maxConnections`): the pool
 * opens at most that many connections (two queries at once share one with
 * 1, run on two with 2), and a size that is not a positive integer is a
 * `BankStoreError` when the store opens.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BankStore } from "../src/index.js"
import * as Postgres from "./support/postgres.js"

const store = (maxConnections: number | undefined) =>
  Layer.unwrapScoped(
    Effect.map(Postgres.freshSchema, (url) => BankStore.layer({ _tag: "Postgres", url, maxConnections }))
  )

/** The backend pids of two queries run at once (each holds its connection for 100 ms). */
const twoAtOnce = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const pid = sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.1)`.pipe(
    Effect.map((rows) => rows[0]?.pid)
  )
  return yield* Effect.all([pid, pid], { concurrency: 2 })
})

describe.skipIf(!Postgres.available)("BankStore on PostgreSQL: the pool size", () => {
  it.effect("with 1 connection, two queries at once run one after the other on it", () =>
    Effect.gen(function* () {
      const [first, second] = yield* twoAtOnce
      expect(first).toBeTypeOf("number")
      expect(second).toBe(first)
    }).pipe(Effect.provide(store(1)))
  )

  it.effect("with 2 connections, two queries at once run on two", () =>
    Effect.gen(function* () {
      const [first, second] = yield* twoAtOnce
      expect(first).toBeTypeOf("number")
      expect(second).toBeTypeOf("number")
      expect(second).not.toBe(first)
    }).pipe(Effect.provide(store(2)))
  )

  it.effect("a size that is not a positive integer does not open", () =>
    Effect.gen(function* () {
      for (const size of [0, -1, 1.5]) {
        const error = yield* Effect.flip(Effect.provide(twoAtOnce, store(size)))
        expect(error).toBeInstanceOf(BankStore.BankStoreError)
        expect(error.message).toContain(`maxConnections must be a positive integer, got ${size}`)
      }
    })
  )
})
