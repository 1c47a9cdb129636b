/**
 * Snapshots checked against the stream they claim, and `Repository.verify`:
 * a snapshot whose version is not in the stream, or whose position is not
 * that of the event at its version (a stale row, one of another stream, a
 * tampered one), is ignored with a warning and the state is folded from the
 * events; `verify` folds every event and compares it with the version the
 * store reports and with every stored snapshot, content included.
 */
import { EventStore, type Position, Repository, SnapshotStore, StreamId } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Chunk, Effect, FastCheck, Layer, Logger, Option, Stream } from "effect"
import { Counter, CounterCommand, type CounterState, Increment, Open } from "./fixtures/Counter.js"

const stores = Layer.merge(EventStore.layerMemory(), SnapshotStore.layerMemory)

/** Captures warnings logged while `self` runs. */
const capturingWarnings = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const messages: Array<string> = []
    const logger = Logger.make(({ message }) => {
      messages.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* self.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return [result, messages] as const
  })

const streamOf = (id: string) => StreamId.forAggregate("Counter", id)

/** A counter opened with a limit of 100 and incremented by 10 `times` times, snapshotted every 2 events. */
const counted = (id: string, times: number) =>
  Effect.gen(function* () {
    const counters = yield* Repository.make(Counter, {
      cache: false,
      snapshots: { strategy: SnapshotStore.every(2), mode: "inline" }
    })
    yield* counters.execute(id, new Open({ limit: 100 }))
    for (let i = 0; i < times; i++) yield* counters.execute(id, new Increment({ by: 10 }))
    return counters
  })

/** Overwrites (or adds) a snapshot row behind the repository's back. */
const plant = (
  id: string,
  fields: { readonly version: number; readonly position: Position.Position; readonly state: unknown }
) =>
  Effect.gen(function* () {
    const snapshots = yield* SnapshotStore.SnapshotStore
    const store = yield* EventStore.EventStore
    const [last] = yield* store.readEvents(streamOf(id), { direction: "backward", limit: 1 })
    if (last === undefined) return yield* Effect.dieMessage(`no events in ${id}`)
    yield* snapshots.save({ streamId: streamOf(id), stateVersion: 1, recordedAt: last.recordedAt, ...fields })
  })

const positionAt = (id: string, version: number) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const [event] = yield* store.readEvents(streamOf(id), { from: version, to: version })
    if (event === undefined) return yield* Effect.dieMessage(`no event ${version}`)
    return event.position
  })

describe("Repository: snapshots are checked against their stream", () => {
  it.effect("a snapshot past the end of the stream is ignored: the withdrawal it would allow is refused", () =>
    Effect.gen(function* () {
      const counters = yield* counted("v-1", 9) // count 90 of 100, version 10
      // a stale row from another life of the stream: version 12, count 0
      yield* plant("v-1", {
        version: 12,
        position: yield* positionAt("v-1", 10),
        state: { open: true, limit: 100, count: 0 }
      })
      const [loaded, warnings] = yield* capturingWarnings(counters.load("v-1"))
      expect(loaded).toMatchObject({ version: 10, state: { count: 90 } })
      expect(warnings.join("\n")).toMatch(/ignoring snapshot of Counter-v-1@12: the stream has fewer than 12 events/)
      const refused = yield* Effect.flip(counters.execute("v-1", new Increment({ by: 50 })))
      expect(refused._tag).toBe("OverLimit")
    }).pipe(Effect.provide(stores))
  )

  it.effect("a snapshot whose position is not that of the event at its version is ignored", () =>
    Effect.gen(function* () {
      const counters = yield* counted("v-2", 3)
      yield* counted("other", 3)
      // the right version, but another stream's position (a row copied from elsewhere)
      yield* plant("v-2", {
        version: 4,
        position: yield* positionAt("other", 4),
        state: { open: true, limit: 100, count: 0 }
      })
      const [loaded, warnings] = yield* capturingWarnings(counters.load("v-2"))
      expect(loaded).toMatchObject({ version: 4, state: { count: 30 } })
      expect(warnings.join("\n")).toMatch(/ignoring snapshot of Counter-v-2@4: the event at version 4 is at position/)
      // history, load and loadAt agree
      const history = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.history("v-2")))
      expect(history[history.length - 1]?.stateAfter).toEqual(loaded.state)
      expect((yield* counters.loadAt("v-2", { version: 4 })).state).toEqual(loaded.state)
    }).pipe(Effect.provide(stores))
  )

  it.effect("a snapshot whose version is not a stream version is ignored", () =>
    Effect.gen(function* () {
      for (const version of [0, -3, 2.5]) {
        const id = `v-3-${version}`
        const counters = yield* Repository.make(Counter, { cache: false })
        yield* counters.execute(id, new Open({ limit: 100 }))
        yield* counters.execute(id, new Increment({ by: 10 }))
        yield* counters.execute(id, new Increment({ by: 10 }))
        yield* plant(id, { version, position: yield* positionAt(id, 1), state: { open: true, limit: 100, count: 99 } })
        const [loaded, warnings] = yield* capturingWarnings(counters.load(id))
        expect(loaded).toMatchObject({ version: 3, state: { count: 20 } })
        expect(warnings.join("\n")).toMatch(/its version is not a stream version/)
      }
    }).pipe(Effect.provide(stores))
  )

  it.effect("a snapshot that matches its stream is still used, without a warning", () =>
    Effect.gen(function* () {
      const counters = yield* counted("v-4", 5) // snapshots at 2, 4 and 6
      const [loaded, warnings] = yield* capturingWarnings(counters.load("v-4"))
      expect(loaded).toMatchObject({ version: 6, state: { count: 50 } })
      expect(warnings).toEqual([])
    }).pipe(Effect.provide(stores))
  )
})

describe("Repository.verify", () => {
  it.effect("a healthy stream: every snapshot matches the fold, and the versions agree", () =>
    Effect.gen(function* () {
      const counters = yield* counted("h-1", 5)
      const report = yield* counters.verify("h-1")
      expect(report).toMatchObject({
        streamId: "Counter-h-1",
        events: 6,
        eventsVersion: 6,
        streamVersion: 6,
        issues: [],
        consistent: true
      })
      expect(report.snapshots.map((s) => [s.version, s.outcome])).toEqual([
        [6, "matches"],
        [4, "matches"],
        [2, "matches"]
      ])
    }).pipe(Effect.provide(stores))
  )

  it.effect("a snapshot whose content alone was changed is used by loads, and verify finds it", () =>
    Effect.gen(function* () {
      const counters = yield* counted("t-1", 3) // snapshots at 2 and 4
      yield* plant("t-1", {
        version: 4,
        position: yield* positionAt("t-1", 4),
        state: { open: true, limit: 100, count: 0 }
      })
      // The content is trusted as a cache: documented, and what verify is for.
      expect((yield* counters.load("t-1")).state.count).toBe(0)
      const report = yield* counters.verify("t-1")
      expect(report.consistent).toBe(false)
      expect(report.snapshots.map((s) => [s.version, s.outcome])).toEqual([
        [4, "mismatch"],
        [2, "matches"]
      ])
      expect(report.snapshots[0]?.differences).toEqual([{ path: "count", before: 30, after: 0 }])
      expect(report.issues).toEqual([
        { _tag: "SnapshotMismatch", version: 4, reason: "its state differs from the fold of the events" }
      ])
    }).pipe(Effect.provide(stores))
  )

  it.effect("snapshots past the end, at a wrong position, not decoding, or of another state version", () =>
    Effect.gen(function* () {
      const counters = yield* counted("t-2", 1) // snapshot at 2
      yield* plant("t-2", { version: 7, position: yield* positionAt("t-2", 2), state: { open: true } })
      yield* plant("t-2", { version: 1, position: yield* positionAt("t-2", 2), state: Counter.initialState })
      const snapshots = yield* SnapshotStore.SnapshotStore
      yield* snapshots.save({
        streamId: streamOf("t-2"),
        version: 2,
        stateVersion: 0,
        state: "from an older release",
        position: yield* positionAt("t-2", 2),
        recordedAt: Option.getOrThrow(yield* Stream.runHead(counters.events("t-2"))).recordedAt
      })
      const report = yield* counters.verify("t-2")
      expect(report.consistent).toBe(false)
      expect(report.snapshots.map((s) => [s.version, s.outcome, s.reason])).toEqual([
        [7, "mismatch", "the stream has no event at version 7 (2 events)"],
        [2, "ignored", "state version 0, the aggregate's is 1: loads never use it"],
        [1, "mismatch", expect.stringMatching(/^the event at version 1 is at position \S+, the snapshot says \S+$/)]
      ])
      expect(report.issues.map((i) => i._tag)).toEqual(["SnapshotMismatch", "SnapshotMismatch"])
    }).pipe(Effect.provide(stores))
  )

  it.effect("a snapshot whose state does not decode is a mismatch", () =>
    Effect.gen(function* () {
      const counters = yield* counted("t-3", 1)
      yield* plant("t-3", { version: 2, position: yield* positionAt("t-3", 2), state: { open: "yes" } })
      const report = yield* counters.verify("t-3")
      expect(report.snapshots[0]).toMatchObject({ version: 2, outcome: "mismatch" })
      expect(report.snapshots[0]?.reason).toMatch(/^its state does not decode/)
    }).pipe(Effect.provide(stores))
  )

  it.effect("the version the store reports is compared with the events", () =>
    Effect.gen(function* () {
      const inner = yield* EventStore.makeMemory()
      // a store whose streams row was lost: it reports version 0
      const store = EventStore.EventStore.of({ ...inner, streamVersion: () => Effect.succeed(0) })
      const report = yield* Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, { cache: false })
        yield* counters.execute("s-1", new Open({ limit: 10 }))
        yield* counters.execute("s-1", new Increment({ by: 1 }))
        return yield* counters.verify("s-1")
      }).pipe(Effect.provideService(EventStore.EventStore, store))
      expect(report).toMatchObject({
        eventsVersion: 2,
        streamVersion: 0,
        consistent: false,
        issues: [{ _tag: "StreamVersionMismatch", eventsVersion: 2, streamVersion: 0 }]
      })
    })
  )

  it.effect("an event that does not decode is reported, and the snapshots after it are unchecked", () =>
    Effect.gen(function* () {
      const counters = yield* counted("d-1", 1) // snapshot at 2
      const store = yield* EventStore.EventStore
      const bad = yield* store.append(streamOf("d-1"), [
        { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: "lots" } }
      ])
      yield* store.append(streamOf("d-1"), [
        { eventId: crypto.randomUUID(), type: "Incremented", schemaVersion: 1, data: { by: 1 } }
      ])
      yield* plant("d-1", { version: 4, position: yield* positionAt("d-1", 4), state: Counter.initialState })
      const report = yield* counters.verify("d-1")
      expect(report.consistent).toBe(false)
      expect(report.events).toBe(4)
      expect(report.issues).toEqual([
        { _tag: "UndecodableEvent", version: 3, position: bad.positions[0], reason: expect.stringMatching(/by/) }
      ])
      expect(report.snapshots.map((s) => [s.version, s.outcome])).toEqual([
        [4, "unchecked"],
        [2, "matches"]
      ])
    }).pipe(Effect.provide(stores))
  )

  it.effect("an id that is not valid is a typed error; a stream never written is consistent and empty", () =>
    Effect.gen(function* () {
      const counters = yield* Repository.make(Counter, { cache: false })
      expect((yield* Effect.flip(counters.verify("")))._tag).toBe("InvalidCommandError")
      expect(yield* counters.verify("nobody")).toMatchObject({
        events: 0,
        eventsVersion: 0,
        streamVersion: 0,
        snapshots: [],
        consistent: true
      })
    }).pipe(Effect.provide(stores))
  )

  it.effect.prop(
    "a planted snapshot: loads use it only where it matches its stream, and verify flags it when its state differs",
    [
      FastCheck.array(Arbitrary.make(CounterCommand), { minLength: 1, maxLength: 20 }),
      FastCheck.integer({ min: -1, max: 25 }),
      FastCheck.integer({ min: 1, max: 25 }),
      FastCheck.integer({ min: 0, max: 1000 })
    ],
    ([script, plantedVersion, positionOf, plantedCount]) =>
      Effect.gen(function* () {
        const counters = yield* Repository.make(Counter, { cache: false })
        for (const command of [new Open({ limit: 1000 }), ...script])
          yield* Effect.either(counters.execute("p", command))
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(counters.events("p")))
        const states: Array<CounterState> = [Counter.initialState]
        for (const e of events) states.push(Counter.evolve(states[states.length - 1] ?? Counter.initialState, e.event))
        const source = events[Math.min(positionOf, events.length) - 1]
        if (source === undefined) return
        const planted = { open: true, limit: 1000, count: plantedCount }
        yield* plant("p", { version: plantedVersion, position: source.position, state: planted })
        const matchesStream = plantedVersion >= 1 && source.version === plantedVersion
        const loaded = yield* counters.load("p")
        const folded = states[states.length - 1]
        if (matchesStream && plantedVersion === events.length) expect(loaded.state).toEqual(planted)
        else if (!matchesStream) expect(loaded.state).toEqual(folded)
        expect(loaded.version).toBe(events.length)
        const report = yield* counters.verify("p")
        const truth = states[plantedVersion]
        const honest =
          matchesStream &&
          truth !== undefined &&
          truth.open === planted.open &&
          truth.limit === planted.limit &&
          truth.count === planted.count
        expect(report.consistent).toBe(honest)
        expect(report.snapshots.map((s) => s.outcome)).toEqual([honest ? "matches" : "mismatch"])
      }).pipe(Effect.provide(stores)),
    { fastCheck: { numRuns: 100 } }
  )
})
