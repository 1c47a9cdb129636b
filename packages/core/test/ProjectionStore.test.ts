import { InMemoryEventStore, ProjectionStore } from "@chronicle/core"
import { ProjectionStoreConformance } from "@chronicle/core/testing"
import { Layer } from "effect"

ProjectionStoreConformance.suite("in memory", Layer.merge(InMemoryEventStore.layer, ProjectionStore.layerMemory), {
  journal: ProjectionStoreConformance.memoryJournal
})
