import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Either, Exit, Fiber } from "effect"
import { AppendError, EventStore, ExpectedVersion, StreamId } from "../src/index.js"
import * as JournalWriter from "../src/internal/saga/journalWriter.js"

const event = (type: string) => ({ eventId: crypto.randomUUID(), type, schemaVersion: 1, data: {} })

/**
 * A memory store with an `appendMany` that records its calls and, while
 * `gate` is open, waits for it before answering (so appends pile up).
 */
/** A gate already open: the store's `appendMany` answers at once. */
const openGate = Effect.tap(Deferred.make<void>(), (gate) => Deferred.succeed(gate, undefined))

const storeWith = (gate: Deferred.Deferred<void>, failing: ReadonlySet<string> = new Set(), dies = false) =>
  Effect.gen(function* () {
    const base = yield* EventStore.EventStore
    const calls: Array<ReadonlyArray<string>> = []
    const direct: Array<string> = []
    const store: EventStore.EventStore["Type"] = {
      ...base,
      append: EventStore.withAppendMany(
        (streamId, events, options) => {
          direct.push(streamId)
          return base.append(streamId, events, options)
        },
        (requests) =>
          Effect.gen(function* () {
            calls.push(requests.map((r) => r.streamId))
            yield* Deferred.await(gate)
            if (dies) return yield* Effect.die("appendMany broke")
            return yield* Effect.forEach(requests, (r) =>
              failing.has(r.streamId)
                ? Effect.succeed(
                    Either.left(new AppendError.InvalidAppendError({ streamId: r.streamId, reason: "refused" }))
                  )
                : Effect.either(base.append(r.streamId, r.events, r.options))
            )
          })
      )
    }
    return { store, calls, direct }
  })

describe("saga journal writer", () => {
  it.scopedLive("gathers appends made while a batch is under way, each with its own result or error", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const refused = StreamId.StreamId.make("saga:T-refused")
      const { calls, store } = yield* storeWith(gate, new Set([refused]))
      const writer = yield* JournalWriter.make(store, { inFlight: 1 })
      const first = yield* Effect.fork(writer.append(StreamId.StreamId.make("saga:T-0"), [event("A")]))
      // the first batch (one append) waits at the gate; these queue up behind it
      yield* Effect.yieldNow()
      const later = ["saga:T-1", "saga:T-2", "saga:T-refused", "saga:T-3"].map((id) => StreamId.StreamId.make(id))
      const fibers = yield* Effect.forEach(later, (id) => Effect.fork(Effect.either(writer.append(id, [event("B")]))))
      yield* Effect.sleep("20 millis")
      yield* Deferred.succeed(gate, undefined)
      expect(Exit.isSuccess(yield* Fiber.await(first))).toBe(true)
      const results = yield* Effect.forEach(fibers, Fiber.await)
      expect(calls).toEqual([["saga:T-0"], ["saga:T-1", "saga:T-2", "saga:T-refused", "saga:T-3"]])
      const outcomes = results.map((exit) => (Exit.isSuccess(exit) ? Either.isRight(exit.value) : "exit failed"))
      expect(outcomes).toEqual([true, true, false, true])
      const refusedExit = results[2]
      expect(
        refusedExit !== undefined &&
          Exit.isSuccess(refusedExit) &&
          Either.isLeft(refusedExit.value) &&
          refusedExit.value.left._tag
      ).toBe("InvalidAppendError")
      const base = yield* EventStore.EventStore
      expect(yield* base.streamVersion(StreamId.StreamId.make("saga:T-3"))).toBe(1)
      expect(yield* base.streamVersion(refused)).toBe(0)
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.scoped("an append with an expected version goes straight to `append`", () =>
    Effect.gen(function* () {
      const gate = yield* openGate
      const { calls, direct, store } = yield* storeWith(gate)
      const writer = yield* JournalWriter.make(store)
      const id = StreamId.StreamId.make("saga:T-new")
      yield* writer.append(id, [event("A")], { expectedVersion: ExpectedVersion.NoStream })
      expect(direct).toEqual(["saga:T-new"])
      expect(calls).toEqual([])
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.scoped("a decorator that replaces `append` is never bypassed: its appends are not gathered", () =>
    Effect.gen(function* () {
      const gate = yield* openGate
      const { calls, store } = yield* storeWith(gate)
      const seen: Array<string> = []
      const decorated: EventStore.EventStore["Type"] = {
        ...store,
        append: (streamId, events, options) => {
          seen.push(streamId)
          return store.append(streamId, events, options)
        }
      }
      const writer = yield* JournalWriter.make(decorated)
      yield* Effect.forEach(["saga:T-x", "saga:T-y"], (id) => writer.append(StreamId.StreamId.make(id), [event("A")]), {
        concurrency: "unbounded"
      })
      expect([...seen].sort()).toEqual(["saga:T-x", "saga:T-y"])
      expect(calls).toEqual([])
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.scoped("a defect of `appendMany` reaches every append of its batch (none is left waiting)", () =>
    Effect.gen(function* () {
      const gate = yield* openGate
      const { store } = yield* storeWith(gate, new Set(), true)
      const writer = yield* JournalWriter.make(store)
      const exits = yield* Effect.forEach(
        ["saga:T-a", "saga:T-b"],
        (id) => Effect.exit(writer.append(StreamId.StreamId.make(id), [event("A")])),
        { concurrency: "unbounded" }
      )
      expect(exits.every((exit) => Exit.isFailure(exit) && Cause.isDie(exit.cause))).toBe(true)
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )
})
