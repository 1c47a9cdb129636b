/**
 * Loads read a stream in pages and fold each as it arrives: a long stream
 * loads correctly across page boundaries, and a temporal query stops
 * reading at its target.
 */
import { EventStore, Repository, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck, Layer } from "effect"
import { Counter, Increment } from "./fixtures/Counter.js"

/** The in-memory store, recording every `readEvents` call and how many events it returned. */
const recording = (reads: Array<{ readonly from: number; readonly returned: number }>) =>
  Layer.effect(
    EventStore.EventStore,
    Effect.map(EventStore.EventStore, (store) => ({
      ...store,
      readEvents: (streamId: StreamId.StreamId, options?: EventStore.ReadStreamOptions) =>
        Effect.tap(store.readEvents(streamId, options), (events) =>
          Effect.sync(() => {
            reads.push({ from: options?.from ?? 1, returned: events.length })
          })
        )
    }))
  ).pipe(Layer.provide(EventStore.layerMemory()))

/** Appends `length` events to one counter's stream: opened with a high limit, then increments of 1..7. */
const fill = (id: string, length: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const stream = StreamId.forAggregate("Counter", id)
    const events = Array.from({ length }, (_, i) =>
      i === 0
        ? { eventId: crypto.randomUUID(), type: "Opened", schemaVersion: 1, data: { limit: 1_000_000 } }
        : { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: (i % 7) + 1 } }
    )
    for (let i = 0; i < events.length; i += 500) yield* store.append(stream, events.slice(i, i + 500))
  })

/** The count after the first `version` events of `fill`. */
const countAt = (version: number) => {
  let count = 0
  for (let i = 1; i < version; i++) count += (i % 7) + 1
  return count
}

describe("Repository loads in pages", () => {
  it.effect.prop(
    "a stream of any length loads the fold of all its events, whatever the page size",
    [FastCheck.integer({ min: 0, max: 1_200 }), FastCheck.integer({ min: 1, max: 150 })],
    ([length, pageSize]) => {
      const reads: Array<{ readonly from: number; readonly returned: number }> = []
      return Effect.gen(function* () {
        yield* fill("p", length)
        const counters = yield* Repository.make(Counter, { cache: false, pageSize })
        const loaded = yield* counters.load("p")
        expect(loaded.version).toBe(length)
        expect(loaded.state.count).toBe(countAt(length))
        expect(loaded.state.open).toBe(length > 0)
        // every page but the last is full, none is read twice, and no read holds more than a page
        expect(reads.every((read) => read.returned <= pageSize)).toBe(true)
        expect(reads.map((read) => read.from)).toEqual(reads.map((_, i) => 1 + i * pageSize))
        expect(reads.reduce((sum, read) => sum + read.returned, 0)).toBe(length)
        // a command after the load still decides on the whole stream
        if (length > 0) {
          const done = yield* counters.execute("p", new Increment({ by: 1 }))
          expect(done.version).toBe(length + 1)
          expect(done.state.count).toBe(countAt(length) + 1)
        }
      }).pipe(Effect.provide(recording(reads)))
    },
    { fastCheck: { numRuns: 40 } }
  )

  it.effect("a long stream (25,000 events) loads correctly in default pages", () => {
    const reads: Array<{ readonly from: number; readonly returned: number }> = []
    return Effect.gen(function* () {
      yield* fill("long", 25_000)
      const counters = yield* Repository.make(Counter, { cache: false })
      const loaded = yield* counters.load("long")
      expect(loaded.version).toBe(25_000)
      expect(loaded.state.count).toBe(countAt(25_000))
      expect(Math.max(...reads.map((read) => read.returned))).toBe(Repository.defaultPageSize)
      expect(reads.length).toBe(26)
    }).pipe(Effect.provide(recording(reads)))
  })

  it.effect.prop(
    "loadAt by version or position reads no page past the one holding its target",
    [FastCheck.integer({ min: 1, max: 900 }), FastCheck.integer({ min: 2, max: 100 }), FastCheck.boolean()],
    ([target, pageSize, byPosition]) => {
      const reads: Array<{ readonly from: number; readonly returned: number }> = []
      return Effect.gen(function* () {
        yield* fill("t", 1_000)
        const counters = yield* Repository.make(Counter, { cache: false, pageSize })
        const positionOf = (yield* counters.loadAt("t", { version: target })).position
        reads.length = 0
        const at = byPosition
          ? yield* counters.loadAt("t", {
              position: positionOf._tag === "Some" ? positionOf.value : yield* Effect.dieMessage("no position")
            })
          : yield* counters.loadAt("t", { version: target })
        expect(at.version).toBe(target)
        expect(at.state.count).toBe(countAt(target))
        const lastRead = Math.max(...reads.map((read) => read.from + read.returned - 1))
        // at most the page after the target's (the page may end exactly at the target)
        expect(lastRead).toBeLessThanOrEqual(target + pageSize)
        expect(reads.every((read) => read.from <= target + 1)).toBe(true)
      }).pipe(Effect.provide(recording(reads)))
    },
    { fastCheck: { numRuns: 30 } }
  )
})

/** `recording`, plus one external append slipped in before the next append once armed (a lost race). */
const racing = (reads: Array<{ readonly from: number; readonly returned: number }>, race: { armed: boolean }) =>
  Layer.effect(
    EventStore.EventStore,
    Effect.map(EventStore.EventStore, (store) => {
      return {
        ...store,
        append: (...args: Parameters<typeof store.append>) =>
          Effect.gen(function* () {
            if (race.armed) {
              race.armed = false
              yield* store.append(args[0], [
                { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1 } },
                { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1 } }
              ])
            }
            return yield* store.append(...args)
          })
      }
    })
  ).pipe(Layer.provide(recording(reads)))

describe("Repository retries after a conflict", () => {
  it.live.prop(
    "read only the events after the version they knew, with or without the cache",
    [FastCheck.integer({ min: 1, max: 40 }), FastCheck.boolean()],
    ([length, cached]) => {
      const reads: Array<{ readonly from: number; readonly returned: number }> = []
      const race = { armed: false }
      return Effect.gen(function* () {
        yield* fill("r", length)
        const counters = yield* Repository.make(Counter, cached ? {} : { cache: false })
        yield* counters.execute("r", new Increment({ by: 1 })) // with the cache on, the state is now cached
        const known = length + 1
        race.armed = true
        reads.length = 0
        const done = yield* counters.execute("r", new Increment({ by: 1 }))
        // the race added 2 events after the known version; the command lands after them
        expect(done.version).toBe(known + 3)
        expect(done.state.count).toBe(countAt(length) + 4)
        const froms = reads.map((read) => read.from)
        // without the cache: one load from 1, then only what is newer; with it: only what is newer
        expect(froms).toEqual(cached ? [known + 1] : [1, known + 1])
      }).pipe(Effect.provide(racing(reads, race)))
    },
    { fastCheck: { numRuns: 20 } }
  )
})
