/**
 * Projections over SQL, on SQLite (memory and file) and PostgreSQL: the
 * ProjectionStore conformance suite on each backend, then what only SQL
 * shows: a read model whose writes share the checkpoint's transaction (a
 * poison event's own write rolls back), a real PostgreSQL lock and statement
 * timeout that the projection outlasts, the lag where PostgreSQL's feed order
 * differs from its identity order, and SQLite's single connection under
 * continuous load.
 */
import {
  EventStore,
  Position,
  Projection,
  ProjectionAdmin,
  ProjectionStore,
  Repository,
  StreamId
} from "@chronicle/core"
import { AwaitProjections, ProjectionStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Ref,
  Schedule,
  Schema,
  Stream
} from "effect"
import pg from "pg"
import { SqlEventStore, SqlProjectionStore } from "../src/index.js"
import { backends, freshFile } from "./support/backends.js"
import { sqlJournal } from "./support/journal.js"
import * as Postgres from "./support/postgres.js"
import * as ReadModel from "./support/readModel.js"
import { Deposit, Open, Wallet } from "./support/Wallet.js"

// A runner of an earlier test may still be releasing the lease: wait for it.
const waitForLease = "5 seconds"

// Leases long enough that a stalled event loop under CI load cannot let one lapse mid-commit.
const fast = { pollInterval: "20 millis", leaseTtl: "3 seconds", retry: Schedule.recurs(2) } as const

/** Polls `effect` every 20 ms until `until` holds, for at most `timeout`; returns that value. */
const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  until: (a: A) => boolean,
  timeout: Duration.DurationInput = "30 seconds"
) =>
  effect.pipe(
    Effect.repeat({ schedule: Schedule.identity<A>().pipe(Schedule.addDelay(() => "20 millis")), until }),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error("condition not reached in time") })
  )

/** Opens `wallets` wallets and deposits 1, 2, …, `deposits` into each; returns the last position. */
const seed = (wallets: number, deposits: number, prefix = "w") =>
  Effect.gen(function* () {
    const repo = yield* Repository.make(Wallet)
    let last = Position.start
    for (let w = 0; w < wallets; w++) {
      yield* repo.execute(`${prefix}${w}`, new Open({ owner: "ann" }))
      for (let i = 1; i <= deposits; i++) {
        const result = yield* repo.execute(`${prefix}${w}`, new Deposit({ amount: i, currency: "EUR" }))
        last = Option.getOrElse(result.position, () => last)
      }
    }
    return last
  })

/** The read model a correct projection builds: a fold over every Wallet event in the store. */
const folded = Effect.gen(function* () {
  const store = yield* EventStore.EventStore
  const events = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ categories: ["Wallet"] })))
  const result = new Map<string, readonly [number, number]>()
  for (const stored of events) {
    const decoded = yield* Wallet.codec.decode(stored)
    const [total, count] = result.get(stored.streamId) ?? [0, 0]
    result.set(stored.streamId, [total + ReadModel.amountOf(decoded.event), count + 1])
  }
  return { totals: result, eventIds: events.map((e) => e.eventId) }
})

const exactlyOnce = (name: string, version: number) =>
  Effect.gen(function* () {
    const expected = yield* folded
    const applied = yield* ReadModel.applied(name, version)
    const counts = new Map<string, number>()
    for (const row of applied) counts.set(row.event_id, (counts.get(row.event_id) ?? 0) + 1)
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([])
    expect([...counts.keys()].sort()).toEqual([...expected.eventIds].sort())
    expect(yield* ReadModel.totals(name, version)).toEqual(expected.totals)
  })

const tagOf = (error: unknown): unknown =>
  typeof error === "object" && error !== null && "_tag" in error ? error._tag : error

const expectedTotal = (n: number) => (n * (n + 1)) / 2

for (const backend of backends) {
  const stores = Layer.mergeAll(SqlEventStore.layer({ pollInterval: "50 millis" }), SqlProjectionStore.layer()).pipe(
    Layer.provideMerge(backend.sql)
  )

  describe.skipIf(backend.skip)(`SqlProjectionStore (${backend.name})`, () => {
    ProjectionStoreConformance.suite(backend.name, stores, { journal: sqlJournal })

    it.live("catches up, follows live events, waitFor gives read-your-writes, and status reports it", () =>
      Effect.gen(function* () {
        const { projection } = yield* ReadModel.make()
        yield* seed(2, 5)
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Layer.build(Projection.layer(projection, fast))
            yield* AwaitProjections.caughtUp({ projections: [projection], timeout: "10 seconds" })
            expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w0")).toEqual([expectedTotal(5), 6])
            const last = yield* seed(1, 3, "live")
            yield* Projection.waitFor("totals", last, { timeout: "10 seconds" })
            expect((yield* ReadModel.totals("totals", 1)).get("Wallet-live0")).toEqual([expectedTotal(3), 4])
            yield* exactlyOnce("totals", 1)
            const status = yield* eventually(ProjectionAdmin.status("totals"), (all) => all[0]?.state === "caught-up")
            expect(status[0]).toMatchObject({ name: "totals", version: 1, active: true, lag: 0, parked: 0 })
          })
        )
      }).pipe(Effect.provide(stores))
    )

    it.live("stop policy: bad data stops the projection before it, and its own write is rolled back", () =>
      Effect.gen(function* () {
        const { projection } = yield* ReadModel.make({ failOn: (amount) => amount === 3 })
        yield* seed(1, 5)
        const exit = yield* Effect.exit(Projection.run(projection, fast))
        const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(failure?._tag).toBe("ProjectionFailed")
        expect(failure?.reason).toMatch(/cannot apply 3/)
        expect(failure?.cause).toBe("cannot apply 3")
        expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w0")).toEqual([1 + 2, 3])
        // the poison event's own write (before it failed) did not survive
        expect(yield* ReadModel.applied("totals", 1)).toHaveLength(3)
        const [status] = yield* ProjectionAdmin.status("totals")
        expect(status?.state).toBe("failed")
        expect(Option.getOrElse(status?.error ?? Option.none(), () => "")).toMatch(/cannot apply 3/)
        expect(status?.lag).toBe(3)
      }).pipe(Effect.provide(stores))
    )

    it.live("park policy: the event is parked whole with its cause, the rest goes on, and it replays once fixed", () =>
      Effect.gen(function* () {
        const { projection, fix } = yield* ReadModel.make({ failOn: (amount) => amount === 3 })
        yield* seed(1, 5)
        yield* ProjectionAdmin.catchUp(projection, { ...fast, onFailure: "park", waitForLease }).pipe(Stream.runDrain)
        expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w0")).toEqual([expectedTotal(5) - 3, 5])
        const parked = yield* ProjectionAdmin.parked({ name: "totals", version: 1 })
        expect(parked).toHaveLength(1)
        expect(parked[0]?.reason).toMatch(/cannot apply 3/)
        const store = yield* EventStore.EventStore
        const original = Chunk.toReadonlyArray(
          yield* Stream.runCollect(store.read(StreamId.forAggregate("Wallet", "w0")))
        ).find((e) => e.eventId === parked[0]?.event.eventId)
        expect(parked[0]?.event).toEqual(original)
        expect((yield* ProjectionAdmin.status("totals"))[0]?.parked).toBe(1)
        expect((yield* ProjectionAdmin.replayParked(projection)).stillFailing).toHaveLength(1)
        yield* fix
        expect(yield* ProjectionAdmin.replayParked(projection)).toEqual({ replayed: 1, stillFailing: [] })
        expect(yield* ProjectionAdmin.parked({ name: "totals", version: 1 })).toHaveLength(0)
        yield* exactlyOnce("totals", 1)
      }).pipe(Effect.provide(stores))
    )

    it.live("blue/green: v1's table serves while v2 builds, v2 takes over once caught up, drop removes v1", () =>
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const v1 = yield* ReadModel.make({ version: 1 })
        const v2 = yield* ReadModel.make({ version: 2, setup: Deferred.await(gate) })
        yield* seed(2, 4)
        yield* ProjectionAdmin.catchUp(v1.projection, { waitForLease }).pipe(Stream.runDrain)
        const projections = yield* ProjectionStore.ProjectionStore
        expect(yield* projections.activeVersion("totals")).toEqual(Option.some(1))
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Layer.build(Projection.layer(v2.projection, fast))
            // v2 is registered (while its layer built) but held back: v1 is active and its table complete
            expect(Option.isSome(yield* projections.get({ name: "totals", version: 2 }))).toBe(true)
            const building = yield* ProjectionAdmin.status("totals")
            expect(building.map((s) => [s.version, s.active])).toEqual([
              [1, true],
              [2, false]
            ])
            expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w1")).toEqual([expectedTotal(4), 5])
            expect(tagOf(yield* Effect.flip(ProjectionAdmin.drop(v1.projection)))).toBe("ProjectionActive")
            yield* Deferred.succeed(gate, undefined)
            yield* eventually(projections.activeVersion("totals"), (v) => Option.contains(v, 2))
            yield* exactlyOnce("totals", 2)
            expect((yield* ProjectionAdmin.status("totals")).map((s) => [s.version, s.active])).toEqual([
              [1, false],
              [2, true]
            ])
          })
        )
        yield* ProjectionAdmin.drop(v1.projection)
        expect((yield* ProjectionAdmin.status("totals")).map((s) => s.version)).toEqual([2])
        const gone = yield* Effect.either(ReadModel.totals("totals", 1))
        expect(Either.isLeft(gone)).toBe(true)
        expect(tagOf(yield* Effect.flip(ProjectionAdmin.drop(v2.projection)))).toBe("ProjectionActive")
      }).pipe(Effect.provide(stores))
    )

    it.live("waitFor fails with a typed ProjectionTimeout, and ProjectionNotFound for unknown names", () =>
      Effect.gen(function* () {
        const { projection } = yield* ReadModel.make()
        yield* seed(1, 1)
        yield* ProjectionAdmin.catchUp(projection, { waitForLease }).pipe(Stream.runDrain)
        const last = yield* seed(1, 2, "later")
        const error = yield* Effect.flip(Projection.waitFor("totals", last, { timeout: "150 millis" }))
        expect(error._tag).toBe("ProjectionTimeout")
        expect(error.message).toMatch(/did not reach position/)
        const missing = yield* Effect.flip(Projection.waitFor("nope", last, { timeout: "50 millis" }))
        expect(missing._tag).toBe("ProjectionNotFound")
      }).pipe(Effect.provide(stores))
    )
  })
}

describe("SqlProjectionStore on one SQLite file from two connections (as two processes would)", () => {
  it.live("the lease row in the database file keeps one holder at a time, and fences the other's writes", () =>
    Effect.gen(function* () {
      const file = freshFile()
      const connect = Effect.flatMap(Layer.build(Layer.orDie(SqliteClient.layer({ filename: file }))), (context) =>
        Effect.provide(SqlProjectionStore.make(), context)
      )
      const a = yield* connect
      const b = yield* connect
      const key = { name: "shared", version: 1 }
      yield* a.register(key, {})
      yield* b.register(key, {})
      expect(yield* a.acquireLease(key, "a", Duration.seconds(30))).toBe(true)
      expect(yield* b.acquireLease(key, "b", Duration.seconds(30))).toBe(false)
      yield* a.saveCheckpoint(key, Position.make(0n, 1n), "a")
      expect(tagOf(yield* Effect.flip(b.saveCheckpoint(key, Position.make(0n, 2n), "b")))).toBe("LeaseLostError")
      // a's lease, renewed short, lapses: b takes it, and a is fenced out
      expect(yield* a.acquireLease(key, "a", Duration.millis(100))).toBe(true)
      yield* eventually(b.acquireLease(key, "b", Duration.seconds(30)), (held) => held)
      expect(tagOf(yield* Effect.flip(a.saveCheckpoint(key, Position.make(0n, 3n), "a")))).toBe("LeaseLostError")
      yield* b.saveCheckpoint(key, Position.make(0n, 4n), "b")
      expect(Option.flatMap(yield* a.get(key), (r) => r.checkpoint)).toEqual(Option.some(Position.make(0n, 4n)))
    }).pipe(Effect.scoped)
  )

  it.live("checkpoints are stored in Position's text form, and the older <commit>:<sequence> form still reads", () =>
    Effect.gen(function* () {
      const client = yield* Layer.build(Layer.orDie(SqliteClient.layer({ filename: freshFile() })))
      const store = yield* Effect.provide(SqlProjectionStore.make(), client)
      const sql = Context.get(client, SqlClient.SqlClient)
      const key = { name: "legacy", version: 1 }
      yield* store.register(key, {})
      expect(yield* store.acquireLease(key, "a", Duration.seconds(30))).toBe(true)
      const stored = sql<{
        readonly checkpoint: string | null
      }>`SELECT checkpoint FROM chronicle_projections WHERE name = ${key.name}`
      yield* store.saveCheckpoint(key, Position.make(0n, 4n), "a")
      expect(yield* stored).toEqual([{ checkpoint: "4" }])
      yield* store.saveCheckpoint(key, Position.make(12n, 5n), "a")
      expect(yield* stored).toEqual([{ checkpoint: "12/5" }])
      // a row written by an earlier version
      yield* sql`UPDATE chronicle_projections SET checkpoint = ${"28629:3"} WHERE name = ${key.name}`
      expect(Option.flatMap(yield* store.get(key), (r) => r.checkpoint)).toEqual(Option.some(Position.make(28629n, 3n)))
    }).pipe(Effect.scoped)
  )

  it.live(
    "under continuous load on one connection, back-to-back batches never starve the lease: no spurious restart",
    () =>
      Effect.gen(function* () {
        const starts = yield* Ref.make(0)
        const applied = yield* Ref.make(0)
        // A backlog of several lease lifetimes: each batch holds the single
        // connection for a while, and the next one takes it back at once, so
        // the lease's own renewal hardly ever gets the connection in between.
        yield* seed(10, 29)
        const projection = Projection.make({
          name: "busy",
          from: Wallet,
          categories: ["Wallet"],
          setup: () => Ref.update(starts, (n) => n + 1),
          handleBatch: (events) =>
            Effect.zipRight(
              Effect.sleep("120 millis"),
              Ref.update(applied, (n) => n + events.length)
            )
        })
        // 60 batches of 120 ms: about 7 s, several lifetimes of a 2 s lease
        const runner = yield* Effect.fork(
          Projection.run(projection, { leaseTtl: "2 seconds", pollInterval: "20 millis", batchSize: 5 })
        )
        yield* AwaitProjections.caughtUp({ projections: [projection], timeout: "60 seconds" })
        yield* Fiber.interrupt(runner)
        // one start: the runner never lost its lease and restarted
        expect(yield* Ref.get(starts)).toBe(1)
        // each event applied once (a restart would have applied a batch again)
        expect(yield* Ref.get(applied)).toBe(300)
      }).pipe(
        Effect.provide(
          Layer.mergeAll(SqlEventStore.layer({ pollInterval: "20 millis" }), SqlProjectionStore.layer()).pipe(
            Layer.provideMerge(Layer.orDie(SqliteClient.layer({ filename: freshFile() })))
          )
        )
      ),
    90_000
  )
})

describe.skipIf(!Postgres.available)("SqlProjectionStore on PostgreSQL: faults only a server shows", () => {
  it.live(
    "a read-model table locked past statement_timeout holds the projection back, never skips an event, and it resumes",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        // every statement of the store's connections times out after 1 s
        const url = new URL(Postgres.urlFor(schema))
        url.searchParams.set("options", `-c search_path=${schema} -c statement_timeout=1000`)
        const stores = Layer.mergeAll(
          SqlEventStore.layer({ pollInterval: "50 millis" }),
          SqlProjectionStore.layer()
        ).pipe(
          Layer.provideMerge(Layer.orDie(PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 6 })))
        )
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABLE balances (stream_id text PRIMARY KEY, total integer NOT NULL)`
          const projection = Projection.make({
            name: "balances",
            from: Wallet,
            categories: ["Wallet"],
            handle: (recorded) =>
              Effect.flatMap(SqlClient.SqlClient, (client) => {
                const amount = ReadModel.amountOf(recorded.event)
                return client`INSERT INTO balances (stream_id, total) VALUES (${recorded.streamId}, ${amount})
                  ON CONFLICT (stream_id) DO UPDATE SET total = balances.total + excluded.total`
              })
          })
          yield* seed(2, 3)
          yield* ProjectionAdmin.catchUp(projection).pipe(Stream.runDrain)
          const last = yield* seed(1, 4, "locked")
          // another session locks the read model's table against writes and keeps it (SHARE
          // mode takes no transaction id, so it does not hold back the feed itself)
          const raw = yield* Postgres.raw(schema)
          yield* Effect.promise(() => raw.query("BEGIN; LOCK TABLE balances IN SHARE MODE"))
          const runner = yield* Effect.fork(
            Projection.run(projection, { onFailure: "stop", leaseTtl: "5 seconds", pollInterval: "50 millis" })
          )
          // it says why it waits, and how often it tried
          const status = yield* eventually(ProjectionAdmin.status("balances"), (all) =>
            Option.exists(Option.fromNullable(all[0]), (s) =>
              Option.exists(s.error, (e) => /attempt [3-9]/.test(e) && /statement timeout/.test(e))
            )
          )
          expect(status[0]?.state).toBe("retrying")
          expect(Option.getOrElse(status[0]?.error ?? Option.none(), () => "")).toMatch(/57014/)
          yield* Effect.promise(() => raw.query("COMMIT"))
          yield* Projection.waitFor("balances", last, { timeout: "30 seconds" })
          const Rows = Schema.Array(Schema.Struct({ stream_id: Schema.String, total: Schema.Number }))
          const rows = yield* Effect.flatMap(sql`SELECT stream_id, total FROM balances ORDER BY stream_id`, (r) =>
            Schema.decodeUnknown(Rows)(r)
          )
          expect(rows).toEqual([
            { stream_id: "Wallet-locked0", total: expectedTotal(4) },
            { stream_id: "Wallet-w0", total: expectedTotal(3) },
            { stream_id: "Wallet-w1", total: expectedTotal(3) }
          ])
          expect(yield* ProjectionAdmin.parked(projection)).toEqual([])
          expect(Option.isNone(yield* Fiber.poll(runner))).toBe(true)
          const after = yield* eventually(ProjectionAdmin.status("balances"), (all) => all[0]?.state === "caught-up")
          expect(after[0]).toMatchObject({ lag: 0, lagExact: true, error: Option.none() })
          yield* Fiber.interrupt(runner)
        }).pipe(Effect.provide(stores))
      }).pipe(Effect.scoped),
    90_000
  )

  it.live(
    "connections cut under load (pg_terminate_backend): the runner recovers by itself and applies every event once",
    () =>
      Effect.gen(function* () {
        const applicationName = `chronicle-cut-${crypto.randomUUID().slice(0, 8)}`
        const stores = Layer.mergeAll(
          SqlEventStore.layer({ pollInterval: "50 millis" }),
          SqlProjectionStore.layer()
        ).pipe(Layer.provideMerge(Postgres.layer({ maxConnections: 6, applicationName })))
        const terminate = Effect.promise(async () => {
          const admin = new pg.Client({ connectionString: Postgres.databaseUrl })
          await admin.connect()
          try {
            return await Postgres.terminateBackends(admin, applicationName)
          } finally {
            await admin.end()
          }
        })
        yield* Effect.gen(function* () {
          const { projection } = yield* ReadModel.make({ onApply: Effect.sleep("5 millis") })
          yield* seed(4, 30)
          const runner = yield* Effect.fork(
            Projection.run(projection, { leaseTtl: "3 seconds", pollInterval: "50 millis", batchSize: 10 })
          )
          // the test's own reads and writes meet dead pooled connections too: it retries them
          const retried = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
            Effect.retry(effect, { schedule: Schedule.spaced("100 millis"), times: 50 })
          let cut = 0
          for (let i = 0; i < 4; i++) {
            yield* Effect.sleep("300 millis")
            cut += yield* terminate
            yield* retried(seed(1, 5, `during${i}-`))
          }
          expect(cut).toBeGreaterThan(0)
          yield* retried(AwaitProjections.caughtUp({ projections: [projection], timeout: "60 seconds" }))
          yield* retried(exactlyOnce("totals", 1))
          expect(yield* retried(ProjectionAdmin.parked(projection))).toEqual([])
          expect(Option.isNone(yield* Fiber.poll(runner))).toBe(true)
          yield* Fiber.interrupt(runner)
        }).pipe(Effect.provide(stores))
      }),
    120_000
  )

  it.live("the lag counts pending events where the feed's order differs from the identity order", () =>
    Effect.gen(function* () {
      const store = yield* EventStore.EventStore
      const projections = yield* ProjectionStore.ProjectionStore
      const sql = yield* SqlClient.SqlClient
      const category = `Order${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`
      const event = (n: number) => ({ eventId: crypto.randomUUID(), type: "Counted", schemaVersion: 1, data: { n } })
      // Transaction A takes its transaction id first, B appends and commits,
      // then A appends: A's event comes first in the feed, with a later identity.
      const ready = yield* Deferred.make<void>()
      const go = yield* Deferred.make<void>()
      const a = yield* sql
        .withTransaction(
          Effect.gen(function* () {
            yield* sql`SELECT pg_current_xact_id()`
            yield* Deferred.succeed(ready, undefined)
            yield* Deferred.await(go)
            yield* store.append(StreamId.forAggregate(category, "a"), [event(1)])
          })
        )
        .pipe(Effect.fork)
      yield* Deferred.await(ready)
      yield* store.append(StreamId.forAggregate(category, "b"), [event(2)])
      yield* Deferred.succeed(go, undefined)
      yield* Fiber.join(a)
      const feed = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ categories: [category] })))
      const [first, second] = feed
      expect(feed.map((e) => e.streamId)).toEqual([
        StreamId.forAggregate(category, "a"),
        StreamId.forAggregate(category, "b")
      ])
      if (first === undefined || second === undefined) return
      // the premise: in the feed, the later event has the smaller identity
      expect(second.position.sequence < first.position.sequence).toBe(true)
      // a projection whose checkpoint is the first: one event to go
      const key = { name: `order-${category}`, version: 1 }
      yield* projections.register(key, { categories: [category] })
      yield* projections.activate(key)
      yield* projections.acquireLease(key, "test", Duration.seconds(30))
      yield* projections.saveCheckpoint(key, first.position, "test")
      yield* projections.releaseLease(key, "test")
      const [status] = yield* ProjectionAdmin.status(key.name)
      expect([status?.lag, status?.lagExact]).toEqual([1, true])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(SqlEventStore.layer({ pollInterval: "50 millis" }), SqlProjectionStore.layer()).pipe(
          Layer.provideMerge(Postgres.layer({ maxConnections: 6 }))
        )
      )
    )
  )
})
