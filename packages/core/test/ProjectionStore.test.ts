import { EventStore, ProjectionStore } from "@chronicle/core"
import { ProjectionStoreConformance } from "@chronicle/core/testing"
import { Layer } from "effect"

ProjectionStoreConformance.suite("in memory", Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory), {
  journal: ProjectionStoreConformance.memoryJournal
})
