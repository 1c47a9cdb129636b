/**
 * Laws every aggregate should obey, checked as property tests over random
 * command sequences (commands generated from the aggregate's command Schema
 * with `Arbitrary.make`, unless you pass your own arbitrary):
 *
 * 1. `decide` never dies with a defect: it succeeds or fails with a typed error;
 * 2. every decided event round-trips through the event codec and JSON;
 * 3. folding is deterministic, and folding in steps equals folding at once;
 * 4. your invariants hold in every state reachable from the initial state
 *    through accepted commands.
 *
 * @since 0.1.0
 */
import { describe as describeSuite, expect, it } from "@effect/vitest"
import { Arbitrary, Cause, Effect, Either, Exit, FastCheck } from "effect"
import * as Aggregate from "../Aggregate.js"
import type { Tagged } from "../EventCodec.js"

/**
 * An invariant: `true` when the state (reached through `history`) is valid.
 *
 * @example
 * ```ts
 * import type { AggregateLaws } from "@chronicle/core/testing"
 *
 * // a counter that only ever grows: its value is the sum of its increments
 * const sumOfIncrements: AggregateLaws.Invariant<number, { readonly by: number }> = (n, history) =>
 *   n === history.reduce((sum, e) => sum + e.by, 0)
 * ```
 * @since 0.1.0
 * @category models
 */
export type Invariant<S, E> = (state: S, history: ReadonlyArray<E>) => boolean

/**
 * Options of {@link describe}.
 *
 * @example
 * ```ts
 * import { FastCheck } from "effect"
 * import type { AggregateLaws } from "@chronicle/core/testing"
 *
 * class Increment {
 *   readonly _tag = "Increment"
 *   constructor(readonly by: number) {}
 * }
 * const options: AggregateLaws.Options<number, { readonly by: number }, Increment> = {
 *   invariants: { "never negative": (n) => n >= 0 },
 *   commands: FastCheck.integer({ min: 1, max: 5 }).map((by) => new Increment(by)),
 *   maxCommands: 20,
 *   numRuns: 50
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options<S, E, C> {
  /** Named invariants over every reachable state. */
  readonly invariants?: { readonly [name: string]: Invariant<S, E> } | undefined
  /** Commands to try; defaults to `Arbitrary.make(aggregate.commands)`. */
  readonly commands?: FastCheck.Arbitrary<C> | undefined
  /** The longest command sequence (default 40). */
  readonly maxCommands?: number | undefined
  /** Runs per property (default 200). */
  readonly numRuns?: number | undefined
}

interface Step<S, E, C> {
  readonly command: C
  readonly before: S
  readonly exit: Exit.Exit<ReadonlyArray<E>, unknown>
}

const replay = <Name extends string, S, E extends Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  commands: ReadonlyArray<C>
) =>
  Effect.gen(function* () {
    let state = aggregate.initialState
    const history: Array<E> = []
    const steps: Array<Step<S, E, C>> = []
    const states: Array<{ readonly state: S; readonly history: ReadonlyArray<E> }> = [{ state, history: [] }]
    for (const command of commands) {
      const exit = yield* Effect.exit(Effect.map(aggregate.decide(command, state), Aggregate.decisionEvents))
      steps.push({ command, before: state, exit })
      if (Exit.isSuccess(exit)) {
        state = Aggregate.fold(aggregate, exit.value, state)
        history.push(...exit.value)
        states.push({ state, history: [...history] })
      }
    }
    return { steps, states, history, state }
  })

/**
 * Registers the aggregate laws as property tests.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 * import { AggregateLaws } from "@chronicle/core/testing"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int.pipe(Schema.between(1, 5)) }) {}
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
 * AggregateLaws.describe(Counter, {
 *   invariants: {
 *     "never above ten": (n) => n <= 10,
 *     "equals the sum of increments": (n, history) => n === history.reduce((sum, e) => sum + e.by, 0)
 *   }
 * })
 * ```
 * @since 0.1.0
 * @category suites
 */
export const describe = <Name extends string, S, E extends Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  options?: Options<S, E, C>
): void => {
  const command = options?.commands ?? Arbitrary.make(aggregate.commands)
  const sequences = FastCheck.array(command, { maxLength: options?.maxCommands ?? 40 })
  const fastCheck = { numRuns: options?.numRuns ?? 200 }

  describeSuite(`${aggregate.name} aggregate laws`, () => {
    it.effect.prop(
      "decide never dies with a defect",
      [sequences],
      ([commands]) =>
        Effect.gen(function* () {
          const { steps } = yield* replay(aggregate, commands)
          for (const step of steps) {
            if (Exit.isFailure(step.exit) && !Cause.isFailType(step.exit.cause)) {
              expect.fail(`decide died on ${JSON.stringify(step.command)}: ${Cause.pretty(step.exit.cause)}`)
            }
          }
        }),
      { fastCheck }
    )

    it.effect.prop(
      "every decided event round-trips through the codec and JSON",
      [sequences],
      ([commands]) =>
        Effect.gen(function* () {
          const { history } = yield* replay(aggregate, commands)
          for (const event of history) {
            const encoded = aggregate.codec.encode(event)
            if (Either.isLeft(encoded)) return expect.fail(encoded.left.message)
            expect(encoded.right.schemaVersion).toBe(aggregate.codec.versionOf(event._tag))
            const stored: unknown = JSON.parse(JSON.stringify(encoded.right.data))
            const decoded = aggregate.codec.decodePayload(encoded.right.type, stored)
            if (Either.isLeft(decoded)) return expect.fail(`${event._tag} does not decode back: ${decoded.left}`)
            expect(decoded.right).toEqual(event)
          }
        }),
      { fastCheck }
    )

    it.effect.prop(
      "folding is deterministic, and folding in steps equals folding at once",
      [sequences],
      ([commands]) =>
        Effect.gen(function* () {
          const { history, state } = yield* replay(aggregate, commands)
          expect(Aggregate.fold(aggregate, history)).toEqual(state)
          expect(Aggregate.fold(aggregate, history)).toEqual(Aggregate.fold(aggregate, history))
          const half = Math.floor(history.length / 2)
          const stepwise = Aggregate.fold(
            aggregate,
            history.slice(half),
            Aggregate.fold(aggregate, history.slice(0, half))
          )
          expect(stepwise).toEqual(state)
        }),
      { fastCheck }
    )

    const invariants = Object.entries(options?.invariants ?? {})
    if (invariants.length > 0) {
      it.effect.prop(
        `invariants hold in every reachable state: ${invariants.map(([name]) => name).join("; ")}`,
        [sequences],
        ([commands]) =>
          Effect.gen(function* () {
            const { states } = yield* replay(aggregate, commands)
            for (const { state, history } of states) {
              for (const [name, holds] of invariants) {
                if (!holds(state, history)) {
                  expect.fail(
                    `invariant "${name}" broken after ${JSON.stringify(history)}: state ${JSON.stringify(state)}`
                  )
                }
              }
            }
          }),
        { fastCheck }
      )
    }
  })
}
