/**
 * Verifying an instance's stream: fold every event and compare the result
 * with the version the store reports and with every stored snapshot.
 *
 * @internal
 */
import { Effect, Either, Option, Stream } from "effect"
import type { SnapshotCheck, VerifyIssue, VerifyReport } from "../../Audit.js"
import type { StoredEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type {} from "../../EventStore.js"
import * as PositionModule from "../../Position.js"
import type { InvalidCommandError } from "../../Repository.js"
import type * as SnapshotStore from "../../SnapshotStore.js"
import type { StoreError } from "../../StoreError.js"
import type { StreamId } from "../../StreamId.js"
import * as TimeTravel from "../../TimeTravel.js"
import type { Context } from "./context.js"
import { streamIdOf } from "./validation.js"

// Every stored snapshot of a stream, newest first. The SnapshotStore can
// only return the newest one within bounds, so this walks down by version.
const snapshotsOf = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  streamId: StreamId
): Effect.Effect<ReadonlyArray<SnapshotStore.Snapshot>, StoreError> =>
  Effect.gen(function* () {
    const { snapshotStore } = context
    if (Option.isNone(snapshotStore)) return []
    const found: Array<SnapshotStore.Snapshot> = []
    let bound: number | undefined
    for (;;) {
      const next = yield* snapshotStore.value.load(streamId, bound === undefined ? undefined : { maxVersion: bound })
      if (Option.isNone(next)) return found
      const snapshot = next.value
      // A store that ignores the bound would never let this loop end.
      if (!Number.isFinite(snapshot.version) || (bound !== undefined && snapshot.version > bound)) return found
      found.push(snapshot)
      bound = Math.ceil(snapshot.version) - 1
    }
  })

/** @internal */
export const verify = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>
): ((id: string) => Effect.Effect<VerifyReport, InvalidCommandError | StoreError>) =>
  Effect.fn("Chronicle.Repository.verify")(function* (id: string) {
    const { model, store } = context
    const stateCodec = model.state
    const streamId = yield* streamIdOf(model.name, id)
    const streamVersion = yield* store.streamVersion(streamId)
    const snapshots = yield* snapshotsOf(context, streamId)
    const checks = new Map<SnapshotStore.Snapshot, SnapshotCheck>()
    const check = (
      snapshot: SnapshotStore.Snapshot,
      outcome: SnapshotCheck["outcome"],
      reason: string,
      differences: ReadonlyArray<TimeTravel.Change> = []
    ) =>
      checks.set(snapshot, {
        version: snapshot.version,
        position: snapshot.position,
        stateVersion: snapshot.stateVersion,
        outcome,
        reason,
        differences
      })
    const byVersion = new Map<number, Array<SnapshotStore.Snapshot>>()
    for (const snapshot of snapshots) {
      if (Option.isNone(stateCodec)) check(snapshot, "unchecked", "the aggregate declares no state Schema")
      else if (snapshot.stateVersion !== stateCodec.value.version) {
        check(
          snapshot,
          "ignored",
          `state version ${snapshot.stateVersion}, the aggregate's is ${stateCodec.value.version}: loads never use it`
        )
      } else byVersion.set(snapshot.version, [...(byVersion.get(snapshot.version) ?? []), snapshot])
    }
    const compare = (snapshot: SnapshotStore.Snapshot, event: StoredEvent, state: S): void => {
      if (Option.isNone(stateCodec)) return
      const codec = stateCodec.value
      if (PositionModule.Order(event.position, snapshot.position) !== 0) {
        return void check(
          snapshot,
          "mismatch",
          `the event at version ${snapshot.version} is at position ${event.position}, the snapshot says ${snapshot.position}`
        )
      }
      const stored = codec.decode(snapshot.state)
      if (Either.isLeft(stored)) return void check(snapshot, "mismatch", `its state does not decode: ${stored.left}`)
      const folded = codec.encode(state)
      const kept = codec.encode(stored.right)
      if (Either.isLeft(folded) || Either.isLeft(kept)) {
        return void check(snapshot, "unchecked", "a state does not encode")
      }
      const differences = TimeTravel.diff(folded.right, kept.right)
      if (differences.length === 0) return void check(snapshot, "matches", "")
      check(snapshot, "mismatch", "its state differs from the fold of the events", differences)
    }

    const issues: Array<VerifyIssue> = []
    let state = model.initialState
    let count = 0
    let lastVersion = 0
    let decodable = true
    yield* store.read(streamId).pipe(
      Stream.runForEach((stored) =>
        Effect.sync(() => {
          count++
          if (stored.version !== lastVersion + 1) {
            issues.push({ _tag: "VersionGap", expected: lastVersion + 1, found: stored.version })
          }
          lastVersion = stored.version
          if (!decodable) return
          const recorded = model.codec.decode(stored)
          if (Either.isLeft(recorded)) {
            decodable = false
            issues.push({
              _tag: "UndecodableEvent",
              version: stored.version,
              position: stored.position,
              reason: recorded.left.reason
            })
            return
          }
          state = model.evolve(state, recorded.right.event)
          for (const snapshot of byVersion.get(stored.version) ?? []) compare(snapshot, stored, state)
        })
      )
    )
    for (const snapshot of snapshots) {
      if (checks.has(snapshot)) continue
      if (decodable || snapshot.version < 1) {
        check(
          snapshot,
          "mismatch",
          snapshot.version >= 1 && Number.isInteger(snapshot.version)
            ? `the stream has no event at version ${snapshot.version} (${count} events)`
            : "its version is not a stream version"
        )
      } else check(snapshot, "unchecked", "an event before it does not decode")
    }
    if (streamVersion !== lastVersion) {
      issues.unshift({ _tag: "StreamVersionMismatch", eventsVersion: lastVersion, streamVersion })
    }
    const snapshotChecks = snapshots.flatMap((snapshot) => {
      const found = checks.get(snapshot)
      return found === undefined ? [] : [found]
    })
    for (const found of snapshotChecks) {
      if (found.outcome === "mismatch") {
        issues.push({ _tag: "SnapshotMismatch", version: found.version, reason: found.reason })
      }
    }
    const report: VerifyReport = {
      streamId,
      events: count,
      eventsVersion: lastVersion,
      streamVersion,
      snapshots: snapshotChecks,
      issues,
      consistent: issues.length === 0
    }
    return report
  })
