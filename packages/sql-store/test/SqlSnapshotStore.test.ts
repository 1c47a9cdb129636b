/**
 * Issue 4 on SQL: versioned events written by an older release, snapshots
 * and temporal queries, on SQLite (memory and file) and PostgreSQL.
 */
import { EventStore, Position, Repository, SnapshotStore, StreamId } from "@chronicle/core"
import { SnapshotStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Arbitrary, Chunk, DateTime, Effect, FastCheck, Layer, Logger, Option, Schema, Stream, TestClock } from "effect"
import { SqlEventStore, SqlSnapshotStore } from "../src/index.js"
import { backends } from "./support/backends.js"
import { Deposit, Deposited, evolve, initialState, Open, Opened, Wallet, WalletCommand } from "./support/Wallet.js"

/** Captures warnings logged while `self` runs. */
const capturingWarnings = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const messages: Array<string> = []
    const logger = Logger.make(({ message }) => {
      messages.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* self.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return [result, messages] as const
  })

const uniqueId = (prefix: string) => `${prefix}${crypto.randomUUID().slice(0, 8)}`

const strategies = FastCheck.oneof(
  FastCheck.integer({ min: 1, max: 6 }).map((n) => SnapshotStore.every(n)),
  FastCheck.constant(SnapshotStore.never),
  FastCheck.constant<SnapshotStore.Strategy<typeof Wallet.initialState>>(({ state }) => state.balance % 2 === 0)
)
const commands = FastCheck.array(Arbitrary.make(WalletCommand), { maxLength: 20 })

const VersionRows = Schema.Array(Schema.Struct({ version: Schema.Union(Schema.Number, Schema.NumberFromString) }))

const snapshotVersions = (streamId: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT version FROM chronicle_snapshots WHERE stream_id = ${streamId} ORDER BY version`
    return (yield* Schema.decodeUnknown(VersionRows)(rows)).map((r) => r.version)
  })

const t0 = DateTime.unsafeMake("2026-01-01T10:00:00Z")
const minute = (n: number) => DateTime.add(t0, { minutes: n })

for (const backend of backends) {
  // settleTimeout 0: no PostgreSQL read waits on other transactions, so
  // nothing sleeps under the TestClock.
  const stores = Layer.mergeAll(SqlEventStore.layer({ settleTimeout: 0 }), SqlSnapshotStore.layer()).pipe(
    Layer.provideMerge(backend.sql)
  )

  describe.skipIf(backend.skip)(`SqlSnapshotStore (${backend.name})`, () => {
    SnapshotStoreConformance.suite(backend.name, SqlSnapshotStore.layer().pipe(Layer.provide(backend.sql)))
  })

  describe.skipIf(backend.skip)(`Versioning, snapshots and temporal queries (${backend.name})`, () => {
    layer(stores, { timeout: "30 seconds" })((it) => {
      it.effect("rows an older release wrote (v1, and a renamed type) load in the current shape", () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const id = uniqueId("legacy")
          const streamId = StreamId.forAggregate("Wallet", id)
          const metadata = JSON.stringify({ correlationId: "legacy", causationId: null, user: {} })
          const rows: ReadonlyArray<readonly [string, unknown]> = [
            ["Opened", { owner: "ann" }],
            ["FundsAdded", { amount: 5 }],
            ["Deposited", { amount: 7 }]
          ]
          // What the older release wrote: every event at schema version 1.
          yield* sql.withTransaction(
            Effect.gen(function* () {
              yield* backend.dialect === "pg"
                ? sql`INSERT INTO chronicle_streams (stream_id, version, last_transaction_id)
                    VALUES (${streamId}, ${rows.length}, pg_current_xact_id())`
                : sql`INSERT INTO chronicle_streams (stream_id, version) VALUES (${streamId}, ${rows.length})`
              for (const [index, [type, data]] of rows.entries()) {
                const json = JSON.stringify(data)
                yield* backend.dialect === "pg"
                  ? sql`INSERT INTO chronicle_events
                      (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
                      VALUES (${crypto.randomUUID()}::uuid, ${streamId}, ${index + 1}, ${type}, 1, ${json}::json,
                        ${metadata}::json, now())`
                  : sql`INSERT INTO chronicle_events
                      (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at)
                      VALUES (${crypto.randomUUID()}, ${streamId}, ${index + 1}, ${type}, 1, ${json},
                        ${metadata}, ${new Date().toISOString()})`
              }
            })
          )
          const wallets = yield* Repository.make(Wallet, { cache: false })
          const loaded = yield* wallets.load(id)
          expect(loaded.state).toEqual({ owner: "ann", balance: 12, deposits: 2 })
          const history = Chunk.toReadonlyArray(yield* Stream.runCollect(wallets.history(id)))
          expect(history.map((h) => h.event)).toEqual([
            new Opened({ owner: "ann" }),
            new Deposited({ amount: 5, currency: "EUR" }),
            new Deposited({ amount: 7, currency: "EUR" })
          ])
          // New writes store the current version; the old rows stay as they were.
          yield* wallets.execute(id, new Deposit({ amount: 10, currency: "USD" }))
          expect((yield* wallets.load(id)).state.balance).toBe(22)
          const store = yield* EventStore.EventStore
          const raw = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(streamId)))
          expect(raw.map((e) => [e.type, e.schemaVersion, e.data])).toEqual([
            ["Opened", 1, { owner: "ann" }],
            ["FundsAdded", 1, { amount: 5 }],
            ["Deposited", 1, { amount: 7 }],
            ["Deposited", 2, { amount: 10, currency: "USD" }]
          ])
        })
      )

      it.effect("a stored version with no upcaster path is a typed EventDecodeError naming type and versions", () =>
        Effect.gen(function* () {
          const id = uniqueId("future")
          const store = yield* EventStore.EventStore
          yield* store.append(StreamId.forAggregate("Wallet", id), [
            { eventId: crypto.randomUUID(), type: "Opened", schemaVersion: 1, data: { owner: "bob" } },
            { eventId: crypto.randomUUID(), type: "Deposited", schemaVersion: 9, data: { amount: 1 } }
          ])
          const wallets = yield* Repository.make(Wallet, { cache: false })
          const error = yield* Effect.flip(wallets.load(id))
          expect(error._tag).toBe("EventDecodeError")
          expect(error.message).toMatch(/Deposited/)
          expect(error.message).toMatch(/9/)
        })
      )

      it.effect.prop(
        "for random commands and strategies, the state loaded with snapshots equals the fold of all events",
        [commands, strategies],
        ([script, strategy]) =>
          Effect.gen(function* () {
            const wallets = yield* Repository.make(Wallet, { cache: false, snapshots: { strategy, mode: "inline" } })
            const id = uniqueId("prop")
            for (const command of [new Open({ owner: "ann" }), ...script]) {
              yield* Effect.either(wallets.execute(id, command))
            }
            const withSnapshots = yield* wallets.load(id)
            const events = yield* Stream.runCollect(wallets.events(id))
            const folded = Chunk.reduce(events, initialState, (s, e) => evolve(s, e.event))
            expect(withSnapshots.state).toEqual(folded)
            expect(withSnapshots.version).toBe(Chunk.size(events))
          }),
        { fastCheck: { numRuns: 15 } }
      )

      it.effect("every(n) writes snapshots where expected, and load reads only the events after the newest", () =>
        Effect.gen(function* () {
          const every3 = yield* Repository.make(Wallet, {
            cache: false,
            snapshots: { strategy: SnapshotStore.every(3), mode: "inline" }
          })
          const every2 = yield* Repository.make(Wallet, {
            cache: false,
            snapshots: { strategy: SnapshotStore.every(2), mode: "inline" }
          })
          const [a, b] = [uniqueId("e3-"), uniqueId("e2-")]
          for (const [repo, id] of [
            [every3, a],
            [every2, b]
          ] as const) {
            yield* repo.execute(id, new Open({ owner: "bob" }))
            for (let i = 1; i <= 6; i++) yield* repo.execute(id, new Deposit({ amount: i, currency: "EUR" }))
          }
          expect(yield* snapshotVersions(StreamId.forAggregate("Wallet", a))).toEqual([3, 6])
          expect(yield* snapshotVersions(StreamId.forAggregate("Wallet", b))).toEqual([2, 4, 6])
          const snapshots = yield* SnapshotStore.SnapshotStore
          const newest = yield* snapshots.load(StreamId.forAggregate("Wallet", a))
          expect(Option.map(newest, (s) => [s.version, s.stateVersion, s.state])).toEqual(
            Option.some([6, 1, { owner: "bob", balance: 15, deposits: 5 }])
          )
          // Plant a distinctive state at version 6: a load that reads it proves it skipped the events.
          if (Option.isSome(newest)) {
            yield* snapshots.save({ ...newest.value, state: { owner: "bob", balance: 999, deposits: 5 } })
          }
          const reloaded = yield* every3.load(a)
          expect([reloaded.version, reloaded.state.balance]).toEqual([7, 999 + 6])
          expect(yield* snapshotVersions(StreamId.forAggregate("Wallet", a))).toEqual([3, 6])
        })
      )

      const planted = (snapshot: { readonly stateVersion: number; readonly state: unknown }) =>
        Effect.gen(function* () {
          const id = uniqueId("planted")
          const wallets = yield* Repository.make(Wallet, { cache: false })
          yield* wallets.execute(id, new Open({ owner: "ann" }))
          const result = yield* wallets.execute(id, new Deposit({ amount: 5, currency: "EUR" }))
          const snapshots = yield* SnapshotStore.SnapshotStore
          yield* snapshots.save({
            streamId: StreamId.forAggregate("Wallet", id),
            version: 2,
            position: Option.getOrElse(result.position, () => Position.start),
            recordedAt: yield* DateTime.now,
            ...snapshot
          })
          return [wallets, id] as const
        })

      it.effect("a snapshot with another state version is ignored with a warning", () =>
        Effect.gen(function* () {
          const [wallets, id] = yield* planted({ stateVersion: 0, state: { owner: "x", balance: 999, deposits: 0 } })
          const [loaded, warnings] = yield* capturingWarnings(wallets.load(id))
          expect(loaded.state.balance).toBe(5)
          expect(warnings.join("\n")).toMatch(/state version 0, expected 1/)
        })
      )

      it.effect("a snapshot that fails to decode is ignored with a warning", () =>
        Effect.gen(function* () {
          const [wallets, id] = yield* planted({ stateVersion: 1, state: { owner: 42 } })
          const [loaded, warnings] = yield* capturingWarnings(wallets.load(id))
          expect(loaded.state.balance).toBe(5)
          expect(warnings.join("\n")).toMatch(/ignoring snapshot of Wallet-/)
        })
      )

      it.effect("a snapshot that cannot be stored fails save with a typed StoreError", () =>
        Effect.gen(function* () {
          const snapshots = yield* SnapshotStore.SnapshotStore
          const error = yield* Effect.flip(
            snapshots.save({
              streamId: StreamId.forAggregate("Bad", "1"),
              version: 1,
              stateVersion: 1,
              state: { big: 1n },
              position: Position.start,
              recordedAt: DateTime.unsafeMake(0)
            })
          )
          expect(error._tag).toBe("StoreError")
          expect(error.message).toMatch(/not JSON-serialisable/)
        })
      )

      it.effect.prop(
        "loadAt({ version: k }) equals the fold of the first k events, for all k (with snapshots in play)",
        [commands],
        ([script]) =>
          Effect.gen(function* () {
            const wallets = yield* Repository.make(Wallet, {
              cache: false,
              snapshots: { strategy: SnapshotStore.every(3), mode: "inline" }
            })
            const id = uniqueId("at")
            for (const command of [new Open({ owner: "bob" }), ...script]) {
              yield* Effect.either(wallets.execute(id, command))
            }
            const events = Chunk.toReadonlyArray(yield* Stream.runCollect(wallets.events(id)))
            for (let k = 0; k <= events.length; k++) {
              const expected = events.slice(0, k).reduce((s, e) => evolve(s, e.event), initialState)
              const loaded = yield* wallets.loadAt(id, { version: k })
              expect(loaded.state).toEqual(expected)
              expect(loaded.version).toBe(k)
            }
          }),
        { fastCheck: { numRuns: 10 } }
      )

      it.effect("at-queries: before the first event, between events, after the last; no newer snapshot is used", () =>
        Effect.gen(function* () {
          const wallets = yield* Repository.make(Wallet, {
            cache: false,
            snapshots: { strategy: SnapshotStore.every(2), mode: "inline" }
          })
          const id = uniqueId("clock")
          const steps = [
            [0, new Open({ owner: "ann" })],
            [10, new Deposit({ amount: 5, currency: "EUR" })],
            [20, new Deposit({ amount: 7, currency: "EUR" })],
            [30, new Deposit({ amount: 1, currency: "EUR" })]
          ] as const
          for (const [m, command] of steps) {
            yield* TestClock.setTime(DateTime.toEpochMillis(minute(m)))
            yield* wallets.execute(id, command)
          }
          // recordedAt comes from the Clock, in the database.
          const history = Chunk.toReadonlyArray(yield* Stream.runCollect(wallets.history(id)))
          expect(history.map((h) => DateTime.toEpochMillis(h.recordedAt))).toEqual(
            [0, 10, 20, 30].map((m) => DateTime.toEpochMillis(minute(m)))
          )
          const before = yield* wallets.loadAt(id, { at: DateTime.subtract(t0, { seconds: 1 }) })
          expect(before.version).toBe(0)
          expect(before.state).toEqual(initialState)
          expect(Option.isNone(before.position)).toBe(true)
          expect((yield* wallets.loadAt(id, { at: t0 })).version).toBe(1)
          const between = yield* wallets.loadAt(id, { at: minute(15) })
          expect([between.version, between.state.balance]).toEqual([2, 5])
          // Snapshots exist at versions 2 (minute 10) and 4 (minute 30). At minute 20
          // the one at version 4 is newer than the target and must not be used.
          expect(yield* snapshotVersions(StreamId.forAggregate("Wallet", id))).toEqual([2, 4])
          expect((yield* wallets.loadAt(id, { at: minute(20) })).state.balance).toBe(12)
          const after = yield* wallets.loadAt(id, { at: minute(999) })
          expect([after.version, after.state.balance]).toEqual([4, 13])
          // The snapshot at version 2 is used for targets at or after it: make it
          // distinctive, and only those targets see it.
          const snapshots = yield* SnapshotStore.SnapshotStore
          const second = yield* snapshots.load(StreamId.forAggregate("Wallet", id), { maxVersion: 2 })
          if (Option.isSome(second)) {
            yield* snapshots.save({ ...second.value, state: { owner: "ann", balance: 500, deposits: 1 } })
          }
          expect((yield* wallets.loadAt(id, { at: minute(5) })).state.balance).toBe(0)
          expect((yield* wallets.loadAt(id, { at: minute(15) })).state.balance).toBe(500)
          expect((yield* wallets.loadAt(id, { at: minute(20) })).state.balance).toBe(507)
          // Position targets use the same bound.
          const third = history[2]
          if (third !== undefined) {
            expect((yield* wallets.loadAt(id, { position: third.position })).state.balance).toBe(507)
          }
          const first = history[0]
          if (first !== undefined) {
            expect((yield* wallets.loadAt(id, { position: first.position })).state.owner).toBe("ann")
          }
        })
      )
    })
  })
}
