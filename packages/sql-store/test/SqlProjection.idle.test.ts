/**
 * A filtered projection on the SQL stores while none of its events come:
 * its checkpoint moves past the events it skips (the feed's scanned-up-to
 * position), `waitFor` of a skipped event's position completes, a restart
 * resumes from there; on PostgreSQL the scanned-up-to position never passes
 * an event of a transaction still in flight.
 */
import { EventStore, Position, Projection, ProjectionStore, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Ref, Schedule, Schema, Stream } from "effect"
import { SqlStores } from "../src/index.js"
import { backends } from "./support/backends.js"

const { eventData } = EventStoreConformance

const fast = { pollInterval: "20 millis", leaseTtl: "5 seconds" } as const
const key = { name: "idle-mine", version: 1 }

const makeCounting = Effect.gen(function* () {
  const applied = yield* Ref.make<ReadonlyArray<number>>([])
  const projection = Projection.make({
    name: key.name,
    events: Schema.TaggedStruct("Mine", { i: Schema.Number }),
    categories: ["Mine"],
    handle: (recorded) => Ref.update(applied, (all) => [...all, recorded.event.i])
  })
  return { projection, applied }
})

const checkpointOf = Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
  Effect.map(projections.get(key), (record) =>
    Option.getOrElse(
      Option.flatMap(record, (r) => r.checkpoint),
      () => Position.start
    )
  )
)

const appendTo = (category: string, id: string, events: number, offset = 0) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    Effect.map(
      store.append(
        StreamId.forAggregate(category, id),
        Array.from({ length: events }, (_, i) => eventData(category, { i: offset + i }))
      ),
      (result) => result.positions[result.positions.length - 1] ?? Position.start
    )
  )

/** Records where each scanned subscription starts. */
const recording = (store: EventStore.EventStore["Type"], froms: Ref.Ref<ReadonlyArray<Position.Position>>) => {
  const inner = store.subscribeScanned
  return EventStore.EventStore.of(
    inner === undefined
      ? store
      : {
          ...store,
          subscribeScanned: (options) =>
            Stream.unwrap(
              Effect.as(
                Ref.update(froms, (all) => [...all, options?.from ?? Position.start]),
                inner(options)
              )
            )
        }
  )
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`a filtered projection while idle (${backend.name})`, () => {
    const stores = SqlStores.layer().pipe(Layer.provideMerge(backend.sql))

    it.live("checkpoints past skipped events, waitFor of a skipped position completes, a restart resumes there", () =>
      Effect.gen(function* () {
        const froms = yield* Ref.make<ReadonlyArray<Position.Position>>([])
        const { projection, applied } = yield* makeCounting
        const runner = (owner: string) =>
          Layer.build(Projection.layer(projection, { ...fast, owner })).pipe(
            Effect.provideServiceEffect(
              EventStore.EventStore,
              Effect.map(EventStore.EventStore, (store) => recording(store, froms))
            )
          )
        const own = yield* appendTo("Mine", "1", 1)
        const otherLast = yield* Effect.scoped(
          Effect.gen(function* () {
            yield* runner("first")
            yield* Projection.waitFor(key.name, own, { timeout: "20 seconds" })
            let last = Position.start
            for (let i = 0; i < 30; i++) last = yield* appendTo("Other", `${i}`, 10)
            yield* Projection.waitFor(key.name, last, { timeout: "20 seconds" })
            yield* checkpointOf.pipe(
              Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (p) => Position.isAtOrAfter(p, last) }),
              Effect.timeout("20 seconds")
            )
            expect(yield* checkpointOf).toEqual(last)
            return last
          })
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* runner("second")
            const next = yield* appendTo("Mine", "1", 1, 1)
            yield* Projection.waitFor(key.name, next, { timeout: "20 seconds" })
          })
        )
        const starts = yield* Ref.get(froms)
        expect(starts).toEqual([Position.start, otherLast])
        expect(yield* Ref.get(applied)).toEqual([0, 1])
      }).pipe(Effect.provide(stores))
    )

    if (backend.dialect === "pg") {
      it.live("the scanned-up-to position never passes an event of a transaction still in flight", () =>
        Effect.gen(function* () {
          const store = yield* EventStore.EventStore
          const sql = yield* SqlClient.SqlClient
          const subscribe = store.subscribeScanned
          if (subscribe === undefined) return yield* Effect.die("the SQL store scans")
          const { projection, applied } = yield* makeCounting
          yield* Effect.scoped(
            Effect.gen(function* () {
              yield* Layer.build(Projection.layer(projection, fast))
              const scanned = yield* Ref.make<ReadonlyArray<Position.Position>>([])
              yield* subscribe({ categories: ["Mine"], pollInterval: "10 millis" }).pipe(
                Stream.runForEach((batch) => Ref.update(scanned, (all) => [...all, batch.scannedTo])),
                Effect.forkScoped
              )
              // A transaction appends an event of the projection and stays open...
              const held = yield* Deferred.make<Position.Position>()
              const release = yield* Deferred.make<void>()
              const tx = yield* sql
                .withTransaction(
                  Effect.gen(function* () {
                    yield* Deferred.succeed(held, yield* appendTo("Mine", "held", 1))
                    yield* Deferred.await(release)
                  })
                )
                .pipe(Effect.fork)
              const heldAt = yield* Deferred.await(held)
              // ...while later transactions commit other events after it.
              let last = Position.start
              for (let i = 0; i < 5; i++) last = yield* appendTo("Other", `${i}`, 10)
              expect(Position.isAfter(last, heldAt)).toBe(true)
              yield* Effect.sleep("500 millis")
              for (const position of yield* Ref.get(scanned)) expect(Position.isAfter(heldAt, position)).toBe(true)
              expect(Position.isAfter(heldAt, yield* checkpointOf)).toBe(true)
              expect(yield* Ref.get(applied)).toEqual([])
              yield* Deferred.succeed(release, undefined)
              yield* Fiber.join(tx)
              yield* Projection.waitFor(key.name, last, { timeout: "20 seconds" })
              expect(yield* Ref.get(applied)).toEqual([0])
              const seen = yield* Ref.get(scanned)
              expect(seen.some((p) => Position.isAtOrAfter(p, last))).toBe(true)
            })
          )
        }).pipe(Effect.provide(stores))
      )
    }
  })
}
