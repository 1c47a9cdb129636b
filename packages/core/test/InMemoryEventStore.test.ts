import { InMemoryEventStore } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"

EventStoreConformance.suite("InMemoryEventStore", InMemoryEventStore.layer)
