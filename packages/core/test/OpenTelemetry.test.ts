/**
 * The OpenTelemetry example runs, and Chronicle's spans reach the exporter,
 * nested under the application's span.
 */
import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import { main } from "../examples/opentelemetry.js"

/** Keeps its spans when the provider shuts down (the in-memory exporter clears them). */
class KeepingExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

describe("OpenTelemetry example", () => {
  it.effect("exports Chronicle's spans under the application's span", () =>
    Effect.gen(function* () {
      const exporter = new KeepingExporter()
      expect(yield* main(exporter)).toBe(12)
      const spans = exporter.getFinishedSpans()
      const names = spans.map((s) => s.name)
      expect(names.filter((n) => n === "Chronicle.Repository.execute")).toHaveLength(2)
      expect(names).toContain("Chronicle.Repository.load")
      const root = spans.find((s) => s.name === "example.deposits")
      expect(root).toBeDefined()
      const execute = spans.find((s) => s.name === "Chronicle.Repository.execute")
      expect(execute?.spanContext().traceId).toBe(root?.spanContext().traceId)
      expect(execute?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId)
    })
  )
})
