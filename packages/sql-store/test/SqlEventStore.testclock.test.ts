/**
 * The store's own waits (for older PostgreSQL transactions before reading
 * the feed, for a fresh pooled connection) are bounded by real time, so a
 * test running under the TestClock never hangs on them, even while another
 * session holds a transaction open.
 */
import { EventStore, Position } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as Postgres from "./support/postgres.js"

describe.skipIf(!Postgres.available)("SqlEventStore under the TestClock (PostgreSQL)", () => {
  it.effect(
    "head and readAll return while another session's transaction stays open",
    () =>
      Effect.gen(function* () {
        // any schema: an open transaction holds back every session's snapshot
        const other = yield* Postgres.raw(yield* Postgres.schema)
        yield* Effect.gen(function* () {
          const store = yield* EventStore.EventStore
          const stream = EventStoreConformance.uniqueStream("Clock")
          // another session takes a transaction id and keeps it open; an append
          // then commits under a younger one, which readers must wait for
          yield* Effect.promise(() => other.query("BEGIN"))
          yield* Effect.promise(() => other.query("SELECT pg_current_xact_id()"))
          yield* store.append(stream, [EventStoreConformance.eventData("Before")])
          const head = yield* store.head
          const all = yield* Stream.runCollect(store.readAll({ categories: [stream.split("-")[0] ?? ""] }))
          // the append is hidden by the older open transaction: readers skip it, gap-safe
          expect(Chunk.size(all)).toBe(0)
          expect(head).toEqual(Position.start)
          yield* Effect.promise(() => other.query("ROLLBACK"))
          const after = yield* Stream.runCollect(store.readAll({ categories: [stream.split("-")[0] ?? ""] }))
          expect(Chunk.size(after)).toBe(1)
        }).pipe(Effect.provide(Postgres.storeLayer({ store: { settleTimeout: "300 millis" } })))
      }).pipe(Effect.scoped),
    30_000
  )
})
