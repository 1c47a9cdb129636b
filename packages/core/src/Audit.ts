/**
 * Auditing a stream: what `Repository.verify` reports when it folds every
 * event of an instance and compares the result with the version the store
 * reports and with every stored snapshot (the way to detect a tampered
 * snapshot, whose content loads trust as a cache).
 *
 * @since 0.6.0
 */
import type { Effect } from "effect"
import type { Position } from "./Position.js"
import type * as StreamId from "./StreamId.js"
import type * as TimeTravel from "./TimeTravel.js"

/**
 * How one stored snapshot compares with the stream it claims, in a
 * {@link VerifyReport}:
 * - `matches`: the event at its version has its position, and its state
 *   equals the fold of the events up to that version (compared through the
 *   state Schema's encoding);
 * - `mismatch`: it does not (see `reason` and `differences`); loads ignore a
 *   snapshot whose version or position does not match, but use one whose
 *   content alone was changed;
 * - `ignored`: its state schema version is not the aggregate's, so loads
 *   never use it;
 * - `unchecked`: it could not be compared (an event before it does not
 *   decode, or the aggregate declares no state Schema).
 *
 * @example
 * ```ts
 * import { Audit } from "@chronicle/core"
 *
 * const describe = (check: Audit.SnapshotCheck): string =>
 *   check.outcome === "matches"
 *     ? `snapshot at v${check.version} matches`
 *     : `snapshot at v${check.version} ${check.outcome}: ${check.reason} (${check.differences.length} differences)`
 * ```
 * @since 0.2.0
 * @category models
 */
export interface SnapshotCheck {
  readonly version: number
  readonly position: Position
  readonly stateVersion: number
  readonly outcome: "matches" | "mismatch" | "ignored" | "unchecked"
  /** Why it does not match, or was ignored or unchecked; empty when it matches. */
  readonly reason: string
  /** For a state that differs: each difference, `before` being the fold and `after` the snapshot (encoded). */
  readonly differences: ReadonlyArray<TimeTravel.Change>
}

/**
 * One inconsistency `Repository.verify` found in a stream.
 *
 * @example
 * ```ts
 * import { Audit } from "@chronicle/core"
 *
 * const describe = (issue: Audit.VerifyIssue): string => {
 *   switch (issue._tag) {
 *     case "StreamVersionMismatch":
 *       return `stream says v${issue.streamVersion}, events end at v${issue.eventsVersion}`
 *     case "VersionGap":
 *       return `expected v${issue.expected}, found v${issue.found}`
 *     case "UndecodableEvent":
 *     case "SnapshotMismatch":
 *       return `v${issue.version}: ${issue.reason}`
 *   }
 * }
 * ```
 * @since 0.2.0
 * @category models
 */
export type VerifyIssue =
  | {
      /** The version the store reports for the stream (its `streams` row) is not the last event's. */
      readonly _tag: "StreamVersionMismatch"
      readonly eventsVersion: number
      readonly streamVersion: number
    }
  | {
      /** The events' versions are not contiguous from 1. */
      readonly _tag: "VersionGap"
      readonly expected: number
      readonly found: number
    }
  | {
      /** A stored event does not decode; the fold stops there. */
      readonly _tag: "UndecodableEvent"
      readonly version: number
      readonly position: Position
      readonly reason: string
    }
  | {
      /** A stored snapshot does not match the stream (see its {@link SnapshotCheck}). */
      readonly _tag: "SnapshotMismatch"
      readonly version: number
      readonly reason: string
    }

/**
 * What `Repository.verify` found: the fold of every event compared
 * with the version the store reports and with every stored snapshot.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Audit } from "@chronicle/core"
 *
 * const explain = (report: Audit.VerifyReport) =>
 *   report.consistent
 *     ? Effect.log(`${report.streamId}: ${report.events} events, ${report.snapshots.length} snapshots, consistent`)
 *     : Effect.logError(`${report.streamId}: ${report.issues.map((issue) => issue._tag).join(", ")}`)
 * ```
 * @since 0.2.0
 * @category models
 */
export interface VerifyReport {
  readonly streamId: StreamId.StreamId
  /** How many events were read. */
  readonly events: number
  /** The version of the last event read (0 for none). */
  readonly eventsVersion: number
  /** The version the store reports for the stream. */
  readonly streamVersion: number
  readonly snapshots: ReadonlyArray<SnapshotCheck>
  readonly issues: ReadonlyArray<VerifyIssue>
  /** `true` when no issue was found. */
  readonly consistent: boolean
}

/**
 * Checks one instance's stream through its repository (see `VerifyReport`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Audit, type Repository } from "@chronicle/core"
 *
 * declare const accounts: Repository.Repository<number, { readonly _tag: "Deposited" }, never, never>
 * const check = Effect.map(Audit.verify(accounts, "acc-1"), (report) => report.consistent)
 * ```
 * @since 0.6.0
 * @category verification
 */
export const verify = <Err>(
  repository: { readonly verify: (id: string) => Effect.Effect<VerifyReport, Err> },
  id: string
): Effect.Effect<VerifyReport, Err> => repository.verify(id)
