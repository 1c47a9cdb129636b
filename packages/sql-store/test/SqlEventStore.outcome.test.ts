/**
 * Issue 8, item 11: an append whose answer is lost with the connection may
 * have been committed. Through a TCP proxy that forwards the request whole
 * and then cuts the connection when the answer comes back (after COMMIT),
 * the store must check on a new connection and succeed with the first
 * result; when it cannot check either (the server "stays down"), it must
 * fail with an UnknownOutcomeError, never a StoreError that reads as
 * "nothing was written", and a retry with the same event ids must be safe.
 */
import { AppendError, EventStore, ExpectedVersion, InlineProjection, Projection } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, type Duration, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { SqlEventStore } from "../src/index.js"
import * as Postgres from "./support/postgres.js"
import * as TcpProxy from "./support/proxy.js"

const { eventData, uniqueStream } = EventStoreConformance

class Noted extends Schema.TaggedClass<Noted>()("Noted", { n: Schema.Number }) {}

/** An inline projection that records every event it applies, in the append's transaction. */
const Seen = Projection.make({
  name: "seen",
  events: Noted,
  handle: (recorded) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO outcome_seen (event_id) VALUES (${recorded.eventId})`)
})

/**
 * A store on a fresh schema reached through the proxy, and one reached
 * directly (to see what really is stored).
 */
const setup = (options?: { readonly inline?: boolean; readonly idleTimeout?: Duration.DurationInput }) =>
  Effect.gen(function* () {
    const schema = yield* Postgres.schema
    const proxy = yield* TcpProxy.make
    const direct = yield* Layer.build(
      SqlEventStore.layer().pipe(Layer.provideMerge(Postgres.layerOn(schema, { maxConnections: 2 })))
    )
    const sql = Context.get(direct, SqlClient.SqlClient)
    yield* sql`CREATE TABLE outcome_seen (event_id text NOT NULL)`
    const client = PgClient.layer({
      url: Redacted.make(proxy.url(schema)),
      maxConnections: 2,
      ...(options?.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout })
    })
    const proxied = yield* Layer.build(
      options?.inline === true
        ? SqlEventStore.layer({ migrate: false, onAppend: InlineProjection.hook([Seen]) }).pipe(Layer.provide(client))
        : SqlEventStore.layer({ migrate: false }).pipe(Layer.provide(client))
    )
    const seen = Effect.map(
      Effect.flatMap(
        sql`SELECT event_id FROM outcome_seen`,
        Schema.decodeUnknown(Schema.Array(Schema.Struct({ event_id: Schema.String })))
      ),
      (rows) => rows.map((r) => r.event_id)
    )
    return {
      proxy,
      store: Context.get(proxied, EventStore.EventStore),
      direct: Context.get(direct, EventStore.EventStore),
      seen
    }
  })

describe.skipIf(!Postgres.available)("SqlEventStore: appends whose outcome is unknown (PostgreSQL)", () => {
  it.live("an answer lost after COMMIT is checked on a new connection: the append succeeds, stored once", () =>
    Effect.gen(function* () {
      const { proxy, store, direct } = yield* setup()
      const stream = uniqueStream("Lost")
      yield* store.append(stream, [eventData("Before")])
      const batch = [eventData("E", { n: 1 }), eventData("E", { n: 2 })]
      const fired = yield* proxy.dropAnswerTo("chronicle_append")
      const result = yield* store.append(stream, batch, { expectedVersion: ExpectedVersion.exact(1) })
      // the proxy did cut the answer: this was no ordinary append
      expect(yield* Deferred.isDone(fired)).toBe(true)
      expect(result.nextExpectedVersion).toBe(3)
      expect(result.positions).toHaveLength(2)
      const stored = yield* direct.readEvents(stream)
      expect(stored.map((e) => e.eventId)).toEqual([expect.any(String), ...batch.map((e) => e.eventId)])
      expect(stored.map((e) => e.version)).toEqual([1, 2, 3])
    }).pipe(Effect.scoped)
  )

  it.live(
    "when the check fails too: UnknownOutcomeError (the append was committed), and a retry with the same ids is safe",
    () =>
      Effect.gen(function* () {
        const { proxy, store, direct } = yield* setup()
        const stream = uniqueStream("Unknown")
        const batch = [eventData("E", { n: 1 })]
        const fired = yield* proxy.dropAnswerTo("chronicle_append", { thenRefuse: true })
        const error = yield* Effect.flip(store.append(stream, batch, { expectedVersion: ExpectedVersion.NoStream }))
        expect(yield* Deferred.isDone(fired)).toBe(true)
        expect(error).toBeInstanceOf(AppendError.UnknownOutcomeError)
        expect(error).toMatchObject({ _tag: "UnknownOutcomeError", operation: "append", streamId: stream })
        expect(error.message).toContain("may have been committed")
        expect(error.message).toContain("retrying with the same event ids is safe")
        // it was committed: a StoreError ("nothing was written") would have invited a duplicate
        expect((yield* direct.readEvents(stream)).map((e) => e.eventId)).toEqual([batch[0]?.eventId])
        yield* proxy.refuse(false)
        const retried = yield* store.append(stream, batch, { expectedVersion: ExpectedVersion.NoStream })
        expect(retried.duplicate).toBe(true)
        expect(retried.nextExpectedVersion).toBe(1)
        expect(yield* direct.readEvents(stream)).toHaveLength(1)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("a COMMIT whose answer is lost, with inline projections: checked, or UnknownOutcomeError", () =>
    Effect.gen(function* () {
      const { proxy, store, direct, seen } = yield* setup({ inline: true })
      const stream = uniqueStream("Commit")
      const first = eventData("Noted", { n: 1 })
      const fired = yield* proxy.dropAnswerTo("COMMIT")
      const resolved = yield* store.append(stream, [first], { expectedVersion: ExpectedVersion.NoStream })
      expect(yield* Deferred.isDone(fired)).toBe(true)
      expect(resolved.nextExpectedVersion).toBe(1)
      const second = eventData("Noted", { n: 2 })
      const refused = yield* proxy.dropAnswerTo("COMMIT", { thenRefuse: true })
      const error = yield* Effect.flip(store.append(stream, [second], { expectedVersion: ExpectedVersion.exact(1) }))
      expect(yield* Deferred.isDone(refused)).toBe(true)
      expect(error._tag).toBe("UnknownOutcomeError")
      // both committed, each with its read-model row, once
      expect((yield* direct.readEvents(stream)).map((e) => e.eventId)).toEqual([first.eventId, second.eventId])
      expect([...(yield* seen)].sort()).toEqual([first.eventId, second.eventId].sort())
      yield* proxy.refuse(false)
      const retried = yield* store.append(stream, [second], { expectedVersion: ExpectedVersion.exact(1) })
      expect(retried.duplicate).toBe(true)
      expect(yield* seen).toHaveLength(2)
    }).pipe(Effect.scoped)
  )

  it.live("an append that never reached the server is a StoreError, and nothing is written", () =>
    Effect.gen(function* () {
      const { proxy, store, direct } = yield* setup({ idleTimeout: "10 millis" })
      const stream = uniqueStream("Refused")
      yield* store.head
      yield* proxy.refuse(true)
      // the pool closes its idle connection: the append must open a new one
      yield* proxy.open.pipe(
        Effect.filterOrFail((open) => open === 0),
        Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("10 seconds")))
      )
      const error = yield* Effect.flip(store.append(stream, [eventData("E")]))
      expect(error._tag).toBe("StoreError")
      expect(yield* direct.readEvents(stream)).toEqual([])
      yield* proxy.refuse(false)
      expect((yield* store.append(stream, [eventData("E")])).nextExpectedVersion).toBe(1)
    }).pipe(Effect.scoped)
  )
})
