/**
 * Chronicle's spans, exported to OpenTelemetry with `@effect/opentelemetry`.
 *
 * Chronicle traces with Effect's own tracer (`Effect.withSpan`,
 * `Effect.fn`), so exporting its spans is a matter of providing an
 * OpenTelemetry tracer layer: here a `BasicTracerProvider` feeding a span
 * exporter given by the caller (an `InMemorySpanExporter` in the test; an
 * OTLP exporter in production). Metrics (see `Metrics`) are Effect metrics
 * and export the same way with `@effect/opentelemetry/Metrics`.
 */
import { Aggregate, EventStore, Repository } from "@chronicle/core"
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Schema } from "effect"

/** A tracer layer that exports every span to `exporter`. */
export const tracing = (exporter: SpanExporter, serviceName = "chronicle-example") =>
  OtelTracer.layer.pipe(
    Layer.provide(
      Layer.scoped(
        OtelTracer.OtelTracerProvider,
        Effect.acquireRelease(
          Effect.sync(() => new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })),
          (provider) => Effect.promise(() => provider.shutdown())
        )
      )
    ),
    Layer.provide(OtelResource.layer({ serviceName }))
  )

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { amount: Schema.Int }) {}

/** A one-event wallet, enough to show a command's spans. */
export const Wallet = Aggregate.make({
  name: "Wallet",
  events: Deposited,
  commands: Deposit,
  initialState: 0,
  evolve: (balance: number, event) => balance + event.amount,
  decide: (command) => Effect.succeed(new Deposited({ amount: command.amount }))
})

/** Two deposits and a load, inside a span of the application's own. */
export const program = Effect.gen(function* () {
  const wallets = yield* Repository.make(Wallet)
  yield* wallets.execute("w-1", new Deposit({ amount: 5 }))
  yield* wallets.execute("w-1", new Deposit({ amount: 7 }))
  return (yield* wallets.load("w-1")).state
}).pipe(Effect.withSpan("example.deposits"), Effect.provide(EventStore.layerMemory()))

/** The program with its spans exported to `exporter`. */
export const main = (exporter: SpanExporter) => program.pipe(Effect.provide(tracing(exporter)))
