import { EventStore, FeedStatus, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

EventStoreConformance.suite("InMemoryEventStore", EventStore.layerMemory())

describe("InMemoryEventStore feed status", () => {
  it.effect("is always current: every append is readable at once", () =>
    Effect.gen(function* () {
      const store = yield* EventStore.EventStore
      yield* store.append(StreamId.forAggregate("Feed", "1"), [EventStoreConformance.eventData("E")])
      const status = yield* store.feedStatus
      expect(status).toEqual(FeedStatus.current)
      expect(FeedStatus.format(status)).toBe("the feed is current")
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )
})
