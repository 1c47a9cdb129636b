import {
  Correlation,
  EventStore,
  Position,
  Projection,
  ProjectionAdmin,
  ProjectionStore,
  Repository,
  StreamId
} from "@chronicle/core"
import { AwaitProjections } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Ref, Schedule, Stream } from "effect"
import * as Failure from "../src/internal/projection/failure.js"
import { Counter, CounterEvent, Increment, Open } from "./fixtures/Counter.js"

/** A read model in memory: the total per counter, and how often each event was applied. */
const makeTotals = (options?: {
  readonly name?: string
  readonly version?: number
  readonly failOn?: (amount: number) => boolean
  readonly onApply?: Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const totals = yield* Ref.make(new Map<string, number>())
    const applied = yield* Ref.make(new Map<string, number>())
    const broken = yield* Ref.make(options?.failOn !== undefined)
    const projection = Projection.make({
      name: options?.name ?? "totals",
      version: options?.version ?? 1,
      events: CounterEvent,
      categories: ["Counter"],
      handle: (recorded) =>
        Effect.gen(function* () {
          if (recorded.event._tag === "Incremented") {
            const amount = recorded.event.by
            if ((yield* Ref.get(broken)) && options?.failOn?.(amount)) {
              return yield* Effect.fail(`cannot apply ${amount}`)
            }
            yield* Ref.update(totals, (m) =>
              new Map(m).set(recorded.streamId, (m.get(recorded.streamId) ?? 0) + amount)
            )
          }
          yield* Ref.update(applied, (m) => new Map(m).set(recorded.eventId, (m.get(recorded.eventId) ?? 0) + 1))
          if (options?.onApply !== undefined) yield* options.onApply
        }),
      reset: () => Effect.zipRight(Ref.set(totals, new Map()), Ref.set(applied, new Map())),
      // "cannot apply" is the event's fault: the policy applies (other errors are retried without end)
      isBadData: (error) => error.startsWith("cannot apply")
    })
    return { projection, totals, applied, fix: Ref.set(broken, false) }
  })

const stores = Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory)
// Leases long enough that a loaded machine never lets one lapse mid-commit: in memory a
// commit cannot be undone, so a lapsed lease could let a second runner apply an event again.
const fast = { pollInterval: "20 millis", leaseTtl: "3 seconds", retry: Schedule.recurs(2) } as const

const seed = (counters: number, increments: number, prefix = "c") =>
  Effect.gen(function* () {
    const repo = yield* Repository.make(Counter)
    let last = Position.start
    for (let c = 0; c < counters; c++) {
      yield* repo.execute(`${prefix}${c}`, new Open({ limit: 1000 }))
      for (let i = 1; i <= increments; i++) {
        const result = yield* repo.execute(`${prefix}${c}`, new Increment({ by: i }))
        last = Option.getOrElse(result.position, () => last)
      }
    }
    return last
  })

const tagOf = (error: unknown): unknown =>
  typeof error === "object" && error !== null && "_tag" in error ? error._tag : error

const expectedTotal = (increments: number) => (increments * (increments + 1)) / 2

/** Polls `effect` every 20 ms until `until` holds (for at most 10 s), and returns that value. */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, until: (a: A) => boolean) =>
  effect.pipe(
    Effect.repeat({ schedule: Schedule.identity<A>().pipe(Schedule.addDelay(() => "20 millis")), until }),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("condition not reached in time") })
  )

describe("Projection", () => {
  it.live("catches up, follows live events, and reports status", () =>
    Effect.gen(function* () {
      const { projection, totals } = yield* makeTotals()
      yield* seed(2, 5)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(Projection.layer(projection, fast))
          yield* AwaitProjections.caughtUp({ names: ["totals"], timeout: "5 seconds" })
          expect((yield* Ref.get(totals)).get("Counter-c0")).toBe(expectedTotal(5))
          const last = yield* seed(1, 3, "live")
          yield* Projection.waitFor("totals", last, { timeout: "5 seconds" })
          expect((yield* Ref.get(totals)).get("Counter-live0")).toBe(expectedTotal(3))
          // the runner's monitor writes the state: wait for it, within bounds
          const [status] = yield* eventually(ProjectionAdmin.status("totals"), (all) => all[0]?.state === "caught-up")
          expect(status).toMatchObject({
            name: "totals",
            version: 1,
            active: true,
            state: "caught-up",
            lag: 0,
            parked: 0
          })
        })
      )
    }).pipe(Effect.provide(stores))
  )

  it.live("passes each event's correlation on: handlers run in the event's context", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const projection = Projection.make({
        name: "correlations",
        events: CounterEvent,
        handle: (recorded) =>
          Effect.flatMap(Correlation.current, (c) =>
            Ref.update(seen, (all) => [
              ...all,
              Option.getOrElse(c.correlationId, () => "none"),
              Option.contains(c.causationId, recorded.eventId) ? "caused by the event" : "wrong causation"
            ])
          )
      })
      const repo = yield* Repository.make(Counter)
      yield* repo.execute("k", new Open({ limit: 5 }), { commandId: "cmd-1" })
      yield* ProjectionAdmin.catchUp(projection).pipe(Stream.runDrain)
      expect(yield* Ref.get(seen)).toEqual(["cmd-1", "caused by the event"])
    }).pipe(Effect.provide(stores))
  )

  it.live("stop policy: bad data stops the projection with ProjectionFailed before it", () =>
    Effect.gen(function* () {
      const { projection, totals } = yield* makeTotals({ failOn: (amount) => amount === 3 })
      yield* seed(1, 5)
      const exit = yield* Effect.exit(Projection.run(projection, fast))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(failure?._tag).toBe("ProjectionFailed")
        expect(failure?.reason).toMatch(/cannot apply 3/)
        expect(failure?.cause).toBe("cannot apply 3")
        expect(failure?.name).toBe("totals")
      }
      expect((yield* Ref.get(totals)).get("Counter-c0")).toBe(1 + 2)
      const [status] = yield* ProjectionAdmin.status("totals")
      expect(status?.state).toBe("failed")
      expect(Option.getOrElse(status?.error ?? Option.none(), () => "")).toMatch(/cannot apply 3/)
      // the events still to process: the poison event (Incremented 3) and the two after it
      expect([status?.lag, status?.lagExact]).toEqual([3, true])
    }).pipe(Effect.provide(stores))
  )

  it.live("park policy: the bad event is parked with its cause, the rest goes on, and it replays once fixed", () =>
    Effect.gen(function* () {
      const { projection, totals, fix } = yield* makeTotals({ failOn: (amount) => amount === 3 })
      yield* seed(1, 5)
      yield* ProjectionAdmin.catchUp(projection, { ...fast, onFailure: "park" }).pipe(Stream.runDrain)
      expect((yield* Ref.get(totals)).get("Counter-c0")).toBe(expectedTotal(5) - 3)
      const parked = yield* ProjectionAdmin.parked({ name: "totals", version: 1 })
      expect(parked).toHaveLength(1)
      expect(parked[0]?.reason).toMatch(/cannot apply 3/)
      expect(parked[0]?.event.type).toBe("Incremented")
      const [status] = yield* ProjectionAdmin.status("totals")
      expect(status?.parked).toBe(1)
      // still broken: it stays parked
      expect((yield* ProjectionAdmin.replayParked(projection)).stillFailing).toHaveLength(1)
      yield* fix
      expect(yield* ProjectionAdmin.replayParked(projection)).toEqual({ replayed: 1, stillFailing: [] })
      expect((yield* Ref.get(totals)).get("Counter-c0")).toBe(expectedTotal(5))
      expect(yield* ProjectionAdmin.parked({ name: "totals", version: 1 })).toHaveLength(0)
    }).pipe(Effect.provide(stores))
  )

  it.live("blue/green: v1 serves while v2 builds, v2 becomes active once caught up, v1 stays until dropped", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const v1 = yield* makeTotals({ version: 1 })
      const v2 = yield* makeTotals({ version: 2, onApply: Deferred.await(gate) })
      yield* seed(2, 4)
      yield* ProjectionAdmin.catchUp(v1.projection).pipe(Stream.runDrain)
      expect(yield* Effect.flatMap(ProjectionStore.ProjectionStore, (s) => s.activeVersion("totals"))).toEqual(
        Option.some(1)
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(Projection.layer(v2.projection, fast))
          // v2 is building (blocked on the gate): v1 still serves
          const building = yield* eventually(ProjectionAdmin.status("totals"), (all) =>
            all.some((s) => s.version === 2 && s.state === "rebuilding")
          )
          expect(building.find((s) => s.version === 1)?.active).toBe(true)
          expect(building.find((s) => s.version === 2)).toMatchObject({ active: false, state: "rebuilding" })
          expect(tagOf(yield* Effect.flip(ProjectionAdmin.drop(v1.projection)))).toBe("ProjectionActive")
          yield* Deferred.succeed(gate, undefined)
          yield* eventually(
            Effect.flatMap(ProjectionStore.ProjectionStore, (s) => s.activeVersion("totals")),
            (v) => Option.contains(v, 2)
          )
          expect((yield* Ref.get(v2.totals)).get("Counter-c1")).toBe(expectedTotal(4))
          expect((yield* ProjectionAdmin.status("totals")).map((s) => [s.version, s.active])).toEqual([
            [1, false],
            [2, true]
          ])
        })
      )
      expect(tagOf(yield* Effect.flip(ProjectionAdmin.drop(v2.projection)))).toBe("ProjectionActive")
    }).pipe(Effect.provide(stores))
  )

  it.live("drop removes an inactive version and its record", () =>
    Effect.gen(function* () {
      const v1 = yield* makeTotals({ version: 1 })
      const v2 = yield* makeTotals({ version: 2 })
      yield* seed(1, 2)
      yield* ProjectionAdmin.catchUp(v1.projection).pipe(Stream.runDrain)
      yield* ProjectionAdmin.catchUp(v2.projection).pipe(Stream.runDrain)
      expect((yield* ProjectionAdmin.status("totals")).find((s) => s.active)?.version).toBe(2)
      yield* ProjectionAdmin.drop(v1.projection)
      expect((yield* ProjectionAdmin.status("totals")).map((s) => s.version)).toEqual([2])
    }).pipe(Effect.provide(stores))
  )

  it.live("waitFor fails with a typed timeout when the projection does not get there, and for unknown names", () =>
    Effect.gen(function* () {
      const { projection } = yield* makeTotals()
      yield* seed(1, 1)
      yield* ProjectionAdmin.catchUp(projection).pipe(Stream.runDrain)
      const last = yield* seed(1, 2, "later")
      // nobody runs the projection now
      const error = yield* Effect.flip(Projection.waitFor("totals", last, { timeout: "100 millis" }))
      expect(error._tag).toBe("ProjectionTimeout")
      expect(error.message).toMatch(/did not reach position/)
      expect((yield* Effect.flip(Projection.waitFor("nope", last, { timeout: "50 millis" })))._tag).toBe(
        "ProjectionNotFound"
      )
    }).pipe(Effect.provide(stores))
  )

  it.live("waitFor returns when nothing the projection reads lies before the position", () =>
    Effect.gen(function* () {
      const { projection } = yield* makeTotals()
      yield* seed(1, 1)
      yield* ProjectionAdmin.catchUp(projection).pipe(Stream.runDrain)
      const store = yield* EventStore.EventStore
      const other = yield* store.append(StreamId.forAggregate("Other", "1"), [
        { eventId: crypto.randomUUID(), type: "Unrelated", schemaVersion: 1, data: {} }
      ])
      const position = other.positions[0]
      if (position !== undefined) yield* Projection.waitFor("totals", position, { timeout: "1 second" })
    }).pipe(Effect.provide(stores))
  )

  it.live("one instance at a time: a second runner waits and takes over when the first stops", () =>
    Effect.gen(function* () {
      const { projection, applied } = yield* makeTotals()
      yield* seed(2, 10)
      const first = yield* Effect.fork(Projection.run(projection, { ...fast, owner: "first" }))
      const second = yield* Effect.fork(Projection.run(projection, { ...fast, owner: "second" }))
      yield* AwaitProjections.caughtUp({ names: ["totals"], timeout: "5 seconds" })
      const busy = yield* Effect.flip(ProjectionAdmin.catchUp(projection).pipe(Stream.runDrain))
      expect(tagOf(busy)).toBe("ProjectionBusy")
      yield* Fiber.interrupt(first)
      const more = yield* seed(1, 5, "more")
      yield* Projection.waitFor("totals", more, { timeout: "5 seconds" })
      yield* Fiber.interrupt(second)
      expect([...(yield* Ref.get(applied)).values()].every((n) => n === 1)).toBe(true)
      expect((yield* Ref.get(applied)).size).toBe(2 * 11 + 6)
    }).pipe(Effect.provide(stores))
  )

  it.live("rebuild empties the read model and replays everything, reporting progress", () =>
    Effect.gen(function* () {
      const { projection, totals, applied } = yield* makeTotals()
      yield* seed(2, 30)
      yield* ProjectionAdmin.catchUp(projection).pipe(Stream.runDrain)
      const progress = yield* ProjectionAdmin.rebuild(projection, { batchSize: 10 }).pipe(Stream.runCollect)
      const steps = [...progress]
      expect(steps.length).toBeGreaterThan(3)
      expect(steps[0]?.processed).toBe(0)
      expect(steps[steps.length - 1]).toMatchObject({ processed: 62, lag: 0 })
      expect(steps.map((s) => s.processed)).toEqual([...steps.map((s) => s.processed)].sort((a, b) => a - b))
      expect((yield* Ref.get(totals)).get("Counter-c1")).toBe(expectedTotal(30))
      expect([...(yield* Ref.get(applied)).values()].every((n) => n === 1)).toBe(true)
    }).pipe(Effect.provide(stores))
  )
})

describe("ProjectionAdmin.catchUp against a slow store", () => {
  it.live("asks for the lease at least once even with no wait allowed", () =>
    Effect.gen(function* () {
      const { projection } = yield* makeTotals()
      yield* seed(1, 2)
      const slow = Layer.effect(
        ProjectionStore.ProjectionStore,
        Effect.map(ProjectionStore.makeMemory, (store) =>
          ProjectionStore.ProjectionStore.of({
            ...store,
            // like a database round trip: the answer takes a moment
            acquireLease: (key, owner, ttl) => Effect.delay(store.acquireLease(key, owner, ttl), "20 millis")
          })
        )
      )
      const last = yield* ProjectionAdmin.catchUp(projection).pipe(Stream.runLast, Effect.provide(slow))
      expect(Option.map(last, (p) => p.processed)).toEqual(Option.some(3))
    }).pipe(Effect.provide(EventStore.layerMemory()))
  )
})

describe("ProjectionAdmin.catchUp checkpoints", () => {
  it.live("moves the checkpoint to the head it caught up with, past events it does not read", () =>
    Effect.gen(function* () {
      const { projection } = yield* makeTotals()
      yield* seed(1, 2)
      const store = yield* EventStore.EventStore
      yield* store.append(StreamId.forAggregate("Other", "x"), [
        { eventId: crypto.randomUUID(), type: "Unrelated", schemaVersion: 1, data: {} }
      ])
      const head = yield* store.head
      const last = yield* ProjectionAdmin.catchUp(projection).pipe(Stream.runLast)
      expect(Option.map(last, (p) => Position.encode(p.checkpoint))).toEqual(Option.some(Position.encode(head)))
      const [status] = yield* ProjectionAdmin.status("totals")
      expect(Option.map(status?.checkpoint ?? Option.none(), Position.encode)).toEqual(
        Option.some(Position.encode(head))
      )
    }).pipe(Effect.provide(stores))
  )
})

describe("Projections run independently", () => {
  it.live("a slow projection holds back neither another projection nor the writers", () =>
    Effect.gen(function* () {
      // in memory a commit cannot be interrupted, so "slow" rather than stuck forever
      const stuck = yield* makeTotals({ name: "stuck", onApply: Effect.sleep("1 second") })
      const healthy = yield* makeTotals({ name: "healthy" })
      yield* seed(2, 3)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(
            Layer.merge(Projection.layer(stuck.projection, fast), Projection.layer(healthy.projection, fast))
          )
          const last = yield* seed(1, 4, "later")
          yield* Projection.waitFor("healthy", last, { timeout: "5 seconds" })
          expect((yield* Ref.get(healthy.totals)).get("Counter-later0")).toBe(expectedTotal(4))
          const stuckError = yield* Effect.flip(Projection.waitFor("stuck", last, { timeout: "200 millis" }))
          expect(stuckError._tag).toBe("ProjectionTimeout")
        })
      )
    }).pipe(Effect.provide(stores))
  )
})

describe("The backoff after a passing fault", () => {
  it.effect("grows from 50 ms and never waits longer than its cap (give or take its jitter), without end", () =>
    Effect.gen(function* () {
      const delays = Chunk.toReadonlyArray(
        yield* Schedule.run(Schedule.delays(Failure.backoff(Duration.seconds(2))), 0, Array.from({ length: 200 }))
      ).map(Duration.toMillis)
      // one delay per attempt: it never gives up
      expect(delays).toHaveLength(200)
      expect(delays[0]).toBeGreaterThanOrEqual(40)
      expect(delays[0]).toBeLessThanOrEqual(60)
      expect(Math.max(...delays)).toBeLessThanOrEqual(2400)
      // it reaches the cap: a runner probes every ~2 s, so it resumes within ~2 s of the database's return
      expect(delays.slice(-10).every((d) => d >= 1600)).toBe(true)
    })
  )
})
