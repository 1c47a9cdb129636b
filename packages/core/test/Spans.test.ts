/**
 * Chronicle's hot-path spans (`Repository.execute`, `Backend.withSpan`): made,
 * named, annotated and nested for any tracer that keeps spans; not made under
 * Effect's built-in tracer, which keeps them nowhere.
 */
import { Aggregate, EventStore, Repository } from "@chronicle/core"
import * as Backend from "@chronicle/core/Backend"
import { describe, expect, it } from "@effect/vitest"
import { Context, DefaultServices, Effect, Option, Schema, Tracer } from "effect"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { amount: Schema.Int }) {}

/** The name of the span current where it runs, if any. */
const currentSpanName = Effect.map(Effect.currentParentSpan, (span) => (span._tag === "Span" ? span.name : "external"))

const seen: Array<string> = []
const Wallet = Aggregate.make({
  name: "Wallet",
  events: Deposited,
  commands: Deposit,
  initialState: 0,
  evolve: (balance: number, event) => balance + event.amount,
  // Records the span the decision runs in.
  decide: (command) =>
    Effect.map(
      Effect.orElseSucceed(currentSpanName, () => "none"),
      (name) => {
        seen.push(name)
        return new Deposited({ amount: command.amount })
      }
    )
})

interface Recorded {
  readonly name: string
  readonly parent: string | undefined
  readonly attributes: ReadonlyMap<string, unknown>
}

/** A tracer other than the built-in one: it records every span, made by the built-in tracer. */
const recording = () => {
  const native = Context.get(DefaultServices.liveServices, Tracer.Tracer)
  const spans: Array<Recorded> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      const from = Option.getOrUndefined(parent)
      spans.push({
        name,
        parent: from === undefined ? undefined : from._tag === "Span" ? from.name : "external",
        attributes: span.attributes
      })
      return span
    },
    context: (f) => f()
  })
  return { tracer, spans }
}

describe("spans", () => {
  it.effect("with a tracer installed, a command has its span, annotated, nested under the caller's", () =>
    Effect.gen(function* () {
      seen.length = 0
      const { tracer, spans } = recording()
      const wallets = yield* Repository.make(Wallet)
      const result = yield* wallets
        .execute("w-1", new Deposit({ amount: 5 }))
        .pipe(Effect.withSpan("app"), Effect.withTracer(tracer))
      const execute = spans.find((s) => s.name === "Chronicle.Repository.execute")
      expect(execute?.parent).toBe("app")
      expect(execute?.attributes.get("aggregate")).toBe("Wallet")
      expect(execute?.attributes.get("streamId")).toBe("Wallet-w-1")
      expect(execute?.attributes.get("commandId")).toBe(result.commandId)
      expect(execute?.attributes.get("correlationId")).toBe(result.correlationId)
      expect(seen).toEqual(["Chronicle.Repository.execute"])
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.effect("under Effect's built-in tracer, a command makes no span and leaves the caller's span alone", () =>
    Effect.gen(function* () {
      seen.length = 0
      const wallets = yield* Repository.make(Wallet)
      const annotated = yield* Effect.withSpan(
        Effect.zipRight(
          wallets.execute("w-2", new Deposit({ amount: 5 })),
          Effect.map(Effect.currentSpan, (span) => span.attributes.size)
        ),
        "app"
      )
      // The decision ran in the caller's span, which got no command attributes.
      expect(seen).toEqual(["app"])
      expect(annotated).toBe(0)
      expect((yield* wallets.load("w-2")).state).toBe(5)
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )

  it.effect("Backend.withSpan: a named span under a tracer that keeps spans, none under the built-in one", () =>
    Effect.gen(function* () {
      const { tracer, spans } = recording()
      const op = currentSpanName.pipe(Backend.withSpan("MyStore.op"))
      expect(yield* op.pipe(Effect.withSpan("app"), Effect.withTracer(tracer))).toBe("MyStore.op")
      expect(spans).toContainEqual(expect.objectContaining({ name: "MyStore.op", parent: "app" }))
      expect(yield* op.pipe(Effect.withSpan("app"))).toBe("app")
      expect(yield* Effect.either(op)).toEqual(expect.objectContaining({ _tag: "Left" }))
    })
  )
})
