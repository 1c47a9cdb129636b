/**
 * Given / when / then tests for aggregates: given past events, when a command
 * arrives, then expect the new events, nothing, or a typed domain error.
 *
 * (`thenEmits` rather than `then`, so a spec is never mistaken for a Promise.)
 * Each `then…` returns an Effect, so a spec reads as one line in an
 * `it.effect` test.
 *
 * @since 0.1.0
 */
import { expect } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import * as Aggregate from "../Aggregate.js"
import type { Tagged } from "../EventCodec.js"

/**
 * The tags of an error union.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { DeciderSpec } from "@chronicle/core/testing"
 *
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", {}) {}
 * class Frozen extends Schema.TaggedError<Frozen>()("Frozen", {}) {}
 * const expected: ReadonlyArray<DeciderSpec.TagOf<TooBig | Frozen>> = ["TooBig", "Frozen"]
 * ```
 * @since 0.1.0
 * @category type-level
 */
export type TagOf<Err> = Err extends { readonly _tag: infer T extends string } ? T : never

/**
 * The outcome checks of a spec, once the command is known.
 *
 * @example
 * ```ts
 * import { expect } from "@effect/vitest"
 * import type { DeciderSpec } from "@chronicle/core/testing"
 *
 * // a reusable check: the command leads to exactly this state
 * const leadsTo = <S, E, Err>(when: DeciderSpec.When<S, E, Err>, expected: S) =>
 *   when.thenState((state) => expect(state).toEqual(expected))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface When<S, E, Err> {
  /** The command succeeds and emits exactly these events, in order. */
  readonly thenEmits: (...expected: ReadonlyArray<E>) => Effect.Effect<void>
  /** The command succeeds and emits no event. */
  readonly thenNothing: () => Effect.Effect<void>
  /** The command fails with a domain error of this tag; `check` may look closer. */
  readonly thenFails: <T extends TagOf<Err>>(
    tag: T,
    check?: (error: Extract<Err, { readonly _tag: T }>) => void
  ) => Effect.Effect<void>
  /** The command succeeds; `check` receives the state after its events. */
  readonly thenState: (check: (state: S, events: ReadonlyArray<E>) => void) => Effect.Effect<void>
}

/**
 * A spec with its history given.
 *
 * @example
 * ```ts
 * import type { DeciderSpec } from "@chronicle/core/testing"
 *
 * // a reusable check: after the given events, each of these commands changes nothing
 * const allIgnored = <S, E, C, Err>(given: DeciderSpec.Given<S, E, C, Err>, commands: ReadonlyArray<C>) =>
 *   commands.map((command) => given.when(command).thenNothing())
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Given<S, E, C, Err> {
  /** The command to decide on, after the given events. */
  readonly when: (command: C) => When<S, E, Err>
}

/**
 * A given / when / then spec for one aggregate.
 *
 * @example
 * ```ts
 * import type { DeciderSpec } from "@chronicle/core/testing"
 *
 * // a reusable check: on a new stream, the command emits exactly these events
 * const onNewStream = <S, E, C, Err>(spec: DeciderSpec.DeciderSpec<S, E, C, Err>, command: C, ...events: ReadonlyArray<E>) =>
 *   spec.given().when(command).thenEmits(...events)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface DeciderSpec<S, E, C, Err> {
  /** The events already in the stream (none for a new one). */
  readonly given: (...events: ReadonlyArray<E>) => Given<S, E, C, Err>
}

/**
 * Builds a spec for an aggregate.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 * import { DeciderSpec } from "@chronicle/core/testing"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", {}) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (n: number, e) => n + e.by,
 *   decide: (c, n) => (n + c.by > 10 ? Effect.fail(new TooBig()) : Effect.succeed(new Incremented({ by: c.by })))
 * })
 *
 * const spec = DeciderSpec.make(Counter)
 *
 * it.effect("increments", () =>
 *   spec.given(new Incremented({ by: 1 })).when(new Increment({ by: 2 })).thenEmits(new Incremented({ by: 2 })))
 * it.effect("refuses past ten", () =>
 *   spec.given(new Incremented({ by: 9 })).when(new Increment({ by: 2 })).thenFails("TooBig"))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Name extends string, S, E extends Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>
): DeciderSpec<S, E, C, Err> => ({
  given: (...history) => ({
    when: (command) => {
      const state = Aggregate.fold(aggregate, history)
      const outcome = Effect.exit(Effect.map(aggregate.decide(command, state), Aggregate.decisionEvents))
      const succeeded = (check: (events: ReadonlyArray<E>) => void) =>
        Effect.flatMap(outcome, (exit) =>
          Effect.sync(() => {
            if (Exit.isFailure(exit)) {
              expect.fail(
                `expected ${aggregate.name} to accept the command, but it failed: ${Cause.pretty(exit.cause)}`
              )
            } else {
              check(exit.value)
            }
          })
        )
      return {
        thenEmits: (...expected) => succeeded((events) => expect(events).toEqual(expected)),
        thenNothing: () => succeeded((events) => expect(events).toEqual([])),
        thenState: (check) => succeeded((events) => check(Aggregate.fold(aggregate, events, state), events)),
        thenFails: (tag, check) =>
          Effect.flatMap(outcome, (exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) {
                expect.fail(
                  `expected ${aggregate.name} to fail with ${tag}, but it emitted ${JSON.stringify(exit.value)}`
                )
                return
              }
              const failure = Cause.failureOption(exit.cause)
              if (Option.isNone(failure)) {
                expect.fail(`expected ${aggregate.name} to fail with ${tag}, but it died: ${Cause.pretty(exit.cause)}`)
                return
              }
              const error = failure.value
              expect(error).toMatchObject({ _tag: tag })
              if (check !== undefined && isTagged(error, tag)) check(error)
            })
          )
      }
    }
  })
})

const isTagged = <Err, T extends string>(error: Err, tag: T): error is Extract<Err, { readonly _tag: T }> =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === tag
