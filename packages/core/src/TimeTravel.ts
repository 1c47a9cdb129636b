/**
 * Time-travel debugging helpers over `Repository.history`: pick the state at
 * any step, and see what changed between two steps.
 *
 * @since 0.1.0
 */
import { Equal, Option } from "effect"

/**
 * One difference between two states: the path of the value, and its value
 * before and after (`undefined` where it did not exist).
 *
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
