/**
 * The repository's state cache under writers it does not know about: commands
 * through cached repositories (with the default retry, with retries off, and
 * with default options, where the cache is on and loads read pages of 2)
 * interleaved, and partly run concurrently, with commands of an uncached
 * repository and raw appends to the store, as another process would make
 * them. Whatever the interleaving, every accepted command must have been
 * decided on exactly the state it was appended against: replaying `decide`
 * on the fold of the events before its own gives its events, at the
 * version the caller expected when it named one, and no state of the stream
 * breaks the counter's limit.
 */
import { Aggregate, EventStore, Repository, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Chunk, Effect, Either, FastCheck, Schedule, Stream } from "effect"
import { Counter, CounterCommand, type CounterState, Open } from "./fixtures/Counter.js"

type Command = typeof CounterCommand.Type
type Actor = "cached" | "cachedNoRetry" | "defaults" | "plain" | "raw"
type Expectation =
  | { readonly _tag: "none" }
  | { readonly _tag: "actual" }
  | { readonly _tag: "fixed"; readonly version: number }

interface Step {
  readonly actor: Actor
  readonly command: Command
  readonly expect: Expectation
}

const step: FastCheck.Arbitrary<Step> = FastCheck.record({
  actor: FastCheck.constantFrom<Actor>(
    "cached",
    "cached",
    "cachedNoRetry",
    "cachedNoRetry",
    "defaults",
    "defaults",
    "plain",
    "raw"
  ),
  command: Arbitrary.make(CounterCommand),
  expect: FastCheck.oneof(
    FastCheck.constant<Expectation>({ _tag: "none" }),
    FastCheck.constant<Expectation>({ _tag: "actual" }),
    FastCheck.integer({ min: 0, max: 12 }).map((version): Expectation => ({ _tag: "fixed", version }))
  )
})

/** Rounds of steps: a round of one runs alone, a longer one runs its steps concurrently. */
const script = FastCheck.array(FastCheck.array(step, { minLength: 1, maxLength: 3 }), { maxLength: 20 })

interface Accepted {
  readonly commandId: string
  readonly command: Command
  readonly expectedVersion: number | undefined
  readonly events: number
}

const run = <A, E>(effect: Effect.Effect<A, E, EventStore.EventStore>) =>
  effect.pipe(Effect.provide(EventStore.layerMemory()))

describe("Repository state cache under other writers", () => {
  it.live.prop(
    "every accepted command was decided on the exact state it was appended against",
    [FastCheck.integer({ min: 5, max: 60 }), script],
    ([limit, rounds]) =>
      run(
        Effect.gen(function* () {
          const store = yield* EventStore.EventStore
          const fast = Schedule.spaced("1 millis").pipe(Schedule.intersect(Schedule.recurs(100)))
          const repos = {
            cached: yield* Repository.make(Counter, { cache: { capacity: 4 }, retry: fast }),
            cachedNoRetry: yield* Repository.make(Counter, { cache: { capacity: 4 }, retry: Schedule.stop }),
            // what an app gets without options: the state cache is on; pages of 2 events
            defaults: yield* Repository.make(Counter, { retry: fast, pageSize: 2 }),
            plain: yield* Repository.make(Counter, { retry: fast, cache: false })
          }
          const id = "c"
          const stream = StreamId.forAggregate("Counter", id)
          yield* repos.plain.execute(id, new Open({ limit }))
          const accepted: Array<Accepted> = []

          const fold = Effect.map(Stream.runCollect(repos.plain.events(id)), (events) =>
            Chunk.toReadonlyArray(events).reduce<CounterState>(
              (state, e) => Counter.evolve(state, e.event),
              Counter.initialState
            )
          )

          const perform = (s: Step) =>
            Effect.gen(function* () {
              if (s.actor === "raw") {
                // another process's writer that follows the rules without a repository: a reset is always allowed
                yield* store.append(stream, [
                  { eventId: crypto.randomUUID(), type: "Reset", schemaVersion: 1, data: {} }
                ])
                return { step: s, outcome: Either.right(undefined) }
              }
              const expectedVersion =
                s.expect._tag === "none"
                  ? undefined
                  : s.expect._tag === "actual"
                    ? yield* store.streamVersion(stream)
                    : s.expect.version
              const commandId = crypto.randomUUID()
              const outcome = yield* Effect.either(
                repos[s.actor].execute(id, s.command, { commandId, expectedVersion })
              )
              if (Either.isRight(outcome) && !outcome.right.duplicate) {
                accepted.push({ commandId, command: s.command, expectedVersion, events: outcome.right.events.length })
              }
              return { step: s, expectedVersion, outcome: Either.map(outcome, () => undefined) }
            })

          for (const round of rounds) {
            const results = yield* Effect.all(round.map(perform), { concurrency: "unbounded" })
            const [only] = results
            if (results.length !== 1 || only === undefined || Either.isRight(only.outcome)) continue
            // Alone in its round, a failure must be right for the stream as it is now.
            const error = only.outcome.left
            const now = yield* fold
            const version = yield* store.streamVersion(stream)
            if (error._tag === "ConcurrencyError") {
              // only a caller's own expectation can conflict when nothing runs beside it
              expect(only.expectedVersion).toBeDefined()
              expect(only.expectedVersion).not.toBe(version)
            } else {
              expect(Either.isLeft(yield* Effect.either(Counter.decide(only.step.command, now)))).toBe(true)
            }
          }

          // Replay every accepted command on the fold of the events before its own.
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(repos.plain.events(id)))
          const states: Array<CounterState> = [Counter.initialState]
          for (const e of events)
            states.push(Counter.evolve(states[states.length - 1] ?? Counter.initialState, e.event))
          for (const state of states) expect(state.count).toBeLessThanOrEqual(state.open ? state.limit : 0)
          for (const command of accepted) {
            const own = events.filter((e) => e.metadata.causationId === command.commandId)
            expect(own).toHaveLength(command.events)
            const first = own[0]
            if (first === undefined) continue
            expect(own.map((e) => e.version)).toEqual(own.map((_, i) => first.version + i))
            if (command.expectedVersion !== undefined) expect(first.version - 1).toBe(command.expectedVersion)
            const before = states[first.version - 1]
            expect(before).toBeDefined()
            if (before === undefined) continue
            const decided = yield* Effect.either(Counter.decide(command.command, before))
            expect(Either.isRight(decided)).toBe(true)
            if (Either.isRight(decided)) {
              expect(own.map((e) => e.event)).toEqual(Aggregate.decisionEvents(decided.right))
            }
          }
          const final = states[states.length - 1]
          expect((yield* repos.cached.load(id)).state).toEqual(final)
          expect((yield* repos.cachedNoRetry.load(id)).state).toEqual(final)
          expect((yield* repos.defaults.load(id)).state).toEqual(final)
        })
      ),
    { fastCheck: { numRuns: 150 } }
  )
})
