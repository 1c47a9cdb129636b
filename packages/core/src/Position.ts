/**
 * A `Position` is an event's place in the store's global order: the opaque
 * checkpoint that `readAll`, `subscribe` and projections resume from.
 *
 * It is a pair so that every backend can express a gap-safe order:
 * - on PostgreSQL `commit` is the writing transaction id (`xid8`) and
 *   `sequence` the row's identity value; rows are read in `(commit, sequence)`
 *   order, and only from transactions older than every running one;
 * - on SQLite and in memory there is a single writer, so `commit` is `0n` and
 *   `sequence` alone orders events.
 *
 * Positions compare lexicographically. They have one text form, for people
 * and machines alike (logs, checkpoint columns, URLs, JSON): `c/s`, for
 * example `28629/3`, written `s` alone when `commit` is zero (SQLite,
 * memory), for example `42`. {@link encode}, {@link format}, `toString()` and
 * `toJSON()` write it; {@link decode} reads it back, and also reads the older
 * `c:s` form (`28629:3`) of earlier versions.
 *
 * @since 0.1.0
 */
import { Data, Either, Order as Ord, ParseResult, Schema } from "effect"
import { keepFast } from "./internal/fastClass.js"

/**
 * A point in the global order. `Position.start` sits before every event.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 *
 * const p = Position.make(0n, 42n)
 * Position.isAfter(p, Position.start) // true
 * ```
 * @since 0.1.0
 * @category models
 */
export class Position extends Data.Class<{
  readonly commit: bigint
  readonly sequence: bigint
}> {
  /** The text form (see {@link encode}): `commit/sequence`, or just `sequence` when `commit` is zero. */
  override toString(): string {
    return encode(this)
  }
  /** The JSON form: the text form (see {@link encode}), so positions survive `JSON.stringify`. */
  toJSON(): string {
    return encode(this)
  }
}

// Built for every event read: kept in V8's fast mode (see internal/fastClass).
keepFast(Position)

/**
 * Builds a position.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 *
 * const p = Position.make(0n, 7n)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = (commit: bigint, sequence: bigint): Position => new Position({ commit, sequence })

/**
 * The position before the first event: reading from it reads everything.
 *
 * @example
 * ```ts
 * import { EventStore, Position } from "@chronicle/core"
 *
 * const everything = EventStore.readAll({ from: Position.start })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const start: Position = make(0n, 0n)

/**
 * Lexicographic order on `(commit, sequence)`.
 *
 * @example
 * ```ts
 * import { Array } from "effect"
 * import { Position } from "@chronicle/core"
 *
 * Array.sort([Position.make(0n, 2n), Position.make(0n, 1n)], Position.Order)
 * ```
 * @since 0.1.0
 * @category ordering
 */
export const Order: Ord.Order<Position> = Ord.combine(
  Ord.mapInput(Ord.bigint, (p: Position) => p.commit),
  Ord.mapInput(Ord.bigint, (p: Position) => p.sequence)
)

/**
 * `true` when `self` comes strictly after `that`.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 *
 * Position.isAfter(Position.make(0n, 2n), Position.make(0n, 1n)) // true
 * ```
 * @since 0.1.0
 * @category ordering
 */
export const isAfter = (self: Position, that: Position): boolean => Order(self, that) === 1

/**
 * `true` when `self` is at or after `that`.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 *
 * Position.isAtOrAfter(Position.start, Position.start) // true
 * ```
 * @since 0.1.0
 * @category ordering
 */
export const isAtOrAfter = (self: Position, that: Position): boolean => Order(self, that) >= 0

/**
 * The later of two positions.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 *
 * Position.max(Position.start, Position.make(0n, 3n)).sequence // 3n
 * ```
 * @since 0.1.0
 * @category ordering
 */
export const max: (self: Position, that: Position) => Position = Ord.max(Order)

/**
 * The text form of a position: `"<commit>/<sequence>"`, or `"<sequence>"`
 * alone when the commit is zero (SQLite and memory stores). It is what
 * `toString()` and `toJSON()` write, and {@link decode} reads it back.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 *
 * Position.encode(Position.make(12n, 40n)) // "12/40"
 * Position.encode(Position.make(0n, 40n)) // "40"
 * ```
 * @since 0.1.0
 * @category encoding
 */
export const encode = (self: Position): string =>
  self.commit === 0n ? `${self.sequence}` : `${self.commit}/${self.sequence}`

/**
 * The text form of a position, for logs and messages: the same as
 * {@link encode}.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 *
 * Position.format(Position.make(28629n, 3n)) // "28629/3"
 * ```
 * @since 0.6.0
 * @category encoding
 */
export const format: (self: Position) => string = encode

/**
 * Why a text is not a position (see {@link decode}).
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Position } from "@chronicle/core"
 *
 * const reason = Either.match(Position.decode("twelve"), {
 *   onLeft: (error) => error.message,
 *   onRight: () => "a position"
 * })
 * ```
 * @since 0.6.0
 * @category errors
 */
export class InvalidPosition extends Schema.TaggedError<InvalidPosition>()("InvalidPosition", {
  text: Schema.String
}) {
  override get message(): string {
    return `${JSON.stringify(this.text)} is not a position: expected "<commit>/<sequence>" or "<sequence>"`
  }
}

const pattern = /^(\d{1,20})[/:](\d{1,20})$/

/**
 * Parses the text form written by {@link encode} (`"<commit>/<sequence>"` or
 * `"<sequence>"`), and the older `"<commit>:<sequence>"` form, so that
 * checkpoints stored by earlier versions still read. Anything else fails with
 * {@link InvalidPosition}.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Position } from "@chronicle/core"
 *
 * Either.isRight(Position.decode("12/40")) // true
 * Either.isRight(Position.decode("12:40")) // true: the older form
 * Either.isLeft(Position.decode("twelve")) // true
 * ```
 * @since 0.1.0
 * @category encoding
 */
export const decode = (text: string): Either.Either<Position, InvalidPosition> => {
  const trimmed = text.trim()
  if (/^\d{1,20}$/.test(trimmed)) return Either.right(make(0n, BigInt(trimmed)))
  const match = pattern.exec(trimmed)
  if (match === null || match[1] === undefined || match[2] === undefined) {
    return Either.left(new InvalidPosition({ text }))
  }
  return Either.right(make(BigInt(match[1]), BigInt(match[2])))
}

/**
 * A Schema from the text form to a `Position`, for configs, checkpoints and
 * command-line arguments.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Position } from "@chronicle/core"
 *
 * const p = Schema.decodeUnknownSync(Position.FromString)("5")
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const FromString: Schema.Schema<Position, string> = Schema.transformOrFail(
  Schema.String,
  Schema.declare((u): u is Position => u instanceof Position, { identifier: "Position" }),
  {
    strict: true,
    decode: (text, _, ast) => Either.mapLeft(decode(text), (error) => new ParseResult.Type(ast, text, error.message)),
    encode: (position) => Either.right(encode(position))
  }
)
