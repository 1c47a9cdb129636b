import {
  Correlation,
  EventStore,
  Position,
  Projection,
  ProjectionAdmin,
  ProjectionStore,
  Repository,
  Saga,
  SagaAdmin,
  SagaStep,
  StoreError,
  StreamId
} from "@chronicle/core"
import * as DurableSaga from "@chronicle/core/DurableSaga"
import { describe, expect, it } from "@effect/vitest"
import { WorkflowEngine } from "@effect/workflow"
import { Chunk, Effect, Layer, Option, Ref, Schedule, Schema, Stream, TestClock } from "effect"
import type * as EventCodec from "../src/EventCodec.js"
import {
  Acct,
  ApproveMove,
  CloseAcct,
  Credit,
  Move,
  MoveRequested,
  moveSaga,
  OpenAcct,
  ReopenAcct,
  RequestMove
} from "./fixtures/Ledger.js"

const stores = Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory)
// Bad data is parked after one retry.
const fast: Saga.RunOptions = { pollInterval: "20 millis", leaseTtl: "3 seconds", retry: Schedule.recurs(1) }
// Under the TestClock, nothing may wake up often: adjusting the clock by a day runs every wake-up on the way.
const slow: Saga.RunOptions = { pollInterval: "1 day", leaseTtl: "7 days", retry: Schedule.recurs(1) }

interface Mode {
  readonly name: string
  readonly runner: <T extends EventCodec.Tagged, A, E, R>(
    saga: Saga.Saga<T, A, E, R>,
    options: Saga.RunOptions
  ) => Layer.Layer<never, never, EventStore.EventStore | ProjectionStore.ProjectionStore | R>
}

const modes: ReadonlyArray<Mode> = [
  { name: "in-process", runner: (saga, options) => Saga.layer(saga, options) },
  {
    name: "durable (memory engine)",
    runner: (saga, options) => DurableSaga.layer(saga, options).pipe(Layer.provide(WorkflowEngine.layerMemory))
  }
]

const open = (...ids: ReadonlyArray<readonly [string, number]>) =>
  Effect.gen(function* () {
    const accounts = yield* Repository.make(Acct)
    for (const [id, balance] of ids) {
      yield* accounts.execute(id, new OpenAcct())
      if (balance > 0) yield* accounts.execute(id, new Credit({ amount: balance, refund: false }))
    }
  })

const account = (id: string, command: CloseAcct | ReopenAcct) =>
  Effect.flatMap(Repository.make(Acct), (accounts) => accounts.execute(id, command))

const balance = (id: string) =>
  Effect.flatMap(Repository.make(Acct), (accounts) => Effect.map(accounts.load(id), (l) => l.state.balance))

const request = (moveId: string, from: string, to: string, amount: number) =>
  Effect.flatMap(Repository.make(Move), (moves) =>
    moves.execute(moveId, new RequestMove({ moveId, from, to, amount }), { commandId: `request-${moveId}` })
  )

const approve = (moveId: string) =>
  Effect.flatMap(Repository.make(Move), (moves) => moves.execute(moveId, new ApproveMove({ moveId })))

const eventsOf = (streamId: string) =>
  Effect.map(Stream.runCollect(EventStore.read(StreamId.StreamId.make(streamId))), Chunk.toReadonlyArray)

const typesOf = (streamId: string) => Effect.map(eventsOf(streamId), (events) => events.map((e) => e.type))

/** Appends a trigger as raw data (for payloads its Schema refuses). */
const rawTrigger = (stream: string, data: unknown) =>
  EventStore.append(StreamId.StreamId.make(stream), [
    { eventId: crypto.randomUUID(), type: "MoveRequested", schemaVersion: 1, data }
  ])

/** A saga whose steps record what they do, for order, retry and compensation checks. */
const recorder = (options: {
  readonly log: Ref.Ref<ReadonlyArray<string>>
  readonly flaky?: Ref.Ref<number>
  readonly failAt?: "s3" | "s3-defect"
  readonly undoS1?: Effect.Effect<void, Fault>
}) => {
  const note = (line: string) => Ref.update(options.log, (lines) => [...lines, line])
  return Saga.make({
    name: "Recorder",
    trigger: MoveRequested,
    categories: ["Rec"],
    id: (event) => event.moveId,
    run: () =>
      Effect.gen(function* () {
        yield* Saga.step("s1", {
          run: () => note("run s1"),
          compensate: () => Effect.zipRight(note("undo s1"), options.undoS1 ?? Effect.void)
        })
        yield* Saga.step("s2", {
          run: () =>
            Effect.gen(function* () {
              yield* note("run s2")
              if (options.flaky !== undefined && (yield* Ref.getAndUpdate(options.flaky, (n) => n - 1)) > 0) {
                return yield* StoreError.make({ operation: "append", reason: "unavailable", detail: "flaky" })
              }
            }),
          retry: Schedule.recurs(3),
          compensate: () => note("undo s2")
        })
        yield* Saga.step("s3", {
          run: () =>
            options.failAt === "s3"
              ? Effect.zipRight(note("run s3"), Effect.fail(new Fault({ what: "s3 refused" })))
              : options.failAt === "s3-defect"
                ? Effect.zipRight(note("run s3"), Effect.dieMessage("s3 blew up"))
                : note("run s3"),
          error: Fault
        })
      }),
    onFailure: (_, failure) => note(`on-failure: ${failure.reason}`)
  })
}

class Fault extends Schema.TaggedError<Fault>()("Fault", { what: Schema.String }) {
  override get message(): string {
    return this.what
  }
}

const trigger = (moveId: string, stream = `Rec-${moveId}`) =>
  EventStore.append(StreamId.StreamId.make(stream), [
    {
      eventId: crypto.randomUUID(),
      type: "MoveRequested",
      schemaVersion: 1,
      data: { moveId, from: "x", to: "y", amount: 1 }
    }
  ])

describe.each(modes)("Saga ($name)", (mode) => {
  const withSaga = <T extends EventCodec.Tagged, A, E, R>(saga: Saga.Saga<T, A, E, R>, options = fast) =>
    Effect.provide(mode.runner(saga, options).pipe(Layer.provideMerge(stores)))

  it.live("runs the steps in order, records them, and tags their events with the instance's correlation", () =>
    Effect.gen(function* () {
      yield* open(["a", 1000], ["b", 0])
      yield* request("m1", "a", "b", 300).pipe(Correlation.withCorrelationId("req-42"))
      const done = yield* SagaAdmin.waitFor("Move", "m1")
      expect(done.state).toBe("completed")
      expect(done.steps).toEqual(["debit", "credit", "complete"])
      expect(done.result).toEqual(Option.some({ debitedAt: 3 }))
      expect(yield* balance("a")).toBe(700)
      expect(yield* balance("b")).toBe(300)
      const debits = (yield* eventsOf("Acct-a")).filter((e) => e.type === "Debited")
      expect(debits).toHaveLength(1)
      const debit = debits[0]
      const triggerEvent = (yield* eventsOf("Move-m1"))[0]
      expect(debit?.metadata.correlationId).toBe("req-42")
      expect(debit?.metadata.causationId).toBe(SagaStep.commandId({ saga: "Move", instanceId: "m1", step: "debit" }))
      expect(debit?.metadata.user).toEqual({
        saga: "Move",
        sagaInstance: "m1",
        sagaStep: "debit",
        sagaTrigger: triggerEvent?.eventId
      })
      expect(yield* typesOf("Move-m1")).toEqual(["MoveRequested", "MoveCompleted"])
      // the journal carries the same correlation, the trigger as causation
      const journal = yield* eventsOf("saga:Move-m1")
      expect(journal.every((e) => e.metadata.correlationId === "req-42")).toBe(true)
      expect(journal.every((e) => e.metadata.causationId === triggerEvent?.eventId)).toBe(true)
      expect(yield* SagaAdmin.list("Move", { states: ["completed"] })).toHaveLength(1)
      // the consumer is a projection like any other
      const consumer = (yield* ProjectionAdmin.status("saga:Move"))[0]
      expect(consumer?.parked).toBe(0)
    }).pipe(withSaga(moveSaga()))
  )

  it.live("retries a step on a passing fault, and fails at once on a domain error", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const flaky = yield* Ref.make(2)
      yield* Effect.gen(function* () {
        yield* trigger("r1")
        const done = yield* SagaAdmin.waitFor("Recorder", "r1")
        expect(done.state).toBe("completed")
      }).pipe(withSaga(recorder({ log, flaky })))
      expect(yield* Ref.get(log)).toEqual(["run s1", "run s2", "run s2", "run s2", "run s3"])

      yield* Effect.gen(function* () {
        yield* open(["a", 100], ["b", 0])
        yield* request("m2", "a", "b", 500)
        const failed = yield* SagaAdmin.waitFor("Move", "m2")
        expect(failed.state).toBe("failed")
        expect(failed.steps).toEqual([])
        expect(Option.getOrThrow(failed.error)).toContain("Insufficient")
        // on-failure recorded the failure on the move, with the reason
        const moveEvents = yield* eventsOf("Move-m2")
        expect(moveEvents.map((e) => e.type)).toEqual(["MoveRequested", "MoveFailed"])
        expect(yield* balance("a")).toBe(100)
      }).pipe(withSaga(moveSaga()))
    })
  )

  // Durable mode: instances of one step share its activities' exit Schema
  // (compiled once, see `sharingExitSchema`); each instance still gets its
  // own declared error, and a defect stays a defect.
  it.live("each instance of a step gets its own declared error or defect, also after earlier instances", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function* () {
        for (const id of ["e1", "e2", "e3"]) yield* trigger(id)
        for (const id of ["e1", "e2", "e3"]) {
          const failed = yield* SagaAdmin.waitFor("Recorder", id)
          expect(failed.state).toBe("failed")
          expect(failed.compensated).toEqual(["s2", "s1"])
          expect(Option.getOrThrow(failed.error)).toContain("s3 refused")
        }
      }).pipe(withSaga(recorder({ log, failAt: "s3" })))
      yield* Effect.gen(function* () {
        yield* trigger("e4")
        const failed = yield* SagaAdmin.waitFor("Recorder", "e4")
        expect(failed.state).toBe("failed")
        expect(Option.getOrThrow(failed.error)).toContain("s3 blew up")
        expect(Option.getOrThrow(failed.error)).not.toContain("s3 refused")
      }).pipe(withSaga(recorder({ log, failAt: "s3-defect" })))
      expect((yield* Ref.get(log)).filter((line) => line.startsWith("on-failure"))).toEqual([
        "on-failure: s3 refused",
        "on-failure: s3 refused",
        "on-failure: s3 refused",
        expect.stringContaining("s3 blew up")
      ])
    })
  )

  it.live("compensates the completed steps in reverse order, once, when a later step fails for good", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function* () {
        yield* trigger("r2")
        const failed = yield* SagaAdmin.waitFor("Recorder", "r2")
        expect(failed.state).toBe("failed")
        expect(failed.steps).toEqual(["s1", "s2"])
        expect(failed.compensated).toEqual(["s2", "s1"])
        expect(Option.getOrThrow(failed.error)).toContain("s3 refused")
      }).pipe(withSaga(recorder({ log, failAt: "s3" })))
      expect(yield* Ref.get(log)).toEqual([
        "run s1",
        "run s2",
        "run s3",
        "undo s2",
        "undo s1",
        "on-failure: s3 refused"
      ])

      // the bank's case: the target is closed, the debit is refunded
      yield* Effect.gen(function* () {
        yield* open(["a", 1000], ["b", 0])
        yield* account("b", new CloseAcct())
        yield* request("m3", "a", "b", 250)
        const failed = yield* SagaAdmin.waitFor("Move", "m3")
        expect(failed.state).toBe("failed")
        expect(failed.compensated).toEqual(["debit"])
        expect(yield* balance("a")).toBe(1000)
        const credits = (yield* eventsOf("Acct-a")).filter((e) => e.type === "Credited")
        expect(credits.map((e) => e.data)).toEqual([
          { amount: 1000, refund: false },
          { amount: 250, refund: true }
        ])
        expect(credits[1]?.metadata.causationId).toBe(
          SagaStep.commandId({ saga: "Move", instanceId: "m3", step: "debit", compensation: true })
        )
        expect(yield* typesOf("Move-m3")).toEqual(["MoveRequested", "MoveFailed"])
      }).pipe(withSaga(moveSaga()))
    })
  )

  it.live("a step that dies with a defect fails the saga with the defect, and compensates", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function* () {
        yield* trigger("r3")
        const failed = yield* SagaAdmin.waitFor("Recorder", "r3")
        expect(failed.state).toBe("failed")
        expect(Option.getOrThrow(failed.error)).toContain("s3 blew up")
        expect(failed.compensated).toEqual(["s2", "s1"])
        // the feed goes on
        yield* trigger("r4")
        expect((yield* SagaAdmin.waitFor("Recorder", "r4")).state).toBe("failed")
      }).pipe(withSaga(recorder({ log, failAt: "s3-defect" })))
    })
  )

  it.live("starts one instance per id, however often a trigger names it", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function* () {
        yield* trigger("r5")
        yield* trigger("r5", "Rec-again")
        yield* trigger("r6")
        expect((yield* SagaAdmin.waitFor("Recorder", "r6")).state).toBe("completed")
        expect((yield* SagaAdmin.waitFor("Recorder", "r5")).state).toBe("completed")
        yield* Projection.waitFor("saga:Recorder", yield* EventStore.EventStore.pipe(Effect.flatMap((s) => s.head)))
      }).pipe(withSaga(recorder({ log })))
      expect((yield* Ref.get(log)).filter((line) => line === "run s1")).toHaveLength(2)
    })
  )

  it.live("a batch of triggers delivered again (its checkpoint was not saved) starts each instance once", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      // The triggers, appended before the consumer runs: one batch, with an instance named twice.
      const events = yield* EventStore.EventStore
      yield* trigger("r7")
      yield* trigger("r8")
      yield* trigger("r7", "Rec-twice")
      const last = yield* trigger("r9")
      const batchEnd = Option.getOrThrow(Option.fromNullable(last.positions[last.positions.length - 1]))
      // The batch's checkpoint fails twice (as if the process died after the
      // starts, before the commit): the consumer handles the batch three times.
      const memory = yield* ProjectionStore.makeMemory
      const failures = yield* Ref.make(0)
      const failing = ProjectionStore.ProjectionStore.of({
        ...memory,
        saveCheckpoint: (key, position, owner, leaseTtl) =>
          Effect.flatMap(Ref.get(failures), (n) =>
            key.name === "saga:Recorder" && Position.encode(position) === Position.encode(batchEnd) && n < 2
              ? Effect.zipRight(
                  Ref.set(failures, n + 1),
                  StoreError.make({ operation: "checkpoint", reason: "unavailable", detail: "lost before the commit" })
                )
              : memory.saveCheckpoint(key, position, owner, leaseTtl)
          )
      })
      yield* Effect.gen(function* () {
        for (const id of ["r7", "r8", "r9"]) {
          const done = yield* SagaAdmin.waitFor("Recorder", id)
          expect(done.state).toBe("completed")
          expect(done.steps).toEqual(["s1", "s2", "s3"])
        }
        yield* Projection.waitFor("saga:Recorder", yield* events.head)
      }).pipe(
        Effect.provide(
          mode
            .runner(recorder({ log }), fast)
            .pipe(
              Layer.provideMerge(
                Layer.merge(
                  Layer.succeed(EventStore.EventStore, events),
                  Layer.succeed(ProjectionStore.ProjectionStore, failing)
                )
              )
            )
        )
      )
      expect(yield* Ref.get(failures)).toBe(2)
      // oldest first: in the order of the triggers, however the batch's starts interleaved
      const listed = yield* SagaAdmin.list("Recorder").pipe(Effect.provideService(EventStore.EventStore, events))
      expect(listed.map((s) => s.instanceId)).toEqual(["r7", "r8", "r9"])
      expect((yield* Ref.get(log)).filter((line) => line === "run s1")).toHaveLength(3)
      for (const id of ["r7", "r8", "r9"]) {
        const journal = yield* typesOf(`saga:Recorder-${id}`)
        expect(journal.filter((type) => type === "SagaStarted")).toHaveLength(1)
      }
    }).pipe(Effect.provide(stores))
  )

  it.live("waits for an event routed to its instance, also one that came before the wait", () =>
    Effect.gen(function* () {
      yield* open(["a", 1000], ["b", 0])
      yield* request("m4", "a", "b", 800)
      const waiting = yield* SagaAdmin.waitFor("Move", "m4", { until: (s) => s.state === "waiting" })
      expect(waiting.steps).toEqual(["debit"])
      expect(Option.map(waiting.waitingFor, (w) => w.for)).toEqual(Option.some("event:approved"))
      expect(yield* balance("a")).toBe(200)
      yield* approve("m4")
      expect((yield* SagaAdmin.waitFor("Move", "m4")).state).toBe("completed")
      // each step once, in order, also after the wait (the durable workflow replays the debit on resume)
      expect(yield* typesOf("saga:Move-m4")).toEqual([
        "SagaStarted",
        "SagaStepCompleted",
        "SagaWaiting",
        "SagaSignalReceived",
        "SagaResumed",
        "SagaStepCompleted",
        "SagaStepCompleted",
        "SagaCompleted"
      ])
      expect(yield* balance("b")).toBe(800)

      // approved right away, before the saga reached its wait
      yield* request("m5", "a", "b", 150)
      yield* approve("m5")
      yield* request("m6", "b", "a", 600)
      yield* approve("m6")
      expect((yield* SagaAdmin.waitFor("Move", "m5")).state).toBe("completed")
      expect((yield* SagaAdmin.waitFor("Move", "m6")).state).toBe("completed")
      expect(yield* balance("a")).toBe(650)
    }).pipe(withSaga(moveSaga({ approvalAbove: 100, deadline: "1 hour" })))
  )

  it.effect("a deadline that passes fails the saga and refunds the debit (TestClock)", () =>
    Effect.gen(function* () {
      yield* open(["a", 1000], ["b", 0])
      yield* request("m7", "a", "b", 800)
      const waiting = yield* eventually(SagaAdmin.status("Move", "m7"), (s) => s.state === "waiting")
      expect(yield* balance("a")).toBe(200)
      const until = Option.flatMap(waiting.waitingFor, (w) => w.until)
      expect(Option.isSome(until)).toBe(true)
      yield* TestClock.adjust("1 day")
      expect(Option.map(yield* SagaAdmin.status("Move", "m7"), (s) => s.state)).toEqual(Option.some("waiting"))
      yield* TestClock.adjust("1 day")
      const failed = yield* eventually(SagaAdmin.status("Move", "m7"), (s) => s.state === "failed")
      expect(Option.getOrThrow(failed.error)).toContain("no approved event within 2d")
      expect(failed.compensated).toEqual(["debit"])
      expect(yield* balance("a")).toBe(1000)
      expect(yield* balance("b")).toBe(0)
    }).pipe(withSaga(moveSaga({ approvalAbove: 100, deadline: "2 days" }), slow))
  )

  it.live("a compensation that keeps failing leaves the instance compensation-failed; a retry finishes it", () =>
    Effect.gen(function* () {
      yield* open(["a", 1000], ["b", 0])
      yield* request("m8", "a", "b", 400)
      yield* SagaAdmin.waitFor("Move", "m8", { until: (s) => s.state === "waiting" })
      // the target and the source close while the saga waits: the credit and the refund both fail
      yield* account("b", new CloseAcct())
      yield* account("a", new CloseAcct())
      yield* approve("m8")
      const stuck = yield* SagaAdmin.waitFor("Move", "m8")
      expect(stuck.state).toBe("compensation-failed")
      expect(stuck.compensationErrors).toEqual(["debit: AcctIsClosed"])
      expect(Option.getOrThrow(stuck.error)).toContain("compensation failed")
      expect(yield* balance("a")).toBe(600)
      expect(yield* typesOf("Move-m8")).toEqual(["MoveRequested", "MoveApproved"])

      // an operator fixes the cause and retries: the debit is not applied again
      yield* account("a", new ReopenAcct())
      yield* account("b", new ReopenAcct())
      const again = yield* SagaAdmin.retry("Move", "m8")
      expect(again).toEqual({ run: 2, attempt: 1 })
      const done = yield* SagaAdmin.waitFor("Move", "m8", { until: (s) => s.run === 2 && s.state === "completed" })
      expect(done.steps).toEqual(["debit", "credit", "complete"])
      expect(yield* balance("a")).toBe(600)
      expect(yield* balance("b")).toBe(400)
      expect((yield* eventsOf("Acct-a")).filter((e) => e.type === "Debited")).toHaveLength(1)
      expect(yield* Effect.flip(SagaAdmin.retry("Move", "m8"))).toMatchObject({ _tag: "SagaNotRetryable" })
    }).pipe(withSaga(moveSaga({ approvalAbove: 100, deadline: "1 hour" })))
  )

  it.live("retrying a failed instance runs a new attempt, with fresh command ids", () =>
    Effect.gen(function* () {
      yield* open(["a", 100], ["b", 0])
      yield* request("m9", "a", "b", 300)
      expect((yield* SagaAdmin.waitFor("Move", "m9")).state).toBe("failed")
      yield* Effect.flatMap(Repository.make(Acct), (accounts) =>
        accounts.execute("a", new Credit({ amount: 500, refund: false }))
      )
      expect(yield* SagaAdmin.retry("Move", "m9")).toEqual({ run: 2, attempt: 2 })
      const done = yield* SagaAdmin.waitFor("Move", "m9", { until: (s) => s.run === 2 && s.state === "completed" })
      expect(done.attempt).toBe(2)
      expect(yield* balance("a")).toBe(300)
      expect(yield* balance("b")).toBe(300)
      const debit = (yield* eventsOf("Acct-a")).find((e) => e.type === "Debited")
      expect(debit?.metadata.causationId).toBe(
        SagaStep.commandId({ saga: "Move", instanceId: "m9", step: "debit", attempt: 2 })
      )
      expect(yield* Effect.flip(SagaAdmin.retry("Move", "nope"))).toMatchObject({ _tag: "SagaNotFound" })
    }).pipe(withSaga(moveSaga()))
  )

  it.live("bad triggers are parked with a typed error, and the feed goes on", () =>
    Effect.gen(function* () {
      yield* open(["a", 1000], ["b", 0])
      yield* rawTrigger("Move-bad", { moveId: "bad", from: "a", to: "b", amount: "lots" })
      yield* rawTrigger("Move-empty", { moveId: "", from: "a", to: "b", amount: 1 })
      yield* rawTrigger("Move-long", { moveId: "x".repeat(201), from: "a", to: "b", amount: 1 })
      yield* request("m10", "a", "b", 10)
      expect((yield* SagaAdmin.waitFor("Move", "m10")).state).toBe("completed")
      yield* Projection.waitFor("saga:Move", yield* EventStore.EventStore.pipe(Effect.flatMap((s) => s.head)))
      const parked = yield* ProjectionAdmin.parked({ name: "saga:Move", version: 1 })
      expect(parked.map((p) => p.event.streamId).sort()).toEqual(["Move-bad", "Move-empty", "Move-long"])
      const reasons = parked.map((p) => p.reason).join("\n")
      expect(reasons).toContain("EventDecodeError")
      expect(reasons).toContain("an instance id must not be empty")
      expect(reasons).toContain("an instance id is at most 200 characters, got 201")
      expect(yield* balance("a")).toBe(990)
    }).pipe(withSaga(moveSaga()))
  )
})

/** Polls under the TestClock: advances it a little until `until` holds. */
const eventually = <A, E, R>(effect: Effect.Effect<Option.Option<A>, E, R>, until: (a: A) => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      const found = yield* effect
      if (Option.isSome(found) && until(found.value)) return found.value
      yield* TestClock.adjust("10 millis")
    }
    return yield* Effect.dieMessage("the condition never held")
  })

describe("Saga.Any", () => {
  it("holds sagas of different triggers, results and onFailure, and reads them", () => {
    class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", { id: Schema.String }) {}
    const pong = Saga.make({
      name: "Pong",
      trigger: Pinged,
      id: (event) => event.id,
      success: Schema.Number,
      run: () => Effect.succeed(1)
    })
    // the Move saga has another trigger, a result Schema, errors, requirements, signals and an onFailure
    const move = moveSaga()
    const sagas: ReadonlyArray<Saga.Any> = [pong, move]
    expect(sagas.map((saga) => `${saga.name}: ${saga.trigger.types.join(", ")}`)).toEqual([
      "Pong: Pinged",
      "Move: MoveRequested"
    ])
    expect(sagas.map((saga) => Option.isSome(saga.onFailure))).toEqual([false, true])
    expect(sagas.map((saga) => saga.signals.length)).toEqual([0, 1])
  })
})
