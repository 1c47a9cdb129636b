/**
 * Issue 5 on SQL: projections over a SQL read model, on SQLite (memory and
 * file) and PostgreSQL. The read model's writes and the checkpoint share the
 * `SqlProjectionStore`'s transaction.
 */
import { type Event, EventStore, Position, Projection, ProjectionStore, Repository, StreamId } from "@chronicle/core"
import { AwaitProjections } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  FastCheck,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Schema,
  Stream
} from "effect"
import { SqlEventStore, SqlProjectionStore } from "../src/index.js"
import { backends, freshFile } from "./support/backends.js"
import * as ReadModel from "./support/readModel.js"
import { Deposit, Open, Wallet } from "./support/Wallet.js"

// A runner of an earlier test may still be releasing the lease: wait for it.
const waitForLease = "5 seconds"

const fast = { pollInterval: "20 millis", leaseTtl: "300 millis", retry: Schedule.recurs(2) } as const

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
    it.live("catches up, follows live events, waitFor gives read-your-writes, and status reports it", () =>
      Effect.gen(function* () {
        const { projection } = yield* ReadModel.make()
        yield* seed(2, 5)
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Layer.build(Projection.layer(projection, fast))
            yield* AwaitProjections.caughtUp({ names: ["totals"], timeout: "10 seconds" })
            expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w0")).toEqual([expectedTotal(5), 6])
            const last = yield* seed(1, 3, "live")
            yield* Projection.waitFor("totals", last, { timeout: "10 seconds" })
            expect((yield* ReadModel.totals("totals", 1)).get("Wallet-live0")).toEqual([expectedTotal(3), 4])
            yield* exactlyOnce("totals", 1)
            yield* Projection.status("totals").pipe(
              Effect.repeat({
                schedule: Schedule.spaced("20 millis"),
                until: (all) => all[0]?.state === "caught-up"
              }),
              Effect.timeout("5 seconds")
            )
            const status = yield* Projection.status("totals")
            expect(status[0]).toMatchObject({ name: "totals", version: 1, active: true, lag: 0, parked: 0 })
          })
        )
      }).pipe(Effect.provide(stores))
    )

    it.live.prop(
      "crash safety: interrupted at random points (mid-batch, between handler and checkpoint), every event lands once",
      [FastCheck.array(FastCheck.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 4 })],
      ([crashAfter]) =>
        Effect.gen(function* () {
          const applications = yield* Ref.make(0)
          const crash = yield* Ref.make<Option.Option<readonly [number, Deferred.Deferred<void>]>>(Option.none())
          const { projection } = yield* ReadModel.make({
            onApply: Effect.gen(function* () {
              const n = yield* Ref.updateAndGet(applications, (x) => x + 1)
              const trigger = yield* Ref.get(crash)
              if (Option.isSome(trigger) && n >= trigger.value[0]) {
                // after the read-model write, before the checkpoint: interrupted right here
                yield* Deferred.succeed(trigger.value[1], undefined)
                yield* Effect.sleep("20 millis")
              }
            })
          })
          yield* seed(3, 8)
          for (const after of crashAfter) {
            const crashed = yield* Deferred.make<void>()
            yield* Ref.set(crash, Option.some([(yield* Ref.get(applications)) + after, crashed] as const))
            const fiber = yield* Effect.fork(Projection.run(projection, { ...fast, batchSize: 5 }))
            yield* Deferred.await(crashed).pipe(Effect.timeout("500 millis"), Effect.ignore)
            yield* Fiber.interrupt(fiber)
          }
          yield* Ref.set(crash, Option.none())
          yield* Projection.catchUp(projection, { waitForLease: "5 seconds" }).pipe(Stream.runDrain)
          yield* exactlyOnce("totals", 1)
        }).pipe(Effect.provide(stores)),
      { fastCheck: { numRuns: 4 } }
    )

    it.live("stop policy: a poison event stops the projection before it, and its write is rolled back", () =>
      Effect.gen(function* () {
        const { projection } = yield* ReadModel.make({ failOn: (amount) => amount === 3 })
        yield* seed(1, 5)
        const exit = yield* Effect.exit(Projection.run(projection, fast))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          expect(failure?._tag).toBe("ProjectionFailed")
          expect(failure?.cause).toMatch(/cannot apply 3/)
        }
        expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w0")).toEqual([1 + 2, 3])
        // the poison event's own write (before it failed) did not survive
        expect(yield* ReadModel.applied("totals", 1)).toHaveLength(3)
        const [status] = yield* Projection.status("totals")
        expect(status?.state).toBe("failed")
        expect(Option.getOrElse(status?.error ?? Option.none(), () => "")).toMatch(/cannot apply 3/)
        expect(status?.lag).toBeGreaterThan(0)
      }).pipe(Effect.provide(stores))
    )

    it.live("park policy: the event is parked whole with its cause, the rest goes on, and it replays once fixed", () =>
      Effect.gen(function* () {
        const { projection, fix } = yield* ReadModel.make({ failOn: (amount) => amount === 3 })
        yield* seed(1, 5)
        yield* Projection.catchUp(projection, { ...fast, onFailure: "park", waitForLease }).pipe(Stream.runDrain)
        expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w0")).toEqual([expectedTotal(5) - 3, 5])
        const parked = yield* Projection.parked({ name: "totals", version: 1 })
        expect(parked).toHaveLength(1)
        expect(parked[0]?.reason).toMatch(/cannot apply 3/)
        const store = yield* EventStore.EventStore
        const original = Chunk.toReadonlyArray(
          yield* Stream.runCollect(store.read(StreamId.forAggregate("Wallet", "w0")))
        ).find((e) => e.eventId === parked[0]?.event.eventId)
        expect(parked[0]?.event).toEqual(original)
        expect((yield* Projection.status("totals"))[0]?.parked).toBe(1)
        expect((yield* Projection.replayParked(projection)).stillFailing).toHaveLength(1)
        yield* fix
        expect(yield* Projection.replayParked(projection)).toEqual({ replayed: 1, stillFailing: [] })
        expect(yield* Projection.parked({ name: "totals", version: 1 })).toHaveLength(0)
        yield* exactlyOnce("totals", 1)
      }).pipe(Effect.provide(stores))
    )

    it.live("blue/green: v1's table serves while v2 builds, v2 takes over once caught up, drop removes v1", () =>
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const v1 = yield* ReadModel.make({ version: 1 })
        const v2 = yield* ReadModel.make({ version: 2, setup: Deferred.await(gate) })
        yield* seed(2, 4)
        yield* Projection.catchUp(v1.projection, { waitForLease }).pipe(Stream.runDrain)
        const projections = yield* ProjectionStore.ProjectionStore
        expect(yield* projections.activeVersion("totals")).toEqual(Option.some(1))
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* Layer.build(Projection.layer(v2.projection, fast))
            // v2 is registered but held back: v1 is active and its table complete
            yield* projections
              .get({ name: "totals", version: 2 })
              .pipe(
                Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: Option.isSome }),
                Effect.timeout("5 seconds")
              )
            const building = yield* Projection.status("totals")
            expect(building.map((s) => [s.version, s.active])).toEqual([
              [1, true],
              [2, false]
            ])
            expect((yield* ReadModel.totals("totals", 1)).get("Wallet-w1")).toEqual([expectedTotal(4), 5])
            expect(tagOf(yield* Effect.flip(Projection.drop(v1.projection)))).toBe("ProjectionActive")
            yield* Deferred.succeed(gate, undefined)
            yield* projections
              .activeVersion("totals")
              .pipe(
                Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (v) => Option.contains(v, 2) }),
                Effect.timeout("10 seconds")
              )
            yield* exactlyOnce("totals", 2)
            expect((yield* Projection.status("totals")).map((s) => [s.version, s.active])).toEqual([
              [1, false],
              [2, true]
            ])
          })
        )
        yield* Projection.drop(v1.projection)
        expect((yield* Projection.status("totals")).map((s) => s.version)).toEqual([2])
        const gone = yield* Effect.either(ReadModel.totals("totals", 1))
        expect(Either.isLeft(gone)).toBe(true)
        expect(tagOf(yield* Effect.flip(Projection.drop(v2.projection)))).toBe("ProjectionActive")
      }).pipe(Effect.provide(stores))
    )

    it.live("waitFor fails with a typed ProjectionTimeout, and ProjectionNotFound for unknown names", () =>
      Effect.gen(function* () {
        const { projection } = yield* ReadModel.make()
        yield* seed(1, 1)
        yield* Projection.catchUp(projection, { waitForLease }).pipe(Stream.runDrain)
        const last = yield* seed(1, 2, "later")
        const error = yield* Effect.flip(Projection.waitFor("totals", last, { timeout: "150 millis" }))
        expect(error._tag).toBe("ProjectionTimeout")
        expect(error.message).toMatch(/did not reach position/)
        const missing = yield* Effect.flip(Projection.waitFor("nope", last, { timeout: "50 millis" }))
        expect(missing._tag).toBe("ProjectionNotFound")
      }).pipe(Effect.provide(stores))
    )

    it.live(
      "fencing: a checkpoint write by an owner whose lease expired is refused, and its transaction rolls back",
      () =>
        Effect.gen(function* () {
          const projections = yield* ProjectionStore.ProjectionStore
          const sql = yield* SqlClient.SqlClient
          const key = { name: "fenced", version: 1 }
          yield* projections.register(key, { categories: ["Wallet"] })
          yield* sql`CREATE TABLE fenced_rm (n INTEGER NOT NULL)`
          const ttl = Duration.millis(300)
          expect(yield* projections.acquireLease(key, "a", ttl)).toBe(true)
          expect(yield* projections.acquireLease(key, "b", ttl)).toBe(false)
          expect(yield* projections.acquireLease(key, "a", ttl)).toBe(true)
          yield* projections.saveCheckpoint(key, Position.make(0n, 5n), "a")
          expect(tagOf(yield* Effect.flip(projections.saveCheckpoint(key, Position.make(0n, 6n), "b")))).toBe(
            "LeaseLostError"
          )
          yield* Effect.sleep("450 millis")
          // a's lease has expired: its write (with the read model's) is refused
          const refused = yield* Effect.flip(
            projections.transaction(
              Effect.zipRight(
                sql`INSERT INTO fenced_rm (n) VALUES (1)`,
                projections.saveCheckpoint(key, Position.make(0n, 7n), "a")
              )
            )
          )
          expect(refused).toBeInstanceOf(ProjectionStore.LeaseLostError)
          const Count = Schema.Array(Schema.Struct({ n: Schema.Number }))
          expect(yield* Effect.flatMap(sql`SELECT n FROM fenced_rm`, Schema.decodeUnknown(Count))).toEqual([])
          expect(Option.flatMap(yield* projections.get(key), (r) => r.checkpoint)).toEqual(
            Option.some(Position.make(0n, 5n))
          )
          // b takes over; a stays fenced out
          expect(yield* projections.acquireLease(key, "b", ttl)).toBe(true)
          expect(tagOf(yield* Effect.flip(projections.resetCheckpoint(key, "a")))).toBe("LeaseLostError")
          yield* projections.saveCheckpoint(key, Position.make(0n, 8n), "b")
          yield* projections.releaseLease(key, "a")
          expect(yield* projections.acquireLease(key, "a", ttl)).toBe(false)
          yield* projections.releaseLease(key, "b")
          expect(yield* projections.acquireLease(key, "a", ttl)).toBe(true)
          yield* projections.resetCheckpoint(key, "a")
          expect(Option.flatMap(yield* projections.get(key), (r) => r.checkpoint)).toEqual(Option.none())
        }).pipe(Effect.provide(stores))
    )

    it.live("records, filters, one active version, parked events and removal behave like the in-memory store", () =>
      Effect.gen(function* () {
        const sqlStore = yield* ProjectionStore.ProjectionStore
        const memory = yield* ProjectionStore.makeMemory
        const stored: Event.StoredEvent = {
          eventId: crypto.randomUUID(),
          streamId: StreamId.forAggregate("Wallet", "p"),
          version: 3,
          position: Position.make(123_456_789_012n, 42n),
          type: "Deposited",
          schemaVersion: 1,
          data: { amount: 5, nested: { list: [1, "two", null] } },
          metadata: { correlationId: "corr", causationId: null, user: { tenant: "acme" } },
          recordedAt: DateTime.unsafeMake(1_700_000_000_123)
        }
        const script = (store: ProjectionStore.ProjectionStore["Type"]) =>
          Effect.gen(function* () {
            const a1 = { name: "a", version: 1 }
            const a2 = { name: "a", version: 2 }
            yield* store.register(a1, { categories: ["Wallet"] })
            yield* store.register(a2, { types: ["Deposited"] })
            yield* store.register(a1, { categories: ["Wallet"], types: ["Opened", "Deposited"] })
            const none = yield* store.activeVersion("a")
            yield* store.activate(a1)
            const first = yield* store.activeVersion("a")
            yield* store.activate(a2)
            const second = yield* store.activeVersion("a")
            yield* store.setState(a2, "failed", "boom")
            yield* store.setState(a1, "running")
            yield* store.setState({ name: "missing", version: 1 }, "running")
            expect(yield* store.acquireLease(a1, "me", Duration.seconds(5))).toBe(true)
            yield* store.saveCheckpoint(a1, stored.position, "me")
            yield* store.park(a1, stored, "bad data")
            yield* store.park({ name: "unregistered", version: 1 }, stored, "ignored")
            const parked = (yield* store.parked(a1)).map((p) => [p.key, p.event, p.reason])
            const unregistered = yield* store.parked({ name: "unregistered", version: 1 })
            yield* store.unpark(a1, stored.eventId)
            const afterUnpark = yield* store.parked(a1)
            yield* store.park(a2, stored, "again")
            const list = (yield* store.list).map((r) => [
              r.name,
              r.version,
              r.checkpoint,
              r.state,
              r.error,
              r.filter,
              r.active
            ])
            yield* store.remove(a2)
            const afterRemove = (yield* store.list).map((r) => [r.name, r.version])
            const parkedAfterRemove = yield* store.parked(a2)
            const got = Option.map(yield* store.get(a1), (r) => [r.checkpoint, r.state])
            return { none, first, second, parked, unregistered, afterUnpark, list, afterRemove, parkedAfterRemove, got }
          })
        const fromSql = yield* script(sqlStore)
        const fromMemory = yield* script(memory)
        expect(fromSql).toEqual(fromMemory)
        expect(fromSql.parked).toHaveLength(1)
        expect(fromSql.list).toHaveLength(2)
      }).pipe(Effect.provide(stores))
    )
  })
}

describe("SqlProjectionStore on one SQLite file from two connections (as two processes would)", () => {
  it.live("the lease row in the database file keeps one holder at a time", () =>
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
      const ttl = Duration.millis(300)
      expect(yield* a.acquireLease(key, "a", ttl)).toBe(true)
      expect(yield* b.acquireLease(key, "b", ttl)).toBe(false)
      yield* a.saveCheckpoint(key, Position.make(0n, 1n), "a")
      expect(tagOf(yield* Effect.flip(b.saveCheckpoint(key, Position.make(0n, 2n), "b")))).toBe("LeaseLostError")
      yield* Effect.sleep("400 millis")
      expect(yield* b.acquireLease(key, "b", ttl)).toBe(true)
      expect(tagOf(yield* Effect.flip(a.saveCheckpoint(key, Position.make(0n, 3n), "a")))).toBe("LeaseLostError")
      yield* b.saveCheckpoint(key, Position.make(0n, 4n), "b")
      expect(Option.flatMap(yield* a.get(key), (r) => r.checkpoint)).toEqual(Option.some(Position.make(0n, 4n)))
    }).pipe(Effect.scoped)
  )
})
