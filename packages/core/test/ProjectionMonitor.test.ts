/**
 * The runner's status monitor: it writes the projection's state only when the
 * stored record says otherwise, so an idle caught-up projection commits
 * nothing per poll, and it still corrects a state another writer left stale.
 * Over an in-memory projection store that counts its `get` (one per poll of
 * the monitor) and `setState` calls.
 */
import { EventStore, Position, Projection, ProjectionStore, Repository } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Option, Ref, Schedule } from "effect"
import { Counter, CounterEvent, Increment, Open } from "./fixtures/Counter.js"

const key: ProjectionStore.Key = { name: "monitored", version: 1 }

/** The projection under test; `hold` runs before each event it applies. */
const makeProjection = (hold: Effect.Effect<void>) =>
  Projection.make({
    name: key.name,
    events: CounterEvent,
    categories: ["Counter"],
    handle: () => hold
  })

const options = { pollInterval: "10 millis", leaseTtl: "3 seconds", retry: Schedule.recurs(2) } as const

interface Counts {
  readonly gets: number
  readonly setStates: number
}

/** The in-memory projection store, counting reads of the monitored key and state writes. */
const counting = Effect.gen(function* () {
  const inner = yield* ProjectionStore.makeMemory
  const counts = yield* Ref.make<Counts>({ gets: 0, setStates: 0 })
  const store = ProjectionStore.ProjectionStore.of({
    ...inner,
    get: (k) =>
      Effect.zipRight(
        k.name === key.name ? Ref.update(counts, (c) => ({ ...c, gets: c.gets + 1 })) : Effect.void,
        inner.get(k)
      ),
    setState: (k, state, error) =>
      Effect.zipRight(
        Ref.update(counts, (c) => ({ ...c, setStates: c.setStates + 1 })),
        inner.setState(k, state, error)
      )
  })
  return { store, counts }
})

const recordOf = Effect.flatMap(ProjectionStore.ProjectionStore, (projections) =>
  Effect.map(
    projections.get(key),
    Option.map((r) => ({ state: r.state, error: r.error }))
  )
)

/** Polls the record every 10 ms until it is caught up without an error (for at most 10 s). */
const untilCaughtUp = recordOf.pipe(
  Effect.repeat({
    schedule: Schedule.spaced("10 millis"),
    until: (record) => Option.exists(record, (r) => r.state === "caught-up" && Option.isNone(r.error))
  }),
  Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("not caught up in time") })
)

/** Runs `body` with the projection caught up over a few events, on a counting store. */
const caughtUp = <A, E, R>(
  body: (counts: Ref.Ref<Counts>) => Effect.Effect<A, E, R>,
  hold: Effect.Effect<void> = Effect.void
) =>
  Effect.gen(function* () {
    const { store, counts } = yield* counting
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter)
        yield* counters.execute("a", new Open({ limit: 100 }))
        const last = yield* counters.execute("a", new Increment({ by: 1 }))
        yield* Layer.build(Projection.layer(makeProjection(hold), options))
        yield* Projection.waitFor(
          key.name,
          Option.getOrElse(last.position, () => Position.start),
          { timeout: "10 seconds" }
        )
        yield* untilCaughtUp
        return yield* body(counts)
      })
    ).pipe(Effect.provideService(ProjectionStore.ProjectionStore, store))
  }).pipe(Effect.provide(EventStore.layerMemory()))

/** Waits until the monitor has polled at least `polls` more times; returns the counts then. */
const afterPolls = (counts: Ref.Ref<Counts>, polls: number) =>
  Effect.gen(function* () {
    const before = yield* Ref.get(counts)
    const after = yield* Ref.get(counts).pipe(
      Effect.repeat({
        schedule: Schedule.identity<Counts>().pipe(Schedule.addDelay(() => "10 millis")),
        until: (c) => c.gets - before.gets >= polls
      }),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the monitor did not poll") })
    )
    return { polls: after.gets - before.gets, setStates: after.setStates - before.setStates }
  })

describe("the projection status monitor", () => {
  it.live("does not write the state again while a caught-up projection polls with nothing new", () =>
    caughtUp((counts) =>
      Effect.gen(function* () {
        const idle = yield* afterPolls(counts, 20)
        expect(idle.polls).toBeGreaterThanOrEqual(20)
        expect(idle.setStates).toBe(0)
        expect(yield* recordOf).toEqual(Option.some({ state: "caught-up", error: Option.none() }))
      })
    )
  )

  it.live("writes again when the state changes: running while behind, then caught up once more", () =>
    Effect.gen(function* () {
      const holding = yield* Ref.make(false)
      const gate = yield* Deferred.make<void>()
      const hold = Effect.whenEffect(Deferred.await(gate), Ref.get(holding)).pipe(Effect.asVoid)
      yield* caughtUp(
        (counts) =>
          Effect.gen(function* () {
            const before = (yield* Ref.get(counts)).setStates
            yield* Ref.set(holding, true)
            const counters = yield* Repository.make(Counter)
            const next = yield* counters.execute("a", new Increment({ by: 2 }))
            // the handler waits on the gate: the monitor sees the lag and says so
            yield* recordOf.pipe(
              Effect.repeat({
                schedule: Schedule.spaced("10 millis"),
                until: (record) => Option.exists(record, (r) => r.state === "running")
              }),
              Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("never reported running") })
            )
            yield* Deferred.succeed(gate, undefined)
            yield* Projection.waitFor(
              key.name,
              Option.getOrElse(next.position, () => Position.start),
              { timeout: "10 seconds" }
            )
            yield* untilCaughtUp
            // "running" once, "caught-up" once (a poll between two writes may repeat one)
            const written = (yield* Ref.get(counts)).setStates - before
            expect(written).toBeGreaterThanOrEqual(2)
            expect(written).toBeLessThanOrEqual(4)
            expect((yield* afterPolls(counts, 10)).setStates).toBe(0)
          }),
        hold
      )
    })
  )

  it.live("corrects a state or an error another writer left stale, then stops writing", () =>
    caughtUp((counts) =>
      Effect.gen(function* () {
        const projections = yield* ProjectionStore.ProjectionStore
        const stale: ReadonlyArray<readonly [ProjectionStore.State, string | undefined]> = [
          ["retrying", "restarting (attempt 1): connection lost"],
          ["rebuilding", undefined],
          ["running", undefined],
          ["caught-up", "an error left behind"]
        ]
        for (const [state, error] of stale) {
          yield* projections.setState(key, state, error)
          expect(yield* recordOf).toEqual(Option.some({ state, error: Option.fromNullable(error) }))
          yield* untilCaughtUp
          expect((yield* afterPolls(counts, 5)).setStates).toBe(0)
        }
      })
    )
  )

  it.live("leaves a failed state alone", () =>
    caughtUp((counts) =>
      Effect.gen(function* () {
        const projections = yield* ProjectionStore.ProjectionStore
        yield* projections.setState(key, "failed", "stopped by hand")
        expect((yield* afterPolls(counts, 10)).setStates).toBe(0)
        expect(yield* recordOf).toEqual(Option.some({ state: "failed", error: Option.some("stopped by hand") }))
      })
    )
  )
})
