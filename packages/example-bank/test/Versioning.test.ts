/**
 * Event versioning on every backend the bank runs on (in memory, a SQLite
 * file, PostgreSQL): deposits stored as `MoneyDeposited` v1 `{ amount }`, the
 * shape releases before 0.2.0 wrote, are appended raw through the public
 * `EventStore` and read by the current code as v2 `{ amount, currency }` in
 * EUR, next to v2 events. The stores (events and snapshots) are built by
 * `BankStore.layer`, exactly as the CLI builds them.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventStore, SnapshotStore, StreamId } from "@chronicle/core"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Stream } from "effect"
import { Account, Bank, BankStore } from "../src/index.js"
import * as Postgres from "./support/postgres.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-versioning-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

type StoreLayer = Layer.Layer<BankStore.Stores, BankStore.BankStoreError>

const backends: ReadonlyArray<{ readonly name: string; readonly skip: boolean; readonly layer: () => StoreLayer }> = [
  { name: "in memory", skip: false, layer: () => BankStore.layer({ _tag: "Memory" }) },
  {
    name: "SQLite",
    skip: false,
    layer: () => BankStore.layer({ _tag: "Sqlite", filename: join(dir, `${crypto.randomUUID()}.db`) })
  },
  {
    name: "PostgreSQL",
    skip: !Postgres.available,
    layer: () =>
      Layer.unwrapScoped(Effect.map(Postgres.freshSchema, (url) => BankStore.layer({ _tag: "Postgres", url })))
  }
]

const eur = (amount: number) => new Account.MoneyDeposited({ amount, currency: "EUR" })

/** Writes events as an older release did: raw, through the public EventStore. */
const appendRaw = (accountId: string, events: ReadonlyArray<{ readonly type: string; readonly data: unknown }>) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    store.append(
      StreamId.forAggregate("Account", accountId),
      events.map((event) => ({ eventId: crypto.randomUUID(), schemaVersion: 1, ...event }))
    )
  )

const storedRows = (accountId: string) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    Effect.map(Stream.runCollect(store.read(StreamId.forAggregate("Account", accountId))), Chunk.toReadonlyArray)
  )

for (const backend of backends) {
  describe.skipIf(backend.skip)(`versioning on ${backend.name}`, () => {
    it.effect("a MoneyDeposited stored as v1 { amount } is read as v2 in EUR, next to v2 events, never rewritten", () =>
      Effect.gen(function* () {
        yield* appendRaw("old-1", [
          { type: "AccountOpened", data: { owner: "Olga", overdraftLimit: 0 } },
          { type: "MoneyDeposited", data: { amount: 1_234 } }
        ])
        yield* Bank.deposit("old-1", 100)

        const recorded = yield* Bank.events("old-1")
        expect(recorded.map((r) => [r.type, r.schemaVersion, r.event])).toEqual([
          ["AccountOpened", 1, new Account.AccountOpened({ owner: "Olga", overdraftLimit: 0 })],
          ["MoneyDeposited", 1, eur(1_234)],
          ["MoneyDeposited", 2, eur(100)]
        ])
        expect(Account.balanceOf((yield* Bank.balance("old-1")).state)).toBe(1_334)

        // Writes store the current version; the v1 row is left as it was.
        const rows = yield* storedRows("old-1")
        expect(rows.map((row) => [row.schemaVersion, row.data])).toEqual([
          [1, { owner: "Olga", overdraftLimit: 0 }],
          [1, { amount: 1_234 }],
          [2, { amount: 100, currency: "EUR" }]
        ])
      }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(backend.layer()))))
    )

    it.effect("history, loadAt and the store's snapshots agree over a stream mixing v1 and v2 deposits", () =>
      Effect.gen(function* () {
        yield* Bank.open("mixed-1", { owner: "Max", overdraftLimit: 0 })
        for (let i = 1; i <= 6; i++) {
          yield* i % 2 === 0 ? Bank.appendLegacyDeposit("mixed-1", i * 100) : Bank.deposit("mixed-1", i * 100)
        }
        const entries = yield* Bank.history("mixed-1")
        expect(entries.map((e) => e.schemaVersion)).toEqual([1, 2, 1, 2, 1, 2, 1])
        expect(entries.map((e) => Account.balanceOf(e.stateAfter))).toEqual([0, 100, 300, 600, 1_000, 1_500, 2_100])
        for (const entry of entries) {
          const past = yield* Bank.balanceAt("mixed-1", { version: entry.version })
          expect(past._tag === "Existed" && past.state).toEqual(entry.stateAfter)
          const asOf = yield* Bank.balanceAt("mixed-1", { at: entry.recordedAt })
          expect(asOf._tag === "Existed" && asOf.version).toBeGreaterThanOrEqual(entry.version)
        }
        expect((yield* Bank.balance("mixed-1")).state).toEqual(entries[6]?.stateAfter)

        // The bank snapshotted the account in the backend's own snapshot store, after the first command
        // that found at least 5 events since the last snapshot: version 6 (version 5 was a raw append).
        const snapshots = yield* SnapshotStore.SnapshotStore
        const newest = yield* snapshots.load(StreamId.forAggregate("Account", "mixed-1"))
        expect(Option.map(newest, (s) => [s.version, s.stateVersion, s.state])).toEqual(
          Option.some([6, 1, { _tag: "Open", owner: "Max", overdraftLimit: 0, balance: 1_500 }])
        )
      }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(backend.layer()))))
    )

    it.effect("a v1 deposit whose payload no longer decodes is a typed EventDecodeError, never a defect", () =>
      Effect.gen(function* () {
        yield* appendRaw("broken-1", [
          { type: "AccountOpened", data: { owner: "Bea", overdraftLimit: 0 } },
          { type: "MoneyDeposited", data: { amount: -5 } }
        ])
        const error = yield* Effect.flip(Bank.balance("broken-1"))
        expect(error._tag).toBe("EventDecodeError")
        expect(error.message).toContain("MoneyDeposited v1")
      }).pipe(Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(backend.layer()))))
    )
  })
}
