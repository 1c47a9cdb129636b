/**
 * Spans on the hot paths (a command, an append), made only when a tracer
 * that keeps them is installed.
 *
 * Effect's built-in tracer keeps its spans nowhere: under it a span is work
 * without a reader (making it, providing it as the parent span, ending it),
 * a few microseconds each, several per command. Any other tracer
 * (`@effect/opentelemetry`'s, `Layer.setTracer`, `Effect.withTracer`) gets
 * every span, named and nested as always. The example bank's HTTP server
 * makes the same choice for its request spans.
 *
 * @internal
 */
import { Context, DefaultServices, Effect, Tracer } from "effect"

/** Effect's built-in tracer, the default one. */
const builtIn = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * `traced` when the current tracer keeps spans, `untraced` under Effect's
 * built-in one. @internal
 */
export const whenTraced = <A, E, R>(
  traced: () => Effect.Effect<A, E, R>,
  untraced: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.tracerWith((tracer) => (tracer === builtIn ? untraced() : traced()))

/**
 * `Effect.withSpan(effect, name)` without the caller's stack trace (which
 * `Effect.fn` and `withSpan` capture on every call by default, at a cost
 * larger than many operations' own work), and no span at all under Effect's
 * built-in tracer. @internal
 */
export const withSpan =
  (name: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    whenTraced(
      () => Effect.withSpan(effect, name, { captureStackTrace: false }),
      () => effect
    )
