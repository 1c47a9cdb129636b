import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventStore, ExpectedVersion, FeedStatus, Position, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream } from "effect"
import { afterAll } from "vitest"
import { SqlEventStore } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-sqlite-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const { eventData, uniqueStream } = EventStoreConformance

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

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

describe("SqlEventStore on SQLite", () => {
  layer(
    SqlEventStore.layer({ pollInterval: "10 seconds" }).pipe(
      Layer.provideMerge(SqliteClient.layer({ filename: join(dir, "specific.db") }))
    ),
    { excludeTestServices: true }
  )((it) => {
    it.effect("the database refuses UPDATE and DELETE of events, and payloads that are not JSON", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const stream = uniqueStream("Immutable")
        yield* store.append(stream, [eventData("Fact", { amount: 1 })])
        const update = yield* Effect.flip(sql`UPDATE chronicle_events SET data = '{}' WHERE stream_id = ${stream}`)
        expect(String(update.cause)).toContain("events are immutable")
        const remove = yield* Effect.flip(sql`DELETE FROM chronicle_events`)
        expect(String(remove.cause)).toContain("events are immutable")
        const notJson = yield* Effect.flip(
          sql`INSERT INTO chronicle_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
            VALUES (${crypto.randomUUID()}, ${stream}, 2, 'X', 1, '{"broken":', '{}', '2020-01-01T00:00:00Z')`
        )
        expect(String(notJson.cause)).toContain("CHECK constraint failed")
        const [stored] = yield* collect(store.read(stream))
        expect(stored?.data).toEqual({ amount: 1 })
      })
    )

    it.effect("the database refuses INSERT OR REPLACE, REPLACE INTO and upserts that would rewrite an event", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const stream = uniqueStream("Replace")
        const fact = eventData("Fact", { amount: 1 })
        const [position] = (yield* store.append(stream, [fact])).positions
        const other = crypto.randomUUID()
        const columns = "(event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)"
        const metadata = '{"correlationId":"x","causationId":null,"user":{}}'
        const rewrites = [
          // the same event id
          `INSERT OR REPLACE INTO chronicle_events ${columns} VALUES ('${fact.eventId}', '${stream}', 1, 'Fact', 1, '{"amount":999}', '${metadata}', '2020-01-01T00:00:00Z')`,
          // the same stream version under another id
          `REPLACE INTO chronicle_events ${columns} VALUES ('${other}', '${stream}', 1, 'Fact', 1, '{"amount":999}', '${metadata}', '2020-01-01T00:00:00Z')`,
          // the same position under another id and stream
          `REPLACE INTO chronicle_events (position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at) VALUES (${position?.sequence}, '${other}', 'Other-1', 1, 'Fact', 1, '{"amount":999}', '${metadata}', '2020-01-01T00:00:00Z')`,
          `INSERT OR IGNORE INTO chronicle_events ${columns} VALUES ('${fact.eventId}', '${stream}', 1, 'Fact', 1, '{"amount":999}', '${metadata}', '2020-01-01T00:00:00Z')`,
          `INSERT INTO chronicle_events ${columns} VALUES ('${fact.eventId}', '${stream}', 1, 'Fact', 1, '{}', '${metadata}', '2020-01-01T00:00:00Z') ON CONFLICT DO UPDATE SET data = '{"amount":999}'`,
          `UPDATE OR REPLACE chronicle_events SET data = '{"amount":999}' WHERE event_id = '${fact.eventId}'`
        ]
        for (const statement of rewrites) {
          const refused = yield* Effect.flip(sql.unsafe(statement))
          expect(String(refused.cause)).toContain("events are immutable")
        }
        const [stored] = yield* collect(store.read(stream))
        expect(stored?.data).toEqual({ amount: 1 })
        expect(stored?.eventId).toBe(fact.eventId)
        expect(stored?.position).toEqual(position)
        expect(yield* collect(store.read(StreamId.forAggregate("Other", "1")))).toEqual([])
        // appends carry on
        expect((yield* store.append(stream, [eventData("Next")])).nextExpectedVersion).toBe(2)
      })
    )

    it.effect("the feed is never held back: every committed event is readable at once", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        yield* store.append(uniqueStream("Feed"), [eventData("E")])
        expect(yield* store.feedStatus).toEqual(FeedStatus.current)
      })
    )

    it.effect("positions count up from the AUTOINCREMENT key with commit 0", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const result = yield* store.append(uniqueStream(), [eventData("A"), eventData("B")])
        const [first, second] = result.positions
        expect(first?.commit).toBe(0n)
        expect(first !== undefined && second?.sequence === first.sequence + 1n).toBe(true)
        expect(Position.Order(yield* store.head, second ?? Position.start)).toBe(0)
      })
    )

    it.effect("a subscriber wakes on an append of this process without waiting for its poll interval", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const stream = uniqueStream("Wake")
        const fiber = yield* store
          .subscribe({ categories: [StreamId.category(stream)] })
          .pipe(Stream.take(1), Stream.runCollect, Effect.fork)
        yield* Effect.sleep("50 millis")
        yield* store.append(stream, [eventData("Now")], { expectedVersion: ExpectedVersion.NoStream })
        // The poll interval is 10 seconds: only the wake-up can deliver in time.
        const seen = yield* Fiber.join(fiber).pipe(Effect.timeout("5 seconds"))
        expect(Chunk.size(seen)).toBe(1)
      })
    )
  })
})
