/**
 * Temporal queries and time-travel debugging: what a query into a stream's
 * past names (`Target`) and returns (`HistoryEntry`), why it can fail
 * (`TemporalQueryError`), `loadAt` and `history` over a repository, and
 * helpers to pick the state at any step and see what changed between two
 * steps.
 *
 * @since 0.1.0
 */
import { type DateTime, type Effect, Equal, Option, Schema, type Stream } from "effect"
import type { RecordedEvent } from "./Event.js"
import type { Position } from "./Position.js"
import type { LoadResult } from "./Repository.js"

/**
 * A point in a stream's past: after its `version`-th event, at a global
 * `position`, or at an instant (`recordedAt` of each event).
 *
 * @example
 * ```ts
 * import { DateTime } from "effect"
 * import type { TimeTravel } from "@chronicle/core"
 *
 * const atVersion: TimeTravel.Target = { version: 10 }
 * const atInstant: TimeTravel.Target = { at: DateTime.unsafeMake("2026-01-01T00:00:00Z") }
 * ```
 * @since 0.1.0
 * @category temporal queries
 */
export type Target = { readonly version: number } | { readonly position: Position } | { readonly at: DateTime.DateTime }

/**
 * A temporal query that cannot be answered: a negative or fractional
 * version, or a version past the stream's end.
 *
 * @example
 * ```ts
 * import { TimeTravel } from "@chronicle/core"
 *
 * const error = new TimeTravel.TemporalQueryError({ aggregate: "Account", id: "a-1", reason: "version 9 is past the end (3 events)" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class TemporalQueryError extends Schema.TaggedError<TemporalQueryError>()("TemporalQueryError", {
  aggregate: Schema.String,
  id: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Cannot query ${this.aggregate} "${this.id}" at that point: ${this.reason}`
  }
}

/**
 * One step of a stream's history: the event, with its context and the state
 * right after it.
 *
 * @example
 * ```ts
 * import type { TimeTravel } from "@chronicle/core"
 *
 * const describe = (entry: TimeTravel.HistoryEntry<number, { readonly _tag: string }>): string =>
 *   `v${entry.version} ${entry.event._tag}: balance ${entry.stateAfter}`
 * ```
 * @since 0.1.0
 * @category temporal queries
 */
export interface HistoryEntry<S, E> extends RecordedEvent<E> {
  readonly stateAfter: S
}

/**
 * The state of one instance as it was at a point in the past (version 0
 * when the stream did not exist yet). The stream is read in pages up to the
 * target only; a snapshot is used when one lies at or before the target.
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import { type Repository, TimeTravel } from "@chronicle/core"
 *
 * declare const accounts: Repository.Repository<number, { readonly _tag: "Deposited" }, never, never>
 * const yesterday = Effect.flatMap(DateTime.now, (now) =>
 *   TimeTravel.loadAt(accounts, "acc-1", { at: DateTime.subtract(now, { days: 1 }) })
 * )
 * ```
 * @since 0.6.0
 * @category temporal queries
 */
export const loadAt = <S, Err>(
  repository: { readonly loadAt: (id: string, target: Target) => Effect.Effect<LoadResult<S>, Err> },
  id: string,
  target: Target
): Effect.Effect<LoadResult<S>, Err> => repository.loadAt(id, target)

/**
 * Every event of one instance with the state right after it, from
 * `fromVersion` on: the audit trail and time-travel view.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { type Repository, TimeTravel } from "@chronicle/core"
 *
 * declare const accounts: Repository.Repository<number, { readonly _tag: "Deposited" }, never, never>
 * const steps = Stream.runCollect(TimeTravel.history(accounts, "acc-1", { fromVersion: 10 }))
 * ```
 * @since 0.6.0
 * @category temporal queries
 */
export const history = <S, E, Err>(
  repository: {
    readonly history: (
      id: string,
      options?: { readonly fromVersion?: number | undefined }
    ) => Stream.Stream<HistoryEntry<S, E>, Err>
  },
  id: string,
  options?: { readonly fromVersion?: number | undefined }
): Stream.Stream<HistoryEntry<S, E>, Err> => repository.history(id, options)

/**
 * One difference between two states: the path of the value, and its value
 * before and after (`undefined` where it did not exist).
 *
 * @example
 * ```ts
 * import { TimeTravel } from "@chronicle/core"
 *
 * const describe = (change: TimeTravel.Change): string =>
 *   `${change.path}: ${JSON.stringify(change.before)} → ${JSON.stringify(change.after)}`
 * const lines = TimeTravel.diff({ balance: 10, owner: "ann" }, { balance: 15, owner: "ann" }).map(describe)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Change {
  readonly path: string
  readonly before: unknown
  readonly after: unknown
}

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const same = (a: unknown, b: unknown): boolean => Object.is(a, b) || (Equal.isEqual(a) && Equal.equals(a, b))

/**
 * The differences between two states, walking plain objects and arrays (and
 * the own fields of class instances) and comparing everything else with
 * `Equal`. An empty list means the states are the same.
 *
 * @example
 * ```ts
 * import { TimeTravel } from "@chronicle/core"
 *
 * TimeTravel.diff({ balance: 100, owner: "Ada" }, { balance: 40, owner: "Ada" })
 * // [{ path: "balance", before: 100, after: 40 }]
 * ```
 * @since 0.1.0
 * @category diffing
 */
export const diff = (before: unknown, after: unknown, path = ""): ReadonlyArray<Change> => {
  if (same(before, after)) return []
  if (Array.isArray(before) && Array.isArray(after)) {
    const length = Math.max(before.length, after.length)
    return Array.from({ length }, (_, i) => diff(before[i], after[i], `${path}[${i}]`)).flat()
  }
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    const changes = keys.flatMap((key) => diff(before[key], after[key], path === "" ? key : `${path}.${key}`))
    if (changes.length > 0) return changes
    // same fields, but one differs in kind (say, two variants of a tagged union with equal fields)
    return Object.getPrototypeOf(before) === Object.getPrototypeOf(after) ? [] : [{ path, before, after }]
  }
  return [{ path, before, after }]
}

/**
 * The state after the step with the given stream version, from a collected
 * history; none when the history has no such step.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { TimeTravel } from "@chronicle/core"
 *
 * const history = [
 *   { version: 1, stateAfter: { balance: 100 } },
 *   { version: 2, stateAfter: { balance: 40 } }
 * ]
 * TimeTravel.stateAt(history, 1) // Option.some({ balance: 100 })
 * ```
 * @since 0.1.0
 * @category navigation
 */
export const stateAt = <S>(
  history: ReadonlyArray<{ readonly version: number; readonly stateAfter: S }>,
  version: number
): Option.Option<S> => Option.map(Option.fromNullable(history.find((e) => e.version === version)), (e) => e.stateAfter)

/**
 * What changed between two steps of a collected history (by stream version).
 *
 * @example
 * ```ts
 * import { TimeTravel } from "@chronicle/core"
 *
 * const history = [
 *   { version: 1, stateAfter: { balance: 100 } },
 *   { version: 2, stateAfter: { balance: 40 } }
 * ]
 * TimeTravel.between(history, 1, 2) // Option.some([{ path: "balance", before: 100, after: 40 }])
 * ```
 * @since 0.1.0
 * @category diffing
 */
export const between = <S>(
  history: ReadonlyArray<{ readonly version: number; readonly stateAfter: S }>,
  from: number,
  to: number
): Option.Option<ReadonlyArray<Change>> =>
  Option.zipWith(stateAt(history, from), stateAt(history, to), (a, b) => diff(a, b))
