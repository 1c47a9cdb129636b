/**
 * `StateCodec`: how an aggregate's state is encoded for storage (in a
 * snapshot), with a version to bump when the encoded shape changes. Kept
 * apart from the snapshot store so that the pure `Aggregate` does not
 * depend on a store.
 *
 * @since 0.6.0
 */
import { Either, Schema } from "effect"

/**
 * How an aggregate's state is encoded in a snapshot: built from a Schema by
 * {@link make}, or by `Aggregate.make({ state: { schema, version } })`.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import type { StateCodec } from "@chronicle/core"
 *
 * const counter: StateCodec.StateCodec<number> = {
 *   version: 1,
 *   encode: (n) => Either.right(n),
 *   decode: (u) => (typeof u === "number" ? Either.right(u) : Either.left("not a number"))
 * }
 * ```
 * @since 0.6.0
 * @category models
 */
export interface StateCodec<S> {
  /** Bump it whenever the encoded state's shape changes: older snapshots are then ignored. */
  readonly version: number
  /** Encodes the state for storage; a failure is the reason the snapshot is skipped. */
  readonly encode: (state: S) => Either.Either<unknown, string>
  /** Decodes a stored state; a failure is the reason the snapshot is ignored. */
  readonly decode: (encoded: unknown) => Either.Either<S, string>
}

/**
 * Builds a state codec from a Schema and its version.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { StateCodec } from "@chronicle/core"
 *
 * const codec = StateCodec.make(Schema.Struct({ balance: Schema.Int }), 1)
 * ```
 * @since 0.6.0
 * @category constructors
 */
export const make = <S, I>(schema: Schema.Schema<S, I, never>, version: number): StateCodec<S> => {
  const encode = Schema.encodeEither(schema)
  const decode = Schema.decodeUnknownEither(schema)
  return {
    version,
    encode: (state) => Either.mapLeft(encode(state), (error) => error.message),
    decode: (encoded) => Either.mapLeft(decode(encoded), (error) => error.message)
  }
}
