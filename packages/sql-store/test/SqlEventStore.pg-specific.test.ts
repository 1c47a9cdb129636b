/**
 * PostgreSQL-specific guarantees: gap safety with held transactions, the
 * transaction-id guard, the immutability trigger, contention on a real pool,
 * bad input and a lost connection.
 */
import { type Append, AppendError, EventCodec, EventStore, ExpectedVersion, Position, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Deferred, Effect, Either, Fiber, Ref, Schedule, Schema, Stream } from "effect"
import * as Postgres from "./support/postgres.js"

const { eventData, uniqueCategory, uniqueStream } = EventStoreConformance

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const applicationName = `chronicle-pg-specific-${crypto.randomUUID().slice(0, 8)}`

describe.skipIf(!Postgres.available)("SqlEventStore on PostgreSQL", () => {
  layer(Postgres.storeLayer({ maxConnections: 20, applicationName }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })((it) => {
    it.effect("a running subscriber never skips an event that commits after a later-positioned one", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const category = uniqueCategory("Gap")
        const first = eventData("First")
        const second = eventData("Second")
        const delivered = yield* Ref.make<ReadonlyArray<string>>([])
        const subscriber = yield* store.subscribe({ categories: [category], pollInterval: "10 millis" }).pipe(
          Stream.tap((e) => Ref.update(delivered, (seen) => [...seen, e.eventId])),
          Stream.take(2),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray),
          Effect.fork
        )
        // Transaction A appends first (lower position) and stays open.
        const aAppended = yield* Deferred.make<Append.AppendResult>()
        const releaseA = yield* Deferred.make<void>()
        const txA = yield* sql
          .withTransaction(
            Effect.gen(function* () {
              const result = yield* store.append(StreamId.forAggregate(category, "a"), [first])
              yield* Deferred.succeed(aAppended, result)
              yield* Deferred.await(releaseA)
            })
          )
          .pipe(Effect.fork)
        const a = yield* Deferred.await(aAppended)
        // Transaction B appends after it (higher position) and commits first.
        const b = yield* store.append(StreamId.forAggregate(category, "b"), [second])
        const [aPosition] = a.positions
        const [bPosition] = b.positions
        expect(aPosition !== undefined && bPosition !== undefined && Position.isAfter(bPosition, aPosition)).toBe(true)
        // The subscriber polls many times while A is open: it must not pass B's
        // position, since that would skip A's event for good.
        yield* Effect.sleep("300 millis")
        expect(yield* Ref.get(delivered)).toEqual([])
        yield* Deferred.succeed(releaseA, undefined)
        yield* Fiber.join(txA)
        const events = yield* Fiber.join(subscriber).pipe(Effect.timeout("10 seconds"))
        expect(events.map((e) => e.eventId)).toEqual([first.eventId, second.eventId])
        const [e1, e2] = events
        expect(e1 !== undefined && e2 !== undefined && Position.isAfter(e2.position, e1.position)).toBe(true)
      })
    )

    it.effect("a transaction that wrote elsewhere first gets a retryable conflict, never version n+1 before n", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE IF NOT EXISTS scratch (id serial PRIMARY KEY, note text)`
        const category = uniqueCategory("Guard")
        const stream = StreamId.forAggregate(category, "1")
        yield* store.append(stream, [eventData("E"), eventData("E"), eventData("E"), eventData("E")])
        // A writes elsewhere first: it now holds the older transaction id.
        const aWrote = yield* Deferred.make<void>()
        const bCommitted = yield* Deferred.make<void>()
        const txA = yield* sql
          .withTransaction(
            Effect.gen(function* () {
              yield* sql`INSERT INTO scratch (note) VALUES ('a wrote first')`
              yield* Deferred.succeed(aWrote, undefined)
              yield* Deferred.await(bCommitted)
              // Appending with Any would give version 6 an older transaction id than version 5.
              return yield* Effect.flip(
                store.append(stream, [eventData("FromA")], { expectedVersion: ExpectedVersion.Any })
              )
            })
          )
          .pipe(Effect.fork)
        yield* Deferred.await(aWrote)
        const b = yield* store.append(stream, [eventData("FromB")])
        expect(b.nextExpectedVersion).toBe(5)
        yield* Deferred.succeed(bCommitted, undefined)
        const refused = yield* Fiber.join(txA)
        expect(refused).toBeInstanceOf(AppendError.ConcurrencyError)
        expect(refused).toMatchObject({ _tag: "ConcurrencyError", streamId: stream, expected: "any", actual: 5 })
        // Retried in a new transaction, it lands after version 5 in every order.
        const retried = yield* store.append(stream, [eventData("FromA")], { expectedVersion: ExpectedVersion.Any })
        expect(retried.nextExpectedVersion).toBe(6)
        const feed = yield* collect(store.readAll({ categories: [category] }))
        expect(feed.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6])
        // One transaction may append to the same stream twice.
        const twice = yield* sql.withTransaction(
          Effect.zipRight(store.append(stream, [eventData("T1")]), store.append(stream, [eventData("T2")]))
        )
        expect(twice.nextExpectedVersion).toBe(8)
      })
    )

    it.effect("the database refuses UPDATE, DELETE and TRUNCATE of events", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        const stream = uniqueStream("Immutable")
        const event = eventData("Fact", { amount: 1 })
        yield* store.append(stream, [event])
        const refusals = yield* Effect.all([
          Effect.flip(sql`UPDATE chronicle_events SET data = '{"amount": 999}' WHERE stream_id = ${stream}`),
          Effect.flip(sql`DELETE FROM chronicle_events WHERE stream_id = ${stream}`),
          Effect.flip(sql`TRUNCATE chronicle_events`)
        ])
        for (const error of refusals) expect(String(error.cause)).toContain("events are immutable")
        const [stored] = yield* collect(store.read(stream))
        expect(stored?.data).toEqual({ amount: 1 })
        expect(stored?.eventId).toBe(event.eventId)
      })
    )

    it.effect("16 writers on 16 streams end with exact counts and contiguous versions", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const category = uniqueCategory("Many")
        const writers = 16
        const perWriter = 25
        const streams = Array.from({ length: writers }, (_, i) => StreamId.forAggregate(category, `${i}`))
        yield* Effect.forEach(
          streams,
          (stream) =>
            Effect.forEach(
              Array.from({ length: perWriter }, (_, n) => eventData("N", { n })),
              (event, n) => store.append(stream, [event], { expectedVersion: ExpectedVersion.exact(n) }),
              { discard: true }
            ),
          { concurrency: "unbounded", discard: true }
        )
        const all = yield* collect(store.readAll({ categories: [category] }))
        expect(all).toHaveLength(writers * perWriter)
        expect(new Set(all.map((e) => e.eventId)).size).toBe(writers * perWriter)
        for (const stream of streams) {
          expect(all.filter((e) => e.streamId === stream).map((e) => e.version)).toEqual(
            Array.from({ length: perWriter }, (_, i) => i + 1)
          )
          expect(yield* store.streamVersion(stream)).toBe(perWriter)
        }
      })
    )

    it.effect("16 writers on one stream with Any on a pool of 20 never see a conflict and lose nothing", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const stream = uniqueStream("Any")
        const events = Array.from({ length: 160 }, (_, n) => eventData("N", { n }))
        const failures = yield* Ref.make<ReadonlyArray<string>>([])
        yield* Effect.forEach(
          events,
          (event) =>
            store
              .append(stream, [event])
              .pipe(Effect.catchAll((e) => Ref.update(failures, (all) => [...all, e.message]))),
          { concurrency: 16, discard: true }
        )
        // No retry here: the store itself retries what the transaction-id guard refuses.
        expect(yield* Ref.get(failures)).toEqual([])
        const stored = yield* collect(store.read(stream))
        expect(stored.map((e) => e.version)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1))
        expect(new Set(stored.map((e) => e.eventId))).toEqual(new Set(events.map((e) => e.eventId)))
      })
    )

    it.effect("rows that no longer decode read back intact, as typed decode errors, and break nothing else", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
        const codec = EventCodec.make(Deposited)
        const stream = uniqueStream("Legacy")
        yield* store.append(stream, [eventData("Deposited", { amount: 5 })])
        // Written behind the store's back, as an old release might have left them.
        const badPayload = crypto.randomUUID()
        const unknownType = crypto.randomUUID()
        const futureVersion = crypto.randomUUID()
        yield* sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`UPDATE chronicle_streams SET version = 4, last_transaction_id = pg_current_xact_id() WHERE stream_id = ${stream}`
            yield* sql`INSERT INTO chronicle_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
              VALUES (${badPayload}, ${stream}, 2, 'Deposited', 1, '{"amount": "five"}', '{"correlationId": "c", "causationId": null, "user": {}}', now()),
                     (${unknownType}, ${stream}, 3, 'Mystery', 1, '{"x": [1, {"y": null}]}', '{"correlationId": "c", "causationId": null, "user": {}}', now()),
                     (${futureVersion}, ${stream}, 4, 'Deposited', 9, '{"amount": 1}', '{"correlationId": "c", "causationId": null, "user": {}}', now())`
          })
        )
        const events = yield* collect(store.read(stream))
        expect(events.map((e) => [e.version, e.type, e.schemaVersion, e.data])).toEqual([
          [1, "Deposited", 1, { amount: 5 }],
          [2, "Deposited", 1, { amount: "five" }],
          [3, "Mystery", 1, { x: [1, { y: null }] }],
          [4, "Deposited", 9, { amount: 1 }]
        ])
        const decoded = events.map(codec.decode)
        expect(Either.isRight(decoded[0] ?? Either.left(null))).toBe(true)
        for (const [i, id] of [badPayload, unknownType, futureVersion].entries()) {
          const result = decoded[i + 1]
          expect(result !== undefined && Either.isLeft(result)).toBe(true)
          if (result !== undefined && Either.isLeft(result)) {
            expect(result.left).toMatchObject({
              _tag: "EventDecodeError",
              streamId: stream,
              version: i + 2,
              eventId: id
            })
          }
        }
        // The stream and the feed carry on.
        const next = yield* store.append(stream, [eventData("Deposited", { amount: 1 })], {
          expectedVersion: ExpectedVersion.exact(4)
        })
        expect(next.nextExpectedVersion).toBe(5)
        expect((yield* collect(store.readAll({ categories: [StreamId.category(stream)] }))).length).toBe(5)
      })
    )

    it.effect("bad input is a typed error and writes nothing", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const category = uniqueCategory("Bad")
        const stream = StreamId.forAggregate(category, "1")
        expect(yield* Effect.flip(store.append(stream, []))).toMatchObject({ _tag: "InvalidAppendError" })
        const nul = StreamId.forAggregate(category, "nul\u0000byte")
        expect(yield* Effect.flip(store.append(nul, [eventData("X")]))).toMatchObject({ _tag: "InvalidAppendError" })
        expect(yield* Effect.flip(store.append(stream, [eventData("Bad\u0000Type")]))).toMatchObject({
          _tag: "InvalidAppendError"
        })
        expect(yield* store.streamVersion(nul)).toBe(0)
        expect(yield* collect(store.read(nul))).toEqual([])
        const unrepresentable = yield* Effect.flip(
          store.append(stream, [eventData("X")], { metadata: { user: { big: 1n } } })
        )
        expect(unrepresentable._tag).toBe("InvalidAppendError")
        expect(yield* store.streamVersion(stream)).toBe(0)
        // Payload text JSONB would refuse (NUL escapes, lone surrogates) round-trips.
        const odd = { nul: "a\u0000b", surrogate: "\ud800", nested: { "key with 'quotes'": ['"', "\\", "$1"] } }
        yield* store.append(stream, [eventData("Odd", odd)])
        const [stored] = yield* collect(store.read(stream))
        expect(stored?.data).toEqual(odd)
        const weird = [
          "Robert'); DROP TABLE chronicle_events;--",
          "$1 $$ $body$ %s %_ \\x00",
          "עברית-עם-RTL",
          "🎉🎊-emoji",
          "Ünïcödé-Ωmega",
          `"double"-'single'-\`back\``
        ]
        for (const id of weird) {
          const weirdStream = StreamId.StreamId.make(id)
          const result = yield* store.append(weirdStream, [eventData("W", { id })])
          expect(result.nextExpectedVersion).toBe(1)
          const [read] = yield* collect(store.read(weirdStream))
          expect(read?.streamId).toBe(id)
          expect(read?.data).toEqual({ id })
          expect(yield* store.streamVersion(weirdStream)).toBe(1)
        }
        const megabyte = "é".repeat(512 * 1024)
        const big = yield* store.append(stream, [eventData("Big", { megabyte }), eventData("Big", { megabyte })])
        expect(big.nextExpectedVersion).toBe(3)
        const bigRead = yield* collect(store.read(stream, { from: 2 }))
        expect(bigRead.map((e) => e.data)).toEqual([{ megabyte }, { megabyte }])
      })
    )

    it.scoped("an append whose connection is lost mid-statement is checked and written again, once", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const schema = yield* Postgres.TestSchema
        const stream = uniqueStream("Lost")
        yield* store.append(stream, [eventData("E")])
        const locker = yield* Postgres.raw(schema)
        yield* Effect.promise(async () => {
          await locker.query("BEGIN")
          await locker.query("SELECT 1 FROM chronicle_streams WHERE stream_id = $1 FOR UPDATE", [stream])
        })
        const waiting = (not?: number) =>
          Effect.promise(() =>
            locker.query<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
              [applicationName]
            )
          ).pipe(
            Effect.map((r) => r.rows[0]?.pid),
            Effect.filterOrFail((p): p is number => p !== undefined && p !== not),
            Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 1000 })
          )
        // This append waits on the row lock; its backend is then terminated.
        const batch = [eventData("E"), eventData("E")]
        const blocked = yield* store
          .append(stream, batch, { expectedVersion: ExpectedVersion.exact(1) })
          .pipe(Effect.either, Effect.fork)
        const pid = yield* waiting()
        yield* Effect.promise(() => locker.query("SELECT pg_terminate_backend($1)", [pid]))
        // The answer was lost: the store looks the ids up (not there), and
        // writes again on a new connection, which waits on the lock in turn.
        const again = yield* waiting(pid)
        expect(again).not.toBe(pid)
        yield* Effect.promise(() => locker.query("ROLLBACK"))
        const result = yield* Fiber.join(blocked)
        expect(Either.getOrThrow(result).nextExpectedVersion).toBe(3)
        const stored = yield* collect(store.read(stream))
        expect(stored.map((e) => e.version)).toEqual([1, 2, 3])
        expect(stored.slice(1).map((e) => e.eventId)).toEqual(batch.map((e) => e.eventId))
      })
    )

    it.scoped("after every backend of the pool is terminated, calls fail typed or succeed, then work again", () =>
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const schema = yield* Postgres.TestSchema
        const category = uniqueCategory("Kill")
        const stream = StreamId.forAggregate(category, "1")
        const live = yield* store
          .subscribe({ categories: [category], pollInterval: "50 millis" })
          .pipe(Stream.take(2), Stream.runCollect, Effect.map(Chunk.toReadonlyArray), Effect.fork)
        yield* store.append(stream, [eventData("Before")])
        const admin = yield* Postgres.raw(schema)
        yield* Effect.promise(() =>
          admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
            applicationName
          ])
        )
        // Each call either fails with a StoreError or succeeds: never a defect or a raw SqlError.
        const attempt = store.streamVersion(stream).pipe(Effect.either)
        const outcome = yield* attempt
        if (Either.isLeft(outcome)) expect(outcome.left._tag).toBe("StoreError")
        const appended = yield* store
          .append(stream, [eventData("After")], { expectedVersion: ExpectedVersion.exact(1) })
          .pipe(Effect.retry({ while: (e) => e._tag === "StoreError", times: 3 }))
        expect(appended.nextExpectedVersion).toBe(2)
        // The subscription survives (it falls back to polling when LISTEN drops).
        const seen = yield* Fiber.join(live).pipe(Effect.timeout("10 seconds"))
        expect(seen.map((e) => e.type)).toEqual(["Before", "After"])
      })
    )
  })
})
