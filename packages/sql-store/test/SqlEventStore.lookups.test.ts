/**
 * PostgreSQL: the append function's lookups of event ids stay index probes.
 *
 * PL/pgSQL keeps a statement's plan for the life of the connection. The
 * lookups of migration 5 (`event_id = ANY (ids)`), planned on a connection
 * while the events table was new, were sequential scans, and stayed so as the
 * table grew (until an ANALYZE re-planned them). Migration 7 looks each id up
 * by equality on the unique column. This test makes the lookups on one
 * connection of a fresh store, then counts the scans of the events table in
 * the transaction of one more: a sequential scan fails it.
 */
import { EventStore, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Postgres from "./support/postgres.js"

const { eventData, uniqueCategory } = EventStoreConformance

describe.skipIf(!Postgres.available)("the append function's lookups of event ids (PostgreSQL)", () => {
  layer(Postgres.storeLayer({ maxConnections: 1, applicationName: "chronicle-lookups-test" }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })((it) => {
    it.effect(
      "an append inside a caller's transaction looks its ids up by index, on a connection that has made many",
      () =>
        Effect.gen(function* () {
          const store = yield* EventStore.EventStore
          const sql = yield* SqlClient.SqlClient
          const category = uniqueCategory("Lookup")
          // Inside a caller's transaction, the append function looks the event ids up first.
          const appendInTransaction = (i: number) =>
            sql.withTransaction(store.append(StreamId.forAggregate(category, `s${i}`), [eventData("Noted")]))
          // More calls than PL/pgSQL makes custom plans for (5) before it may keep a generic one.
          for (let i = 0; i < 12; i++) yield* appendInTransaction(i)
          // The scans of the events table this backend has counted and not yet reported (PostgreSQL
          // reports them at most once a second), before and after one more append.
          const counted = sql<{ readonly seqScans: string; readonly indexScans: string }>`
          SELECT seq_scan::text AS "seqScans", coalesce(idx_scan, 0)::text AS "indexScans"
          FROM pg_stat_xact_user_tables WHERE schemaname = current_schema() AND relname = 'chronicle_events'`
          const scans = yield* sql.withTransaction(
            Effect.gen(function* () {
              const [before] = yield* counted
              yield* store.append(StreamId.forAggregate(category, "last"), [eventData("Noted")])
              const [after] = yield* counted
              return {
                sequential: Number(after?.seqScans) - Number(before?.seqScans ?? 0),
                index: Number(after?.indexScans) - Number(before?.indexScans ?? 0)
              }
            })
          )
          expect(scans.sequential).toBe(0)
          expect(scans.index).toBeGreaterThan(0)
        })
    )
  })
})
