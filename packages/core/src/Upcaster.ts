/**
 * Upcasters: how old stored events reach the current shape.
 *
 * Every event type has a schema version from day one. When a type's shape
 * changes, bump its version and add an upcaster from the previous stored shape
 * to the next one. Reading an old event runs the chain v1 → v2 → … → current,
 * so domain code only ever sees current shapes; writing always stores the
 * current version, and stored events are never rewritten.
 *
 * An upcaster works on stored (encoded, JSON) payloads and may also rename
 * the type. Each step yields a list of events, so splitting one stored event
 * into several can be added without changing the chain; today the codec
 * accepts exactly one event per step and reports anything else as a typed
 * decode error.
 *
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"

/**
 * A stored event on its way up the chain.
 *
 * @example
 * ```ts
 * import { Upcaster } from "@chronicle/core"
 *
 * const stored: Upcaster.Stored = { type: "MoneyDeposited", schemaVersion: 1, data: { amount: 10 } }
 * const renamed = Upcaster.rename({ from: "MoneyDeposited", to: "Deposited", version: 1 }).apply(stored.data)
 * // Either.right([{ type: "Deposited", schemaVersion: 1, data: { amount: 10 } }])
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Stored {
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
}

/**
 * One step of a chain: it applies to stored events of `type` at version
 * `fromVersion`.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import type { Upcaster } from "@chronicle/core"
 *
 * // a hand-written step: v1 { amount } → v2 { amount, currency }
 * const addCurrency: Upcaster.Upcaster = {
 *   type: "Deposited",
 *   fromVersion: 1,
 *   toType: "Deposited",
 *   toVersion: 2,
 *   apply: (data) =>
 *     typeof data === "object" && data !== null
 *       ? Either.right([{ type: "Deposited", schemaVersion: 2, data: { ...data, currency: "EUR" } }])
 *       : Either.left("the payload is not an object")
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Upcaster {
  readonly type: string
  readonly fromVersion: number
  /** The type and version this step produces (for planning and error messages). */
  readonly toType: string
  readonly toVersion: number
  /** Runs the step on a stored payload, giving it in its next stored shape; a failure is the reason decoding fails. */
  readonly apply: (data: unknown) => Either.Either<ReadonlyArray<Stored>, string>
}

/**
 * An upcaster from version `version` of `type` to version `version + 1`, as
 * a Schema whose encoded side is the old stored payload and whose type side
 * is the new stored payload (typically a `Schema.transform` between two
 * plain JSON structs: the result is handed on as the next version's stored
 * payload).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Upcaster } from "@chronicle/core"
 *
 * // v1 { amount } → v2 { amount, currency }, defaulting the currency
 * const depositV1toV2 = Upcaster.fromSchema({
 *   type: "MoneyDeposited",
 *   version: 1,
 *   schema: Schema.transform(
 *     Schema.Struct({ amount: Schema.Number }),
 *     Schema.Struct({ amount: Schema.Number, currency: Schema.String }),
 *     { strict: true, decode: (v1) => ({ ...v1, currency: "EUR" }), encode: ({ amount }) => ({ amount }) }
 *   )
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromSchema = <Next, Previous>(options: {
  /** The stored type this step applies to. */
  readonly type: string
  /** The stored schema version this step applies to; it produces `version + 1`. */
  readonly version: number
  /** Decodes the old stored payload into the next version's stored payload. */
  readonly schema: Schema.Schema<Next, Previous, never>
}): Upcaster => make({ type: options.type, version: options.version, schema: options.schema, upcast: (next) => next })

/**
 * An upcaster from version `version` of `type` to version `version + 1`, as
 * a plain function over the old payload, typed by the Schema that validates
 * it.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Upcaster } from "@chronicle/core"
 *
 * const openedV1toV2 = Upcaster.make({
 *   type: "AccountOpened",
 *   version: 1,
 *   schema: Schema.Struct({ owner: Schema.String }),
 *   upcast: (v1) => ({ ...v1, overdraftLimit: 0 })
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Previous, PreviousEncoded>(options: {
  /** The stored type this step applies to. */
  readonly type: string
  /** The stored schema version this step applies to; it produces `version + 1`. */
  readonly version: number
  /** Validates the old stored payload (a failure is the reason decoding fails). */
  readonly schema: Schema.Schema<Previous, PreviousEncoded, never>
  /** The next version's stored payload. */
  readonly upcast: (data: Previous) => unknown
}): Upcaster => {
  const { type, version: from, upcast } = options
  const decode = Schema.decodeUnknownEither(options.schema)
  return {
    type,
    fromVersion: from,
    toType: type,
    toVersion: from + 1,
    apply: (data) =>
      Either.match(decode(data), {
        onLeft: (error) =>
          Either.left(`upcasting ${type} v${from}: ${ParseResult.TreeFormatter.formatErrorSync(error)}`),
        onRight: (old) => Either.right([{ type, schemaVersion: from + 1, data: upcast(old) }])
      })
  }
}

/**
 * Renames a type: stored events called `from` at `version` are read as `to`
 * at the same version, payload unchanged. Chain it with version upcasters as
 * needed.
 *
 * @example
 * ```ts
 * import { Upcaster } from "@chronicle/core"
 *
 * const renamed = Upcaster.rename({ from: "FundsAdded", to: "MoneyDeposited", version: 1 })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const rename = (options: {
  readonly from: string
  readonly to: string
  readonly version: number
}): Upcaster => ({
  type: options.from,
  fromVersion: options.version,
  toType: options.to,
  toVersion: options.version,
  apply: (data) => Either.right([{ type: options.to, schemaVersion: options.version, data }])
})

/**
 * Runs the chain on one stored event until it reaches a known type at its
 * current version. Fails with a readable reason when no path exists.
 *
 * @example
 * ```ts
 * import { Upcaster } from "@chronicle/core"
 *
 * const result = Upcaster.run(
 *   [Upcaster.rename({ from: "FundsAdded", to: "MoneyDeposited", version: 1 })],
 *   (type) => (type === "MoneyDeposited" ? 1 : undefined),
 *   { type: "FundsAdded", schemaVersion: 1, data: { amount: 5 } }
 * )
 * ```
 * @since 0.1.0
 * @category running
 */
export const run = (
  upcasters: ReadonlyArray<Upcaster>,
  currentVersion: (type: string) => number | undefined,
  stored: Stored
): Either.Either<Stored, string> => {
  const steps = new Map(upcasters.map((u) => [`${u.type}@${u.fromVersion}`, u]))
  let event = stored
  for (let hops = 0; hops <= upcasters.length; hops++) {
    const current = currentVersion(event.type)
    if (current !== undefined && current === event.schemaVersion) return Either.right(event)
    const step = steps.get(`${event.type}@${event.schemaVersion}`)
    if (step === undefined) {
      return Either.left(
        current === undefined
          ? `unknown event type "${event.type}"${event.type === stored.type ? "" : ` (upcast from ${stored.type} v${stored.schemaVersion})`}`
          : `stored schema version ${event.schemaVersion} of ${event.type} has no upcaster path to the current version ${current}`
      )
    }
    const next = step.apply(event.data)
    if (Either.isLeft(next)) return Either.left(next.left)
    const [single, ...rest] = next.right
    if (single === undefined || rest.length > 0) {
      return Either.left(
        `upcasting ${event.type} v${event.schemaVersion} gave ${next.right.length} events; exactly one is supported`
      )
    }
    event = single
  }
  return Either.left(`the upcaster chain of ${stored.type} v${stored.schemaVersion} loops`)
}
