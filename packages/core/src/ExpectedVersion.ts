/**
 * Optimistic concurrency for appends. An append names what it expects of the
 * stream, and the store refuses it with a `ConcurrencyError` when the stream
 * is not in that state.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * The four expected-version modes:
 * - `Any`: append whatever the stream's state;
 * - `NoStream`: the stream must not exist yet;
 * - `StreamExists`: the stream must have at least one event;
 * - `Exact`: the stream's current version must be exactly `version`
 *   (`Exact(0)` means the same as `NoStream`).
 *
 * @example
 * ```ts
 * import { ExpectedVersion } from "@chronicle/core"
 *
 * const modes = [ExpectedVersion.Any, ExpectedVersion.NoStream, ExpectedVersion.StreamExists, ExpectedVersion.exact(3)]
 * ```
 * @since 0.1.0
 * @category models
 */
export type ExpectedVersion = Data.TaggedEnum<{
  Any: {}
  NoStream: {}
  StreamExists: {}
  Exact: { readonly version: number }
}>

const ExpectedVersion = Data.taggedEnum<ExpectedVersion>()

/**
 * Append regardless of the stream's version.
 *
 * @example
 * ```ts
 * import { ExpectedVersion } from "@chronicle/core"
 *
 * const options = { expectedVersion: ExpectedVersion.Any }
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const Any: ExpectedVersion = ExpectedVersion.Any()

/**
 * The stream must not exist.
 *
 * @example
 * ```ts
 * import { ExpectedVersion } from "@chronicle/core"
 *
 * const options = { expectedVersion: ExpectedVersion.NoStream }
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const NoStream: ExpectedVersion = ExpectedVersion.NoStream()

/**
 * The stream must already have at least one event.
 *
 * @example
 * ```ts
 * import { ExpectedVersion } from "@chronicle/core"
 *
 * const options = { expectedVersion: ExpectedVersion.StreamExists }
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const StreamExists: ExpectedVersion = ExpectedVersion.StreamExists()

/**
 * The stream's current version must be exactly `version` (0 = no stream).
 *
 * @example
 * ```ts
 * import { ExpectedVersion } from "@chronicle/core"
 *
 * const options = { expectedVersion: ExpectedVersion.exact(4) }
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const exact = (version: number): ExpectedVersion => ExpectedVersion.Exact({ version })

/**
 * Whether a stream currently at `current` (0 = no stream) satisfies `expected`.
 *
 * @example
 * ```ts
 * import { ExpectedVersion } from "@chronicle/core"
 *
 * ExpectedVersion.isSatisfiedBy(ExpectedVersion.exact(2), 2) // true
 * ExpectedVersion.isSatisfiedBy(ExpectedVersion.NoStream, 1) // false
 * ```
 * @since 0.1.0
 * @category predicates
 */
export const isSatisfiedBy = (expected: ExpectedVersion, current: number): boolean => {
  switch (expected._tag) {
    case "Any":
      return true
    case "NoStream":
      return current === 0
    case "StreamExists":
      return current > 0
    case "Exact":
      return current === expected.version
  }
}

/**
 * A readable form, used in error messages: `any`, `no stream`, `stream exists`
 * or the version number.
 *
 * @example
 * ```ts
 * import { ExpectedVersion } from "@chronicle/core"
 *
 * ExpectedVersion.format(ExpectedVersion.exact(3)) // "3"
 * ```
 * @since 0.1.0
 * @category formatting
 */
export const format = (expected: ExpectedVersion): string => {
  switch (expected._tag) {
    case "Any":
      return "any"
    case "NoStream":
      return "no stream"
    case "StreamExists":
      return "stream exists"
    case "Exact":
      return `${expected.version}`
  }
}
