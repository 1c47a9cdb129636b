import { EventStore, ExpectedVersion, Metrics, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"

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
})
