import { EventStoreConformance } from "@chronicle/core/testing"
import { Layer } from "effect"
import { describe } from "vitest"
import { SqlEventStore } from "../src/index.js"
import * as Postgres from "./support/postgres.js"

describe.skipIf(!Postgres.available)("PostgreSQL", () => {
  EventStoreConformance.suite(
    "SqlEventStore (PostgreSQL)",
    SqlEventStore.layer().pipe(Layer.provide(Postgres.layer({ maxConnections: 20 })))
  )
})
