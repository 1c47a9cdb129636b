/**
 * Stream ids. An aggregate instance lives in the stream `<category>-<id>`,
 * so the part before the first `-` is the stream's category, which
 * `readAll` and `subscribe` can filter on.
 *
 * @since 0.1.0
 */
import { type Brand, Either, Schema } from "effect"

/**
 * A non-empty stream name of at most 1,000 characters.
 *
 * @example
 * ```ts
 * import { StreamId } from "@chronicle/core"
 *
 * const id: StreamId.StreamId = StreamId.forAggregate("Account", "42") // "Account-42"
 * const owner = (streamId: StreamId.StreamId): string => StreamId.aggregateId(streamId) // "42"
 * ```
 * @since 0.1.0
 * @category models
 */
export type StreamId = string & Brand.Brand<"StreamId">

/**
 * The Schema of a stream id. Any non-empty text, quotes, unicode and SQL
 * metacharacters included, up to 1,000 characters.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { StreamId } from "@chronicle/core"
 *
 * const id = Schema.decodeUnknownSync(StreamId.StreamId)("Account-42")
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const StreamId: Schema.brand<Schema.filter<typeof Schema.String>, "StreamId"> = Schema.String.pipe(
  Schema.filter((s) => (s.length > 0 && s.length <= 1000) || "a stream id is 1 to 1,000 characters long"),
  Schema.brand("StreamId")
)

const validate = Schema.decodeUnknownEither(StreamId)

/**
 * Checks a string as a stream id, without throwing.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { StreamId } from "@chronicle/core"
 *
 * Either.isLeft(StreamId.parse("")) // true
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const parse = (value: string): Either.Either<StreamId, string> =>
  Either.mapLeft(validate(value), () =>
    value.length === 0 ? "a stream id cannot be empty" : "a stream id is at most 1,000 characters long"
  )

/**
 * The stream id of one aggregate instance: `<category>-<id>`.
 *
 * @example
 * ```ts
 * import { StreamId } from "@chronicle/core"
 *
 * StreamId.forAggregate("Account", "acc-1") // "Account-acc-1"
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const forAggregate = (category: string, id: string): StreamId => StreamId.make(`${category}-${id}`)

/**
 * The category of a stream: the text before its first `-`, or the whole id
 * when it has none.
 *
 * @example
 * ```ts
 * import { StreamId } from "@chronicle/core"
 *
 * StreamId.category("Account-acc-1") // "Account"
 * ```
 * @since 0.1.0
 * @category getters
 */
export const category = (streamId: string): string => {
  const dash = streamId.indexOf("-")
  return dash === -1 ? streamId : streamId.slice(0, dash)
}

/**
 * The aggregate id of a stream: the text after its first `-` (the inverse
 * of {@link forAggregate}), or an empty string when it has none. Handy in
 * projections, whose events carry the stream id.
 *
 * @example
 * ```ts
 * import { StreamId } from "@chronicle/core"
 *
 * StreamId.aggregateId("Account-acc-1") // "acc-1"
 * StreamId.aggregateId(StreamId.forAggregate("Account", "a-b")) // "a-b"
 * ```
 * @since 0.6.0
 * @category getters
 */
export const aggregateId = (streamId: string): string => {
  const dash = streamId.indexOf("-")
  return dash === -1 ? "" : streamId.slice(dash + 1)
}
