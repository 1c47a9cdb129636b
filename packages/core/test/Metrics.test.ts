import { EventStore, ExpectedVersion, Metrics, Repository, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { Counter, Increment, Open } from "./fixtures/Counter.js"

const { eventData } = EventStoreConformance

const countOf = (outcome: string) =>
  Effect.map(Metric.value(Metrics.appendDuration.pipe(Metric.tagged("outcome", outcome))), (state) => state.count)

describe("Metrics", () => {
  it.effect("appends are timed by outcome, and conflicts counted", () =>
    Effect.gen(function* () {
      const stream = StreamId.forAggregate("Metered", crypto.randomUUID())
      const before = {
        written: yield* countOf("written"),
        duplicate: yield* countOf("duplicate"),
        conflict: yield* countOf("conflict"),
        conflicts: (yield* Metric.value(Metrics.appendConflicts)).count
      }
      const event = eventData("A")
      yield* EventStore.append(stream, [event])
      yield* EventStore.append(stream, [event])
      yield* Effect.flip(EventStore.append(stream, [eventData("B")], { expectedVersion: ExpectedVersion.NoStream }))
      expect((yield* countOf("written")) - before.written).toBe(1)
      expect((yield* countOf("duplicate")) - before.duplicate).toBe(1)
      expect((yield* countOf("conflict")) - before.conflict).toBe(1)
      expect((yield* Metric.value(Metrics.appendConflicts)).count - before.conflicts).toBe(1)
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.effect("a command decided again after a conflict counts one retry for its aggregate", () =>
    Effect.gen(function* () {
      const retries = Metrics.commandRetries.pipe(Metric.tagged("aggregate", Counter.name))
      const id = crypto.randomUUID()
      const cached = yield* Repository.make(Counter)
      const other = yield* Repository.make(Counter, { cache: false })
      yield* cached.execute(id, new Open({ limit: 100 }))
      const before = (yield* Metric.value(retries)).count
      // another writer moves the stream on: the cached state is stale, the append conflicts once
      yield* other.execute(id, new Increment({ by: 1 }))
      yield* cached.execute(id, new Increment({ by: 2 }))
      expect((yield* Metric.value(retries)).count - before).toBe(1)
      // a command that does not conflict is not counted
      yield* cached.execute(id, new Increment({ by: 3 }))
      expect((yield* Metric.value(retries)).count - before).toBe(1)
      expect((yield* cached.load(id)).state).toMatchObject({ count: 6 })
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )
})
