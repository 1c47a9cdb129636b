/**
 * Issue 9: one layer for the three SQL stores, with one table prefix and one
 * migration run, on SQLite and PostgreSQL.
 */
import {
  EventStore,
  InlineProjection,
  Position,
  Projection,
  ProjectionStore,
  SnapshotStore,
  StreamId
} from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"
import { SqlStores } from "../src/index.js"
import { backends } from "./support/backends.js"

const { eventData } = EventStoreConformance

const tablesLike = (prefix: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql.onDialectOrElse({
      pg: () =>
        sql<{
          readonly name: string
        }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`,
      orElse: () => sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`
    })
    return rows
      .map((r) => r.name)
      .filter((name) => name.startsWith(prefix))
      .sort()
  })

class Noted extends Schema.TaggedClass<Noted>()("Noted", { n: Schema.Number }) {}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`SqlStores (${backend.name})`, () => {
    it.effect("provides the three stores on one prefix, migrated once when the layer builds", () =>
      Effect.gen(function* () {
        const stream = StreamId.forAggregate("Note", "1")
        yield* Effect.gen(function* () {
          const events = yield* EventStore.EventStore
          const snapshots = yield* SnapshotStore.SnapshotStore
          const projections = yield* ProjectionStore.ProjectionStore
          const appended = yield* events.append(stream, [eventData("Noted", { n: 1 })])
          const snapshot: SnapshotStore.Snapshot = {
            streamId: stream,
            version: 1,
            stateVersion: 1,
            state: { n: 1 },
            position: appended.positions[0] ?? Position.start,
            recordedAt: yield* DateTime.now
          }
          yield* snapshots.save(snapshot)
          expect(Option.map(yield* snapshots.load(stream), (s) => s.version)).toEqual(Option.some(1))
          yield* projections.register({ name: "notes", version: 1 }, {})
          expect((yield* projections.list).map((r) => r.name)).toEqual(["notes"])
          const tables = yield* tablesLike("shared_")
          expect(tables).toEqual(
            expect.arrayContaining([
              "shared_events",
              "shared_streams",
              "shared_snapshots",
              "shared_projections",
              "shared_projection_parked",
              "shared_migrations"
            ])
          )
          // nothing under the default prefix: every store used the one given
          expect(yield* tablesLike("chronicle_")).toEqual([])
        }).pipe(Effect.provide(SqlStores.layer({ tablePrefix: "shared_" })))
      }).pipe(Effect.provide(backend.sql))
    )

    it.effect("migrate: false runs no migration for any of the stores", () =>
      Effect.gen(function* () {
        yield* Effect.scoped(Layer.build(SqlStores.layer({ tablePrefix: "bare_", migrate: false })))
        expect(yield* tablesLike("bare_")).toEqual([])
      }).pipe(Effect.provide(backend.sql))
    )

    it.effect("an invalid prefix fails the layer as misconfigured", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(SqlStores.layer({ tablePrefix: "Bad-Prefix" }))))
        expect(error).toMatchObject({ _tag: "StoreError", reason: "misconfigured", retryable: false })
      }).pipe(Effect.provide(backend.sql))
    )

    it.effect("layerConfig reads the prefix from Config and takes the inline projections apart", () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make(0)
        const Counted = Projection.make({
          name: "counted",
          events: Noted,
          handle: () => Ref.update(seen, (n) => n + 1)
        })
        const stores = SqlStores.layerConfig(
          { tablePrefix: Config.string("PREFIX") },
          { onAppend: InlineProjection.hook([Counted]) }
        )
        yield* Effect.gen(function* () {
          const events = yield* EventStore.EventStore
          yield* events.append(StreamId.forAggregate("Note", "2"), [eventData("Noted", { n: 2 })])
          expect(yield* Ref.get(seen)).toBe(1)
          expect(yield* tablesLike("configured_")).toContain("configured_events")
        }).pipe(
          Effect.provide(stores),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["PREFIX", "configured_"]])))
        )
      }).pipe(Effect.provide(backend.sql))
    )
  })
}
