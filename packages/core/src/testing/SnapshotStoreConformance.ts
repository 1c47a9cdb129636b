/**
 * The SnapshotStore conformance suite: the contract every snapshot store
 * backend passes (save and load round trips, the newest snapshot within
 * bounds, one snapshot per stream version, background saves), written once
 * and registered against the in-memory store, SQLite and PostgreSQL.
 *
 * Every test works in streams of its own, so the suite can run against a
 * shared, non-empty database.
 *
 * @since 0.2.0
 */
import { describe, expect, layer } from "@effect/vitest"
import { DateTime, Effect, FastCheck, type Layer, Option, Schedule } from "effect"
import * as Position from "../Position.js"
import * as SnapshotStore from "../SnapshotStore.js"
import * as StreamId from "../StreamId.js"

const uniqueStream = (label: string): StreamId.StreamId =>
  StreamId.forAggregate(`${label}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`, "1")

const snapshotAt = (
  streamId: StreamId.StreamId,
  version: number,
  overrides?: Partial<Omit<SnapshotStore.Snapshot, "streamId" | "version">>
): SnapshotStore.Snapshot => ({
  streamId,
  version,
  stateVersion: 1,
  state: { version },
  position: Position.make(0n, BigInt(version)),
  recordedAt: DateTime.unsafeMake(1_700_000_000_000 + version * 1000),
  ...overrides
})

/** What a load must see of a snapshot (its recorded time to the millisecond). */
const view = (snapshot: Option.Option<SnapshotStore.Snapshot>) =>
  Option.map(snapshot, (s) => ({
    streamId: s.streamId,
    version: s.version,
    stateVersion: s.stateVersion,
    state: s.state,
    position: Position.encode(s.position),
    recordedAt: DateTime.toEpochMillis(s.recordedAt)
  }))

/** The reference: the snapshot with the highest version within every bound. */
const expected = (
  saved: ReadonlyArray<SnapshotStore.Snapshot>,
  bounds: SnapshotStore.Bounds
): Option.Option<SnapshotStore.Snapshot> => {
  const within = saved.filter(
    (s) =>
      (bounds.maxVersion === undefined || s.version <= bounds.maxVersion) &&
      (bounds.maxPosition === undefined || Position.isAtOrAfter(bounds.maxPosition, s.position)) &&
      (bounds.maxRecordedAt === undefined ||
        DateTime.toEpochMillis(s.recordedAt) <= DateTime.toEpochMillis(bounds.maxRecordedAt))
  )
  return Option.fromNullable([...within].sort((a, b) => b.version - a.version)[0])
}

/**
 * Registers the suite against a layer providing a `SnapshotStore`.
 *
 * @example
 * ```ts
 * import { SnapshotStore } from "@chronicle/core"
 * import { SnapshotStoreConformance } from "@chronicle/core/testing"
 *
 * SnapshotStoreConformance.suite("in memory", SnapshotStore.layerMemory)
 * ```
 * @since 0.2.0
 * @category suites
 */
export const suite = (name: string, storeLayer: Layer.Layer<SnapshotStore.SnapshotStore, unknown>): void => {
  describe(`SnapshotStore conformance: ${name}`, () => {
    layer(storeLayer, { excludeTestServices: true, timeout: "60 seconds" })((it) => {
      it.effect("a stream with no snapshot loads none", () =>
        Effect.gen(function* () {
          const store = yield* SnapshotStore.SnapshotStore
          expect(yield* store.load(uniqueStream("None"))).toEqual(Option.none())
        })
      )

      it.effect("a snapshot round-trips whole: state, versions, position and recorded time", () =>
        Effect.gen(function* () {
          const store = yield* SnapshotStore.SnapshotStore
          const streamId = uniqueStream("Whole")
          const snapshot = snapshotAt(streamId, 7, {
            stateVersion: 3,
            state: { owner: "Zoë ✓", balance: -12_345, tags: ["a", "b"], nested: { ok: true, none: null }, empty: [] },
            // the largest a SQLite INTEGER read as a JavaScript number keeps exactly
            position: Position.make(123_456_789_012n, 9_007_199_254_740_991n),
            recordedAt: DateTime.unsafeMake(1_700_000_000_123)
          })
          yield* store.save(snapshot)
          expect(view(yield* store.load(streamId))).toEqual(view(Option.some(snapshot)))
          // version 0 (the state before the first event) is a version too
          const empty = uniqueStream("Zero")
          yield* store.save(snapshotAt(empty, 0, { state: { open: false } }))
          expect(Option.map(yield* store.load(empty), (s) => [s.version, s.state])).toEqual(
            Option.some([0, { open: false }])
          )
        })
      )

      it.effect(
        "load returns the highest version, whatever the order of saves; saving a version again replaces it",
        () =>
          Effect.gen(function* () {
            const store = yield* SnapshotStore.SnapshotStore
            const streamId = uniqueStream("Newest")
            for (const version of [5, 2, 9, 3]) yield* store.save(snapshotAt(streamId, version))
            expect(Option.map(yield* store.load(streamId), (s) => s.version)).toEqual(Option.some(9))
            yield* store.save(snapshotAt(streamId, 9, { stateVersion: 2, state: { replaced: true } }))
            expect(Option.map(yield* store.load(streamId), (s) => [s.version, s.stateVersion, s.state])).toEqual(
              Option.some([9, 2, { replaced: true }])
            )
            expect(Option.map(yield* store.load(streamId, { maxVersion: 8 }), (s) => s.version)).toEqual(Option.some(5))
          })
      )

      it.effect("streams are separate, even when one's id starts with another's", () =>
        Effect.gen(function* () {
          const store = yield* SnapshotStore.SnapshotStore
          const category = `Sep${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
          const one = StreamId.forAggregate(category, "1")
          const ten = StreamId.forAggregate(category, "10")
          yield* store.save(snapshotAt(ten, 4))
          expect(yield* store.load(one)).toEqual(Option.none())
          yield* store.save(snapshotAt(one, 2))
          expect(Option.map(yield* store.load(one), (s) => s.version)).toEqual(Option.some(2))
          expect(Option.map(yield* store.load(ten), (s) => s.version)).toEqual(Option.some(4))
        })
      )

      it.effect("bounds that admit nothing (negative or NaN version, a position or time before all) load none", () =>
        Effect.gen(function* () {
          const store = yield* SnapshotStore.SnapshotStore
          const streamId = uniqueStream("Nothing")
          yield* store.save(snapshotAt(streamId, 3))
          for (const bounds of [
            { maxVersion: -1 },
            { maxVersion: Number.NaN },
            { maxVersion: 2.5 - 1 },
            { maxPosition: Position.start },
            { maxRecordedAt: DateTime.unsafeMake(0) }
          ]) {
            expect(yield* store.load(streamId, bounds)).toEqual(Option.none())
          }
          expect(Option.map(yield* store.load(streamId, { maxVersion: 3.5 }), (s) => s.version)).toEqual(Option.some(3))
        })
      )

      it.effect.prop(
        "for any snapshots and bounds, load picks the newest snapshot within every bound",
        [
          FastCheck.uniqueArray(
            FastCheck.record({
              version: FastCheck.integer({ min: 0, max: 12 }),
              commit: FastCheck.integer({ min: 0, max: 3 }),
              sequence: FastCheck.integer({ min: 0, max: 40 }),
              millis: FastCheck.integer({ min: 0, max: 100_000 })
            }),
            { maxLength: 8, selector: (s) => s.version }
          ),
          FastCheck.array(
            FastCheck.record(
              {
                maxVersion: FastCheck.integer({ min: -1, max: 13 }),
                maxPosition: FastCheck.tuple(
                  FastCheck.integer({ min: 0, max: 3 }),
                  FastCheck.integer({ min: 0, max: 40 })
                ),
                maxRecordedAt: FastCheck.integer({ min: 0, max: 100_000 })
              },
              { requiredKeys: [] }
            ),
            { minLength: 1, maxLength: 6 }
          )
        ],
        ([saved, queries]) =>
          Effect.gen(function* () {
            const store = yield* SnapshotStore.SnapshotStore
            const streamId = uniqueStream("Bounds")
            const snapshots = saved.map((s, index) =>
              snapshotAt(streamId, s.version, {
                state: { index, nested: [s.version, "x"] },
                position: Position.make(BigInt(s.commit), BigInt(s.sequence)),
                recordedAt: DateTime.unsafeMake(s.millis)
              })
            )
            for (const snapshot of snapshots) yield* store.save(snapshot)
            for (const query of queries) {
              const bounds: SnapshotStore.Bounds = {
                maxVersion: query.maxVersion,
                maxPosition:
                  query.maxPosition === undefined
                    ? undefined
                    : Position.make(BigInt(query.maxPosition[0]), BigInt(query.maxPosition[1])),
                maxRecordedAt: query.maxRecordedAt === undefined ? undefined : DateTime.unsafeMake(query.maxRecordedAt)
              }
              expect(view(yield* store.load(streamId, bounds))).toEqual(view(expected(snapshots, bounds)))
            }
          }),
        { fastCheck: { numRuns: 25 } }
      )

      it.effect("a snapshot saved in the background becomes visible", () =>
        Effect.gen(function* () {
          const store = yield* SnapshotStore.SnapshotStore
          const streamId = uniqueStream("Background")
          yield* store.saveInBackground(snapshotAt(streamId, 4))
          const found = yield* store.load(streamId).pipe(
            Effect.repeat({
              schedule: Schedule.identity<Option.Option<SnapshotStore.Snapshot>>().pipe(
                Schedule.addDelay(() => "10 millis")
              ),
              until: Option.isSome
            }),
            Effect.timeout("10 seconds")
          )
          expect(Option.map(found, (s) => s.version)).toEqual(Option.some(4))
        })
      )
    })
  })
}
