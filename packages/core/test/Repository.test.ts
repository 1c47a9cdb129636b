import { Correlation, EventStore, ExpectedVersion, Position, Repository, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Chunk, Effect, Either, FastCheck, Option, Ref, Schedule, Stream } from "effect"
import { Counter, CounterCommand, Increment, Incremented, Open, Opened, ResetCounter } from "./fixtures/Counter.js"

const run = <A, E>(effect: Effect.Effect<A, E, EventStore.EventStore>) =>
  effect.pipe(Effect.provide(EventStore.layerMemory()))

describe("Repository", () => {
  it.effect("executes commands and loads the folded state and version", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        const opened = yield* counters.execute("c-1", new Open({ limit: 10 }))
        expect(opened.version).toBe(1)
        expect(opened.events).toEqual([new Opened({ limit: 10 })])
        expect(Option.isSome(opened.position)).toBe(true)
        const incremented = yield* counters.execute("c-1", new Increment({ by: 3 }))
        expect(incremented.state).toEqual({ open: true, limit: 10, count: 3 })
        expect(incremented.version).toBe(2)
        const loaded = yield* counters.load("c-1")
        expect(loaded.state).toEqual(incremented.state)
        expect(loaded.version).toBe(2)
        expect(loaded.position).toEqual(incremented.position)
        const events = yield* Stream.runCollect(counters.events("c-1"))
        expect(Chunk.toReadonlyArray(events).map((e) => e.event)).toEqual([
          new Opened({ limit: 10 }),
          new Incremented({ by: 3 })
        ])
      })
    )
  )

  it.effect("stores events in the aggregate's stream <name>-<id>", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-2", new Open({ limit: 1 }))
        const store = yield* EventStore.EventStore
        expect(yield* store.streamVersion(StreamId.forAggregate("Counter", "c-2"))).toBe(1)
      })
    )
  )

  it.effect("an unknown id loads as the initial state at version 0", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        const loaded = yield* counters.load("nobody")
        expect(loaded).toEqual({ state: Counter.initialState, version: 0, position: Option.none() })
      })
    )
  )

  it.effect("a domain error is typed and writes nothing", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-3", new Open({ limit: 2 }))
        const error = yield* Effect.flip(counters.execute("c-3", new Increment({ by: 5 })))
        expect(error).toMatchObject({ _tag: "OverLimit", limit: 2, wanted: 5 })
        expect((yield* counters.load("c-3")).version).toBe(1)
      })
    )
  )

  it.effect("a command that decides nothing appends nothing", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-4", new Open({ limit: 2 }))
        const result = yield* counters.execute("c-4", { _tag: "ResetCounter" })
        expect(result.events).toEqual([])
        expect(result.version).toBe(1)
        expect(Option.isNone(result.position)).toBe(true)
      })
    )
  )

  it.effect("rejects a command that fails its Schema with a typed InvalidCommandError, writing nothing", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-5", new Open({ limit: 10 }))
        // built without the class constructor, so it skips construction-time validation
        const bad = { _tag: "Increment", by: -4 } as const
        const error = yield* Effect.flip(counters.execute("c-5", bad))
        expect(error._tag).toBe("InvalidCommandError")
        expect(error.message).toMatch(/between 1 and 100|greater than or equal to 1/)
        expect((yield* counters.load("c-5")).version).toBe(1)
        const decoded = yield* Effect.flip(counters.decodeCommand({ _tag: "Increment", by: "three" }))
        expect(decoded._tag).toBe("InvalidCommandError")
        const unknown = yield* Effect.flip(counters.decodeCommand({ _tag: "Explode" }))
        expect(unknown._tag).toBe("InvalidCommandError")
        const good = yield* counters.decodeCommand({ _tag: "Increment", by: 3 })
        expect(good).toEqual(new Increment({ by: 3 }))
      })
    )
  )

  it.effect("rejects an empty or oversized id with a typed error", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        expect((yield* Effect.flip(counters.execute("", new Open({ limit: 1 }))))._tag).toBe("InvalidCommandError")
        expect((yield* Effect.flip(counters.load("x".repeat(2000))))._tag).toBe("InvalidCommandError")
      })
    )
  )

  it.effect("the same command id executed twice appends once, even when deciding again would now fail", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-6", new Open({ limit: 5 }))
        const first = yield* counters.execute("c-6", new Increment({ by: 5 }), { commandId: "cmd-42" })
        const again = yield* counters.execute("c-6", new Increment({ by: 5 }), { commandId: "cmd-42" })
        expect(first.duplicate).toBe(false)
        expect(again.duplicate).toBe(true)
        expect(again.events).toEqual(first.events)
        expect(again.position).toEqual(first.position)
        expect(again.version).toBe(2)
        expect((yield* counters.load("c-6")).state.count).toBe(5)
      })
    )
  )

  it.effect("derives event ids from the command id, so the store deduplicates a concurrent retry", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-7", new Open({ limit: 100 }))
        const results = yield* Effect.all(
          Array.from({ length: 4 }, () => counters.execute("c-7", new Increment({ by: 1 }), { commandId: "same" })),
          { concurrency: "unbounded" }
        )
        expect((yield* counters.load("c-7")).state.count).toBe(1)
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
      })
    )
  )

  it.effect("sets causation to the command id and correlation to the ambient id, or the command id", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        const opened = yield* counters.execute("c-8", new Open({ limit: 9 }), {
          commandId: "cmd-open",
          metadata: { user: "ada" }
        })
        expect(opened.correlationId).toBe("cmd-open")
        yield* counters
          .execute("c-8", new Increment({ by: 1 }), { commandId: "cmd-inc" })
          .pipe(Correlation.withCorrelationId("request-7"))
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.events("c-8")))
        expect(events.map((e) => e.metadata)).toEqual([
          { correlationId: "cmd-open", causationId: "cmd-open", user: { user: "ada" } },
          { correlationId: "request-7", causationId: "cmd-inc", user: {} }
        ])
      })
    )
  )

  it.effect("a generated command id still gives every event a causation id", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        const result = yield* counters.execute("c-9", new Open({ limit: 9 }))
        const [event] = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.events("c-9")))
        expect(event?.metadata.causationId).toBe(result.commandId)
        expect(event?.metadata.correlationId).toBe(result.commandId)
      })
    )
  )

  it.live("retries on conflict: concurrent commands on one stream all land", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, {
          retry: Schedule.spaced("1 millis").pipe(Schedule.intersect(Schedule.recurs(200)))
        })
        yield* counters.execute("c-10", new Open({ limit: 1000 }))
        const store = yield* EventStore.EventStore
        // a competing writer that appends between our load and our append
        const racing = Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          () =>
            Effect.zipRight(
              Effect.yieldNow(),
              store.append(StreamId.forAggregate("Counter", "c-10"), [
                { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1 } }
              ])
            ),
          { discard: true }
        )
        yield* Effect.all(
          [
            racing,
            Effect.forEach(
              Array.from({ length: 20 }, (_, i) => i),
              () => counters.execute("c-10", new Increment({ by: 1 })),
              { concurrency: 5, discard: true }
            )
          ],
          { concurrency: "unbounded" }
        )
        const loaded = yield* counters.load("c-10")
        expect(loaded.state.count).toBe(40)
        expect(loaded.version).toBe(41)
      })
    )
  )

  it.effect("with an explicit expected version, a conflict fails at once with the actual version", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-11", new Open({ limit: 10 }))
        yield* counters.execute("c-11", new Increment({ by: 1 }))
        const error = yield* Effect.flip(counters.execute("c-11", new Increment({ by: 1 }), { expectedVersion: 1 }))
        expect(error).toMatchObject({ _tag: "ConcurrencyError", actual: 2, expected: "1" })
        const ok = yield* counters.execute("c-11", new Increment({ by: 1 }), { expectedVersion: 2 })
        expect(ok.version).toBe(3)
      })
    )
  )

  it.effect("a stored event that no longer decodes fails load with a typed EventDecodeError naming it", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("c-12", new Open({ limit: 10 }))
        const store = yield* EventStore.EventStore
        const stream = StreamId.forAggregate("Counter", "c-12")
        const bad = yield* store.append(
          stream,
          [{ eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: "lots" } }],
          { expectedVersion: ExpectedVersion.exact(1) }
        )
        const error = yield* Effect.flip(counters.load("c-12"))
        expect(error._tag).toBe("EventDecodeError")
        if (error._tag === "EventDecodeError") {
          expect(error.streamId).toBe(stream)
          expect(error.version).toBe(2)
          expect(error.eventType).toBe("Incremented")
          expect(error.position).toBe(bad.positions[0]?.toString())
          expect(error.reason).toMatch(/by/)
        }
        // commands on that stream fail the same typed way; nothing is written
        expect((yield* Effect.flip(counters.execute("c-12", new Increment({ by: 1 }))))._tag).toBe("EventDecodeError")
        expect(yield* store.streamVersion(stream)).toBe(2)
      })
    )
  )

  it.effect("an unknown stored event type is a typed EventDecodeError", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        const store = yield* EventStore.EventStore
        yield* store.append(StreamId.forAggregate("Counter", "c-13"), [
          { eventId: crypto.randomUUID(), type: "Exploded", schemaVersion: 1, data: {} }
        ])
        const error = yield* Effect.flip(counters.load("c-13"))
        expect(error).toMatchObject({ _tag: "EventDecodeError", eventType: "Exploded", version: 1 })
        expect(error.message).toMatch(/unknown event type "Exploded"/)
      })
    )
  )

  it.effect("returns the position of the last appended event", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        const result = yield* counters.execute("c-14", new Open({ limit: 10 }))
        const store = yield* EventStore.EventStore
        const head = yield* store.head
        expect(Option.map(result.position, (p) => Position.encode(p))).toEqual(Option.some(Position.encode(head)))
      })
    )
  )
})

describe("Repository command validation", () => {
  it.effect("a class instance built with validation turned off is still checked field by field", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("v-1", new Open({ limit: 10 }))
        for (const by of [0, -5, 1.5, Number.POSITIVE_INFINITY]) {
          const error = yield* Effect.flip(counters.execute("v-1", new Increment({ by }, true)))
          expect(error._tag).toBe("InvalidCommandError")
        }
        expect((yield* counters.load("v-1")).version).toBe(1)
      })
    )
  )
})

describe("Repository state cache", () => {
  /** The in-memory store, counting readEvents calls. */
  const counting = Effect.gen(function* () {
    const reads = yield* Ref.make(0)
    const inner = yield* EventStore.makeMemory()
    const store = EventStore.EventStore.of({
      ...inner,
      readEvents: (streamId, options) =>
        Effect.zipRight(
          Ref.update(reads, (n) => n + 1),
          inner.readEvents(streamId, options)
        )
    })
    return { reads, store }
  })

  it.effect("a cached stream appends without reading it first", () =>
    Effect.gen(function* () {
      const { reads, store } = yield* counting
      yield* Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, { cache: { capacity: 10 } })
        yield* counters.execute("k1", new Open({ limit: 100 }))
        const before = yield* Ref.get(reads)
        for (let i = 0; i < 5; i++) yield* counters.execute("k1", new Increment({ by: 1 }))
        expect(yield* Ref.get(reads)).toBe(before)
        expect((yield* counters.load("k1")).state.count).toBe(5)
      }).pipe(Effect.provideService(EventStore.EventStore, store))
    })
  )

  it.live("a stale entry conflicts, and the retry reads only what changed", () =>
    run(
      Effect.gen(function* () {
        const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 10 } })
        const other = yield* Repository.make(Counter)
        yield* cachedRepo.execute("k2", new Open({ limit: 100 }))
        yield* other.execute("k2", new Increment({ by: 10 }))
        const result = yield* cachedRepo.execute("k2", new Increment({ by: 1 }))
        expect(result.state.count).toBe(11)
        expect(result.version).toBe(3)
      })
    )
  )

  it.effect("a refusal decided on a stale cached state is decided again on fresh state", () =>
    run(
      Effect.gen(function* () {
        const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 10 } })
        const other = yield* Repository.make(Counter)
        yield* cachedRepo.execute("k3", new Open({ limit: 5 }))
        yield* cachedRepo.execute("k3", new Increment({ by: 5 }))
        // the cache says the counter is full; another writer resets it
        yield* other.execute("k3", new ResetCounter())
        const result = yield* cachedRepo.execute("k3", new Increment({ by: 3 }))
        expect(result.state.count).toBe(3)
        // and a refusal on an up-to-date cached state stands
        const error = yield* Effect.flip(cachedRepo.execute("k3", new Increment({ by: 3 })))
        expect(error._tag).toBe("OverLimit")
      })
    )
  )

  it.effect("a repeated command id is recognised from the cache", () =>
    run(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, { cache: { capacity: 10 } })
        yield* counters.execute("k4", new Open({ limit: 5 }))
        yield* counters.execute("k4", new Increment({ by: 5 }), { commandId: "once" })
        const again = yield* counters.execute("k4", new Increment({ by: 5 }), { commandId: "once" })
        expect(again.duplicate).toBe(true)
        expect((yield* counters.load("k4")).version).toBe(2)
      })
    )
  )

  it.effect("evicts the least recently used stream beyond its capacity", () =>
    Effect.gen(function* () {
      const { reads, store } = yield* counting
      yield* Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, { cache: { capacity: 2 } })
        for (const id of ["e1", "e2", "e3"]) yield* counters.execute(id, new Open({ limit: 100 }))
        const before = yield* Ref.get(reads)
        yield* counters.execute("e3", new Increment({ by: 1 })) // cached
        yield* counters.execute("e1", new Increment({ by: 1 })) // evicted: read again
        expect(yield* Ref.get(reads)).toBe(before + 1)
      }).pipe(Effect.provideService(EventStore.EventStore, store))
    })
  )

  it.effect("an explicit expected version is decided on the state at that version, never on a stale cache", () =>
    run(
      Effect.gen(function* () {
        const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 10 } })
        const other = yield* Repository.make(Counter)
        yield* cachedRepo.execute("x1", new Open({ limit: 10 }))
        yield* cachedRepo.execute("x1", new Increment({ by: 5 })) // cached: count 5 at version 2
        yield* other.execute("x1", new Increment({ by: 5 })) // the stream: count 10 at version 3
        // The caller saw version 3: the decision is made on count 10, and refused.
        const refused = yield* Effect.flip(cachedRepo.execute("x1", new Increment({ by: 5 }), { expectedVersion: 3 }))
        expect(refused).toMatchObject({ _tag: "OverLimit", limit: 10, wanted: 15 })
        const loaded = yield* other.load("x1")
        expect(loaded).toMatchObject({ version: 3, state: { count: 10 } })
        // An accepted one is appended right after the expected version, on its state.
        yield* other.execute("x1", new ResetCounter()) // version 4, count 0
        const accepted = yield* cachedRepo.execute("x1", new Increment({ by: 4 }), { expectedVersion: 4 })
        expect(accepted).toMatchObject({ version: 5, state: { count: 4 } })
      })
    )
  )

  it.effect("an expected version that is not the stream's fails with ConcurrencyError before deciding", () =>
    run(
      Effect.gen(function* () {
        const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 10 } })
        const other = yield* Repository.make(Counter)
        yield* cachedRepo.execute("x2", new Open({ limit: 10 }))
        yield* other.execute("x2", new Increment({ by: 1 }))
        yield* other.execute("x2", new Increment({ by: 1 }))
        // the cache says version 1, the caller says 2, the stream is at 3
        for (const expectedVersion of [1, 2, 4]) {
          const error = yield* Effect.flip(cachedRepo.execute("x2", new Increment({ by: 1 }), { expectedVersion }))
          expect(error).toMatchObject({ _tag: "ConcurrencyError", expected: `${expectedVersion}`, actual: 3 })
        }
        expect((yield* other.load("x2")).version).toBe(3)
        for (const expectedVersion of [-1, 1.5, Number.NaN]) {
          const error = yield* Effect.flip(cachedRepo.execute("x2", new Increment({ by: 1 }), { expectedVersion }))
          expect(error._tag).toBe("InvalidCommandError")
        }
      })
    )
  )

  it.effect(
    "the same command id with an expected version the stream has since passed is a duplicate, not a conflict",
    () =>
      run(
        Effect.gen(function* () {
          const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 10 } })
          const other = yield* Repository.make(Counter)
          yield* cachedRepo.execute("x3", new Open({ limit: 10 }))
          yield* other.execute("x3", new Increment({ by: 2 }), { commandId: "done-elsewhere" })
          const again = yield* cachedRepo.execute("x3", new Increment({ by: 2 }), {
            commandId: "done-elsewhere",
            expectedVersion: 1
          })
          expect(again).toMatchObject({ duplicate: true, version: 2, state: { count: 2 } })
        })
      )
  )

  it.effect("with retries off, a stale entry is refreshed: the next command is decided on the newer events", () =>
    run(
      Effect.gen(function* () {
        const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 10 }, retry: Schedule.stop })
        const other = yield* Repository.make(Counter)
        yield* cachedRepo.execute("x4", new Open({ limit: 10 }))
        yield* other.execute("x4", new Increment({ by: 8 }))
        const refused = yield* Effect.flip(cachedRepo.execute("x4", new Increment({ by: 3 })))
        expect(refused).toMatchObject({ _tag: "OverLimit", wanted: 11 })
        yield* other.execute("x4", new ResetCounter())
        const accepted = yield* cachedRepo.execute("x4", new Increment({ by: 3 }))
        expect(accepted).toMatchObject({ version: 4, state: { count: 3 } })
        for (let i = 0; i < 3; i++) yield* cachedRepo.execute("x4", new Increment({ by: 1 }))
        expect((yield* other.load("x4")).state.count).toBe(6)
      })
    )
  )

  it.effect("with retries off, a conflict that remains evicts the entry, so the next command succeeds", () =>
    Effect.gen(function* () {
      const inner = yield* EventStore.makeMemory()
      const stream = StreamId.forAggregate("Counter", "x5")
      // Another writer appends right before each of our next `interfere` appends.
      let interfere = 0
      const store = EventStore.EventStore.of({
        ...inner,
        append: (streamId, events, options) =>
          Effect.gen(function* () {
            if (interfere > 0 && streamId === stream) {
              interfere--
              yield* inner.append(streamId, [
                { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1 } }
              ])
            }
            return yield* inner.append(streamId, events, options)
          })
      })
      yield* Effect.gen(function* () {
        const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 10 }, retry: Schedule.stop })
        yield* cachedRepo.execute("x5", new Open({ limit: 100 }))
        interfere = 2
        const conflict = yield* Effect.flip(cachedRepo.execute("x5", new Increment({ by: 10 })))
        expect(conflict._tag).toBe("ConcurrencyError")
        // Before the fix, the stale entry made every later command conflict.
        const next = yield* cachedRepo.execute("x5", new Increment({ by: 10 }))
        expect(next).toMatchObject({ version: 4, state: { count: 12 } })
        const again = yield* cachedRepo.execute("x5", new Increment({ by: 10 }))
        expect(again).toMatchObject({ version: 5, state: { count: 22 } })
      }).pipe(Effect.provideService(EventStore.EventStore, store))
    })
  )

  it.live.prop(
    "a cached and an uncached repository interleaved on one stream always agree with the fold of its events",
    [FastCheck.array(FastCheck.tuple(FastCheck.boolean(), Arbitrary.make(CounterCommand)), { maxLength: 40 })],
    ([script]) =>
      run(
        Effect.gen(function* () {
          const cachedRepo = yield* Repository.make(Counter, { cache: { capacity: 4 } })
          const plain = yield* Repository.make(Counter)
          yield* plain.execute("p", new Open({ limit: 1000 }))
          for (const [useCache, command] of script) {
            const repo = useCache ? cachedRepo : plain
            const outcome = yield* Effect.either(repo.execute("p", command))
            const events = Chunk.toReadonlyArray(yield* Stream.runCollect(plain.events("p")))
            const folded = events.reduce((s, e) => Counter.evolve(s, e.event), Counter.initialState)
            if (Either.isRight(outcome)) {
              expect(outcome.right.state).toEqual(folded)
              expect(outcome.right.version).toBe(events.length)
            } else {
              // a refusal must be right for the stream as it is
              const fresh = yield* Effect.either(Counter.decide(command, folded))
              expect(Either.isLeft(fresh)).toBe(true)
            }
          }
          expect((yield* cachedRepo.load("p")).state).toEqual((yield* plain.load("p")).state)
        })
      ),
    { fastCheck: { numRuns: 60 } }
  )
})
