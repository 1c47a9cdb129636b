/**
 * Issue 8, item 16: one corrupt row must not block the feed, and whatever
 * fails on it names the row. Rows are corrupted for real, with SQL behind
 * the store's back (inserts are allowed; on SQLite the JSON check is turned
 * off for the session to store text that is not JSON). Every backend:
 * `readAll` delivers the corrupt rows marked `corrupt` with the good ones
 * around them, every codec refuses them with an `EventDecodeError` naming
 * the row, a projection parks them (or stops on them) by its policy, and
 * `Repository.load` fails with that typed error.
 */
import { EventStore, Position, ProjectionAdmin, Repository, StreamId } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Schedule, Stream } from "effect"
import { SqlEventStore, SqlProjectionStore } from "../src/index.js"
import { type Backend, backends } from "./support/backends.js"
import * as ReadModel from "./support/readModel.js"
import { Deposit, Open, Wallet } from "./support/Wallet.js"

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const stores = (backend: Backend) =>
  Layer.mergeAll(SqlEventStore.layer(), SqlProjectionStore.layer()).pipe(Layer.provideMerge(backend.sql))

interface RawRow {
  readonly eventId: string
  readonly streamId: string
  readonly version: number | string
  readonly type: string
  readonly data: string
  readonly metadata: string
  readonly recordedAt?: string | undefined
}

/** Inserts rows as they are, behind the store's back. */
const insertRaw = (dialect: "pg" | "sqlite", rows: ReadonlyArray<RawRow>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    if (dialect === "sqlite") yield* sql.unsafe("PRAGMA ignore_check_constraints = ON")
    for (const row of rows) {
      const at = row.recordedAt ?? "2024-01-01T00:00:00.000Z"
      yield* dialect === "pg"
        ? sql`INSERT INTO chronicle_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
            VALUES (${row.eventId}::uuid, ${row.streamId}, ${String(row.version)}::bigint, ${row.type}, 1, ${row.data}::json, ${row.metadata}::json, ${at}::timestamptz)`
        : sql`INSERT INTO chronicle_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
            VALUES (${row.eventId}, ${row.streamId}, ${row.version}, ${row.type}, 1, ${row.data}, ${row.metadata}, ${at})`
    }
    if (dialect === "sqlite") yield* sql.unsafe("PRAGMA ignore_check_constraints = OFF")
  })

/**
 * The feed of `categories` once it holds `count` events: on a shared
 * PostgreSQL server, another session's open transaction may hold the feed
 * back for a while (that is gap safety), so look until it is all there.
 */
const feedOf = (store: EventStore.EventStore["Type"], categories: ReadonlyArray<string>, count: number) =>
  collect(store.readAll({ categories })).pipe(
    Effect.filterOrFail(
      (events) => events.length >= count,
      (events) => new Error(`the feed holds ${events.length} events, not ${count}`)
    ),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("60 seconds")))
  )

const goodMetadata = '{"correlationId": "c", "causationId": null, "user": {}}'

/** Two wallets with good events, and corrupt rows between and after them. */
const seed = (backend: Backend) =>
  Effect.gen(function* () {
    const wallets = yield* Repository.make(Wallet)
    yield* wallets.execute("good-1", new Open({ owner: "ann" }))
    yield* wallets.execute("good-1", new Deposit({ amount: 5, currency: "EUR" }))
    const badShape = { eventId: crypto.randomUUID(), streamId: StreamId.forAggregate("Wallet", "bad-1") }
    const notObject = { eventId: crypto.randomUUID(), streamId: StreamId.forAggregate("Wallet", "bad-2") }
    yield* insertRaw(backend.dialect, [
      { ...badShape, version: 1, type: "Opened", data: '{"owner": "eve"}', metadata: '{"correlationId": 5}' },
      { ...notObject, version: 1, type: "Opened", data: '{"owner": "eve"}', metadata: "[1, 2]" }
    ])
    // a timestamp that is no instant: text that is not a date on SQLite,
    // `infinity` on PostgreSQL (which the pg driver never read as a Date either)
    const badTime = { eventId: crypto.randomUUID(), streamId: StreamId.forAggregate("Wallet", "bad-3") }
    yield* insertRaw(backend.dialect, [
      {
        ...badTime,
        version: 1,
        type: "Opened",
        data: '{"owner": "eve"}',
        metadata: goodMetadata,
        recordedAt: backend.dialect === "sqlite" ? "yesterday" : "infinity"
      }
    ])
    const sqliteOnly =
      backend.dialect === "sqlite"
        ? { badJson: { eventId: crypto.randomUUID(), streamId: StreamId.forAggregate("Wallet", "bad-4") } }
        : undefined
    if (sqliteOnly !== undefined) {
      yield* insertRaw("sqlite", [
        { ...sqliteOnly.badJson, version: 1, type: "Opened", data: '{"owner":', metadata: goodMetadata }
      ])
    }
    yield* wallets.execute("good-2", new Open({ owner: "bob" }))
    yield* wallets.execute("good-1", new Deposit({ amount: 7, currency: "EUR" }))
    return { badShape, notObject, badTime, sqliteOnly }
  })

for (const backend of backends) {
  describe.skipIf(backend.skip)(`Corrupt rows on ${backend.name}`, () => {
    it.live("readAll delivers every row; corrupt ones are marked, and every codec names them", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const { badShape, notObject, badTime, sqliteOnly } = yield* seed(backend)
        const feed = yield* feedOf(store, ["Wallet"], backend.dialect === "sqlite" ? 8 : 7)
        const corrupt = feed.filter((e) => e.corrupt !== undefined)
        const good = feed.filter((e) => e.corrupt === undefined)
        expect(good.map((e) => `${e.streamId}@${e.version}`)).toEqual([
          "Wallet-good-1@1",
          "Wallet-good-1@2",
          "Wallet-good-2@1",
          "Wallet-good-1@3"
        ])
        const byId = new Map(corrupt.map((e) => [e.eventId, e]))
        expect(byId.get(badShape.eventId)?.corrupt).toContain("metadata: correlationId: Expected string, actual 5")
        expect(byId.get(notObject.eventId)?.corrupt).toContain("metadata:")
        expect(byId.get(badTime.eventId)?.corrupt).toBe(
          backend.dialect === "sqlite"
            ? 'recorded_at: not a timestamp ("yesterday")'
            : 'recorded_at: not a timestamp ("infinity")'
        )
        expect(byId.get(badTime.eventId)?.recordedAt.epochMillis).toBe(0)
        if (sqliteOnly !== undefined) {
          expect(byId.get(sqliteOnly.badJson.eventId)?.corrupt).toContain("data: not JSON text")
          expect(corrupt).toHaveLength(4)
        } else {
          expect(corrupt).toHaveLength(3)
        }
        // a corrupt row keeps its place: the good event after it comes after it
        const last = feed[feed.length - 1]
        expect(last?.streamId).toBe("Wallet-good-1")
        for (const event of corrupt) {
          const decoded = Wallet.codec.decode(event)
          expect(Either.isLeft(decoded)).toBe(true)
          if (Either.isLeft(decoded)) {
            expect(decoded.left).toMatchObject({
              _tag: "EventDecodeError",
              eventId: event.eventId,
              streamId: event.streamId,
              version: 1,
              position: event.position.toString()
            })
            expect(decoded.left.reason).toContain("the stored row is corrupt")
            expect(decoded.left.message).toContain(event.eventId)
          }
        }
        // the corrupt stream's own read delivers it too, marked
        const [own] = yield* store.readEvents(badShape.streamId)
        expect(own?.corrupt).toContain("metadata")
      }).pipe(Effect.provide(stores(backend)))
    )

    it.live(
      "a projection parks corrupt rows under its poison policy and applies the rest, or stops naming the row",
      () =>
        Effect.gen(function* () {
          const { badShape } = yield* seed(backend)
          const parkedModel = yield* ReadModel.make({ name: "corrupt_park" })
          yield* ProjectionAdmin.catchUp(parkedModel.projection, { onFailure: "park", retry: Schedule.stop }).pipe(
            Stream.runDrain
          )
          const totals = yield* ReadModel.totals("corrupt_park", 1)
          expect(totals.get("Wallet-good-1")).toEqual([12, 3])
          expect(totals.get("Wallet-good-2")).toEqual([0, 1])
          const parked = yield* ProjectionAdmin.parked({ name: "corrupt_park", version: 1 })
          expect(parked.length).toBe(backend.dialect === "sqlite" ? 4 : 3)
          const first = parked.find((p) => p.event.eventId === badShape.eventId)
          expect(first?.reason).toContain("the stored row is corrupt")
          expect(first?.reason).toContain(badShape.streamId)

          const stoppedModel = yield* ReadModel.make({ name: "corrupt_stop" })
          const failure = yield* ProjectionAdmin.catchUp(stoppedModel.projection, {
            onFailure: "stop",
            retry: Schedule.stop
          }).pipe(Stream.runDrain, Effect.flip)
          expect(failure).toMatchObject({ _tag: "ProjectionFailed", eventId: badShape.eventId })
          expect(String(failure)).toContain("the stored row is corrupt")
          // it stopped at the corrupt row, having applied what came before
          expect((yield* ReadModel.totals("corrupt_stop", 1)).get("Wallet-good-1")).toEqual([5, 2])
        }).pipe(Effect.provide(stores(backend)))
    )

    it.live("Repository.load fails with an EventDecodeError naming the corrupt row", () =>
      Effect.gen(function* () {
        const { badShape } = yield* seed(backend)
        const wallets = yield* Repository.make(Wallet)
        const error = yield* Effect.flip(wallets.load("bad-1"))
        expect(error).toMatchObject({
          _tag: "EventDecodeError",
          streamId: badShape.streamId,
          eventId: badShape.eventId,
          version: 1
        })
        expect(error.message).toContain("metadata")
        // the good streams load as ever
        expect((yield* wallets.load("good-1")).state.balance).toBe(12)
      }).pipe(Effect.provide(stores(backend)))
    )

    if (backend.dialect === "sqlite") {
      it.live("a row with no readable stream version fails a stream read naming it, but not the feed", () =>
        Effect.gen(function* () {
          const store = yield* EventStore.EventStore
          const eventId = crypto.randomUUID()
          const streamId = StreamId.forAggregate("Broken", "1")
          yield* insertRaw("sqlite", [
            { eventId, streamId, version: 1.5, type: "Opened", data: "{}", metadata: goodMetadata }
          ])
          const error = yield* Effect.flip(store.readEvents(streamId))
          expect(error._tag).toBe("StoreError")
          expect(error.message).toContain(`event id ${eventId}`)
          expect(error.message).toContain("no readable stream version")
          const feed = yield* feedOf(store, ["Broken"], 1)
          expect(feed.map((e) => e.eventId)).toEqual([eventId])
          expect(feed[0]?.corrupt).toContain("stream_version")
          expect(feed[0] !== undefined && Position.isAfter(feed[0].position, Position.start)).toBe(true)
        }).pipe(Effect.provide(stores(backend)))
      )
    }
  })
}
