/**
 * Fault injection with real OS processes: start `fault-worker.ts`
 * processes (writers and a projector), kill them with SIGKILL, then check
 * what every crash must leave intact:
 *
 * - every acknowledged command is stored exactly once (and no command twice);
 * - each stream's versions are contiguous from 1;
 * - the projection's read model, once caught up, holds every event exactly
 *   once and equals a fresh rebuild (and the fold of the events).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { type Event, EventStore, ProjectionAdmin, StreamId } from "@chronicle/core"
import { expect } from "@effect/vitest"
import { Effect, Schedule, Stream } from "effect"
import * as ReadModel from "./readModel.js"

const script = fileURLToPath(new URL("./fault-worker.ts", import.meta.url))

/** Writers of the wallets `Wallet-<label>-w<n>`, n < writers, and what they acknowledged. */
export interface Writers {
  readonly label: string
  readonly writers: number
  /** The command ids acknowledged so far. */
  readonly acks: () => ReadonlyArray<string>
}

export interface Worker extends Writers {
  readonly child: ChildProcess
  readonly output: () => string
}

/** A worker process, killed when the scope closes (also if the test fails). */
export const worker = (dialect: "pg" | "sqlite", target: string, label: string, writers: number) =>
  Effect.acquireRelease(
    Effect.sync((): Worker => {
      const child = spawn(process.execPath, ["--import", "tsx", script, dialect, target, label, String(writers)], {
        stdio: ["pipe", "pipe", "pipe"]
      })
      let output = ""
      child.stdout?.on("data", (chunk) => {
        output += String(chunk)
      })
      child.stderr?.on("data", (chunk) => {
        output += String(chunk)
      })
      return {
        label,
        writers,
        child,
        output: () => output,
        acks: () => output.split("\n").flatMap((line) => (line.startsWith("ack ") ? [line.slice(4)] : []))
      }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

/** Polls `check` (every 50 ms, at most `timeout`) until it holds. */
export const eventually = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  what: () => string,
  timeout = "60 seconds" as const
) =>
  check.pipe(
    Effect.filterOrFail(
      (ok) => ok,
      () => new Error(what())
    ),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo(timeout)))
  )

/** Waits until the worker has acknowledged `count` commands. */
export const acked = (w: Worker, count: number) =>
  eventually(
    Effect.sync(() => w.acks().length >= count),
    () => `worker ${w.label} acknowledged ${w.acks().length} of ${count} commands:\n${w.output()}`
  )

/** Kills the worker with SIGKILL and waits until it is gone. */
export const kill = (w: Worker) =>
  Effect.gen(function* () {
    w.child.kill("SIGKILL")
    yield* eventually(
      Effect.sync(() => w.child.signalCode !== null || w.child.exitCode !== null),
      () => `worker ${w.label} did not die`
    )
    expect(w.child.signalCode).toBe("SIGKILL")
  })

/** How many events the read model `name` has applied. */
export const appliedCount = (name: string) => Effect.map(ReadModel.applied(name, 1), (rows) => rows.length)

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** The fold a fresh rebuild must equal: per stream, [total, events]. */
const fold = (events: ReadonlyArray<Event.StoredEvent>) => {
  const totals = new Map<string, readonly [number, number]>()
  for (const event of events) {
    const data: unknown = event.data
    const amount =
      typeof data === "object" && data !== null && "amount" in data && typeof data.amount === "number"
        ? event.type === "Withdrawn"
          ? -data.amount
          : data.amount
        : 0
    const [total, count] = totals.get(event.streamId) ?? [0, 0]
    totals.set(event.streamId, [total + amount, count + 1])
  }
  return totals
}

type WalletProjection = Effect.Effect.Success<ReturnType<typeof ReadModel.make>>["projection"]

/** Catches a read model up until it has applied `count` events. */
const caughtUp = (projection: WalletProjection, name: string, count: number) =>
  Effect.gen(function* () {
    yield* ProjectionAdmin.catchUp(projection, {
      owner: `verifier-${name}`,
      waitForLease: "30 seconds",
      leaseTtl: "3 seconds",
      batchSize: 200,
      retry: Schedule.spaced("100 millis")
    }).pipe(Stream.runDrain)
    return (yield* appliedCount(name)) >= count
  })

/**
 * Checks the invariants after the crashes, for the wallets of `workers`:
 * stored once, contiguous, and the "fault" read model equal to a fresh
 * rebuild.
 */
export const verify = (workers: ReadonlyArray<Writers>) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const all: Array<Event.StoredEvent> = []
    for (const w of workers) {
      for (let n = 0; n < w.writers; n++) {
        const events = yield* store.readEvents(StreamId.forAggregate("Wallet", `${w.label}-w${n}`))
        expect(events.map((e) => e.version)).toEqual(range(events.length))
        all.push(...events)
      }
    }
    const byCommand = new Map<string, number>()
    for (const event of all) {
      const id = event.metadata.causationId ?? ""
      byCommand.set(id, (byCommand.get(id) ?? 0) + 1)
    }
    const acknowledged = workers.flatMap((w) => w.acks())
    expect(acknowledged.length).toBeGreaterThan(0)
    for (const id of acknowledged) expect([id, byCommand.get(id)]).toEqual([id, 1])
    for (const [id, count] of byCommand) expect([id, count]).toEqual([id, 1])

    // The read model the killed projectors left, caught up, against a fresh rebuild.
    const survivor = yield* ReadModel.make({ name: "fault", owner: "verifier" })
    yield* eventually(caughtUp(survivor.projection, "fault", all.length), () => "the fault read model never caught up")
    const fresh = yield* ReadModel.make({ name: "fault_fresh", owner: "verifier" })
    yield* eventually(caughtUp(fresh.projection, "fault_fresh", all.length), () => "the fresh rebuild never caught up")
    const applied = yield* ReadModel.applied("fault", 1)
    expect(applied.map((r) => r.event_id).sort()).toEqual(all.map((e) => e.eventId).sort())
    const expected = fold(all)
    expect(yield* ReadModel.totals("fault", 1)).toEqual(expected)
    expect(yield* ReadModel.totals("fault_fresh", 1)).toEqual(expected)
    return { events: all.length, acknowledged: acknowledged.length }
  })

/**
 * The crash scenario on one database: a worker runs until it has
 * acknowledged commands and its projector applied events, and is killed;
 * a second one takes over (the projection once the first's lease expired),
 * and is killed mid-work too; then everything is verified.
 */
export const crashes = (dialect: "pg" | "sqlite", target: string) =>
  Effect.gen(function* () {
    const first = yield* worker(dialect, target, "a", 3)
    yield* acked(first, 20)
    yield* eventually(
      Effect.map(appliedCount("fault"), (n) => n >= 5),
      () => `the first worker's projector applied nothing:\n${first.output()}`
    )
    yield* kill(first)
    const atFirstKill = yield* appliedCount("fault")
    const second = yield* worker(dialect, target, "b", 3)
    yield* acked(second, 20)
    // its projector took the lease over and applies events
    yield* eventually(
      Effect.map(appliedCount("fault"), (n) => n >= atFirstKill + 10),
      () => `the second worker's projector never took over:\n${second.output()}`
    )
    yield* kill(second)
    return yield* verify([first, second])
  })
