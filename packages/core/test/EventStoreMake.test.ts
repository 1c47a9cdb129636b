/**
 * `EventStore.make` derives what a backend leaves out: the derived store must
 * keep the whole contract (the conformance suite), built over the in-memory
 * store's minimal operations.
 */
import { EventStore, FeedStatus, Position, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"

const { eventData } = EventStoreConformance

const fromReadEvents = Layer.effect(
  EventStore.EventStore,
  Effect.flatMap(EventStore.makeMemory(), (inner) =>
    EventStore.make({ append: inner.append, readAll: inner.readAll, readEvents: inner.readEvents })
  )
)

const fromRead = Layer.effect(
  EventStore.EventStore,
  Effect.flatMap(EventStore.makeMemory(), (inner) =>
    EventStore.make({ append: inner.append, readAll: inner.readAll, read: inner.read })
  )
)

EventStoreConformance.suite("EventStore.make (append, readAll, readEvents)", fromReadEvents)
EventStoreConformance.suite("EventStore.make (append, readAll, read)", fromRead)

describe("EventStore.make", () => {
  it.effect("derives streamVersion, head and feedStatus, and the accessors reach them", () =>
    Effect.gen(function* () {
      const stream = StreamId.forAggregate("Made", "1")
      expect(yield* EventStore.head).toEqual(Position.start)
      expect(yield* EventStore.streamVersion(stream)).toBe(0)
      const result = yield* EventStore.append(stream, [eventData("A"), eventData("B")])
      expect(yield* EventStore.streamVersion(stream)).toBe(2)
      expect(yield* EventStore.head).toEqual(result.positions[1])
      expect((yield* EventStore.readEvents(stream)).map((e) => e.type)).toEqual(["A", "B"])
      const backward = yield* Stream.runCollect(EventStore.read(stream, { direction: "backward" }))
      expect(Chunk.toReadonlyArray(backward).map((e) => e.type)).toEqual(["B", "A"])
      expect(yield* EventStore.feedStatus).toEqual(FeedStatus.current)
    }).pipe(Effect.provide(fromRead))
  )
})
