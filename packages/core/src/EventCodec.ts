/**
 * The event codec: maps each domain event to its stored form (type name,
 * schema version, JSON-safe payload) and back.
 *
 * Events are Effect Schemas: `Schema.TaggedClass` or `Schema.TaggedStruct`
 * members of a `Schema.Union`. The `_tag` is the stored type name; the rest of
 * the encoded event is the payload. Every type has a schema version from day
 * one (1 unless configured), stored beside each event.
 *
 * @since 0.1.0
 */
import { Effect, Either, ParseResult, Schema, SchemaAST } from "effect"
import {
  type EventData,
  EventDecodeError,
  EventEncodeError,
  type RecordedEvent,
  recordedAs,
  type StoredEvent
} from "./Event.js"
import { keepFast } from "./internal/fastClass.js"
import * as Upcaster from "./Upcaster.js"

/**
 * Any event type: an object with a string `_tag`.
 *
 * @example
 * ```ts
 * import type { EventCodec } from "@chronicle/core"
 *
 * const typeNames = (events: ReadonlyArray<EventCodec.Tagged>): ReadonlyArray<string> => events.map((event) => event._tag)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Tagged {
  readonly _tag: string
}

/**
 * The encoded form of one event, without its id.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { EventCodec } from "@chronicle/core"
 *
 * class Reset extends Schema.TaggedClass<Reset>()("Reset", {}) {}
 * const encoded: Either.Either<EventCodec.EncodedEvent, unknown> = EventCodec.make(Reset).encode(new Reset())
 * const label = Either.map(encoded, (e) => `${e.type} v${e.schemaVersion}`)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface EncodedEvent {
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
}

/**
 * Encodes and decodes the events of one Schema union.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { type Event, EventCodec } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * const codec: EventCodec.EventCodec<Incremented> = EventCodec.make(Incremented)
 * const amount = (stored: Event.StoredEvent): number =>
 *   Either.match(codec.decode(stored), { onLeft: () => 0, onRight: (recorded) => recorded.event.by })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface EventCodec<E extends Tagged> {
  /** The event type names this codec knows. */
  readonly types: ReadonlyArray<string>
  /**
   * Every stored type name this codec can read: the current ones and the old
   * names its upcasters rename. Filter stored events by these.
   */
  readonly storedTypes: ReadonlyArray<string>
  /** The current schema version of each type. */
  readonly versionOf: (type: string) => number
  /**
   * Encodes a domain event into its stored type, current schema version and
   * payload. (A method, so that a codec of some events is also a codec of
   * `Tagged` where only its reading side is used, as in `Saga.Any`.)
   */
  encode(event: E): Either.Either<EncodedEvent, EventEncodeError>
  /**
   * Decodes a stored event, upcasting it first. A row the store marked
   * `corrupt` is always an `EventDecodeError` naming it.
   */
  readonly decode: (stored: StoredEvent) => Either.Either<RecordedEvent<E>, EventDecodeError>
  /** Decodes a payload of the current schema version, with no stored context. */
  readonly decodePayload: (type: string, data: unknown) => Either.Either<E, string>
  /** The upcasters `decode` applies (so a codec over a subset of these events can keep them). */
  readonly upcasters: ReadonlyArray<Upcaster.Upcaster>
}

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { EventCodec, Upcaster } from "@chronicle/core"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number, currency: Schema.String }) {}
 * const options: EventCodec.Options<Deposited> = {
 *   versions: { Deposited: 1 },
 *   upcasters: [Upcaster.rename({ from: "MoneyDeposited", to: "Deposited", version: 1 })]
 * }
 * const codec = EventCodec.make(Deposited, options)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options<E extends Tagged> {
  /**
   * The current schema version of each event type. When not given, it is the
   * highest version the upcasters lead to for that type, or 1.
   */
  readonly versions?: { readonly [K in E["_tag"]]?: number } | undefined
  /** The upcaster chains from older stored shapes (see `Upcaster`). */
  readonly upcasters?: ReadonlyArray<Upcaster.Upcaster> | undefined
}

interface Member {
  readonly version: number
  readonly encode: (event: unknown) => Either.Either<unknown, ParseResult.ParseError>
  /** Decodes a stored payload (a JSON object, without the tag) of this member. */
  readonly decode: (data: object) => Either.Either<unknown, ParseResult.ParseError>
}

const tagOf = (ast: SchemaAST.AST): string | undefined => {
  const encoded = SchemaAST.encodedAST(ast)
  if (!SchemaAST.isTypeLiteral(encoded)) return undefined
  const tag = encoded.propertySignatures.find((p) => p.name === "_tag")
  return tag !== undefined && SchemaAST.isLiteral(tag.type) && typeof tag.type.literal === "string"
    ? tag.type.literal
    : undefined
}

const formatError = (error: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(error)

const noOptions: SchemaAST.ParseOptions = {}

/** The constructor of an object's prototype, if any. */
const classOf = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return undefined
  const prototype: unknown = Object.getPrototypeOf(value)
  return typeof prototype === "object" && prototype !== null && Object.hasOwn(prototype, "constructor")
    ? Reflect.get(prototype, "constructor")
    : undefined
}

/**
 * The decoder of one member, from a stored payload (a JSON object, without
 * the tag). A `Schema.Class` / `TaggedClass` is a transformation from its
 * encoded struct to a declaration (the class), whose step constructs the
 * class without validating again. Decoding it whole costs several times
 * the sum of its parts: the generic parser runs megamorphic across every
 * schema of the process, and the constructor, handed the decoded struct
 * with its `_tag`, deletes it (which turns the object slow) and puts it
 * back. So the decoder runs the parts directly: the encoded struct's decode
 * without its `_tag` signature (the member is chosen by the stored type,
 * and the constructor supplies the tag), the transformation's own step, and
 * the declaration's check (an `instanceof`). Same steps, same value. Any
 * failure is decoded again through the whole schema, so an error reads
 * exactly as the Schema's own. Other schemas decode whole.
 *
 * The first value it constructs names the class, which is then kept in
 * V8's fast mode (see `internal/fastClass`): a class named by esbuild's
 * `keepNames` (tsx, vitest) otherwise never gets its construction optimised.
 */
const memberDecoder = (ast: SchemaAST.AST, tag: string): Member["decode"] => {
  const decodeWhole = Schema.decodeUnknownEither(Schema.make<unknown, unknown, never>(ast))
  const whole = (data: object) => decodeWhole({ ...data, _tag: tag })
  if (
    !SchemaAST.isTransformation(ast) ||
    !SchemaAST.isFinalTransformation(ast.transformation) ||
    !SchemaAST.isTypeLiteral(ast.from) ||
    !SchemaAST.isDeclaration(ast.to)
  ) {
    return whole
  }
  const tagSignature = ast.from.propertySignatures.find((p) => p.name === "_tag")
  if (
    tagSignature === undefined ||
    tagSignature.isOptional ||
    !SchemaAST.isLiteral(tagSignature.type) ||
    tagSignature.type.literal !== tag
  ) {
    return whole
  }
  const untagged = new SchemaAST.TypeLiteral(
    ast.from.propertySignatures.filter((p) => p !== tagSignature),
    ast.from.indexSignatures
  )
  // A struct of no fields decodes as "any object" (keeping every key): the
  // tagged struct keeps none, so neither may the fast path.
  const from =
    untagged.propertySignatures.length === 0 && untagged.indexSignatures.length === 0
      ? () => Either.right({})
      : ParseResult.decodeUnknownEither(Schema.make<unknown, unknown, never>(untagged))
  const to = ParseResult.decodeUnknownEither(Schema.make<unknown, unknown, never>(ast.to))
  const step = ast.transformation.decode
  let kept = false
  return (data) => {
    const encoded = from(data)
    if (Either.isRight(encoded)) {
      const constructed = step(encoded.right, noOptions, ast, data)
      if (Either.isEither(constructed) && Either.isRight(constructed)) {
        if (!kept) {
          kept = true
          keepFast(classOf(constructed.right))
        }
        const checked = to(constructed.right)
        if (Either.isRight(checked)) return Either.right(checked.right)
      }
    }
    return whole(data)
  }
}

const decodeFailure = (stored: StoredEvent, reason: string) => Either.left(EventDecodeError.forEvent(stored, reason))

/**
 * Builds the codec of a union of tagged event schemas.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { EventCodec } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Reset extends Schema.TaggedClass<Reset>()("Reset", {}) {}
 *
 * const codec = EventCodec.make(Schema.Union(Incremented, Reset), { versions: { Incremented: 2 } })
 * const encoded = codec.encode(new Incremented({ by: 3 }))
 * // Either.right({ type: "Incremented", schemaVersion: 2, data: { by: 3 } })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <E extends Tagged, I>(schema: Schema.Schema<E, I, never>, options?: Options<E>): EventCodec<E> => {
  const asts = SchemaAST.isUnion(schema.ast) ? schema.ast.types : [schema.ast]
  const members = new Map<string, Member>()
  const versions: { readonly [key: string]: number | undefined } = options?.versions ?? {}
  const upcasters = options?.upcasters ?? []
  const upcastVersion = (tag: string): number =>
    upcasters.reduce((max, u) => (u.toType === tag ? Math.max(max, u.toVersion) : max), 1)
  for (const ast of asts) {
    const tag = tagOf(ast)
    if (tag === undefined) {
      throw new Error(
        `EventCodec.make: every event schema must be tagged (Schema.TaggedClass or Schema.TaggedStruct); found ${String(ast)}`
      )
    }
    const member = Schema.make<unknown, unknown, never>(ast)
    const version = versions[tag] ?? upcastVersion(tag)
    if (!Number.isInteger(version) || version < 1) {
      throw new Error(`EventCodec.make: the schema version of ${tag} must be a positive integer, got ${version}`)
    }
    members.set(tag, {
      version,
      encode: Schema.encodeEither(member),
      decode: memberDecoder(ast, tag)
    })
  }
  const types = [...members.keys()]

  const encode = (event: E): Either.Either<EncodedEvent, EventEncodeError> => {
    const member = members.get(event._tag)
    if (member === undefined) {
      return Either.left(new EventEncodeError({ eventType: event._tag, reason: "not a member of this event union" }))
    }
    return Either.match(member.encode(event), {
      onLeft: (error) => Either.left(new EventEncodeError({ eventType: event._tag, reason: formatError(error) })),
      onRight: (encoded) => {
        if (encoded === null || typeof encoded !== "object") {
          return Either.left(new EventEncodeError({ eventType: event._tag, reason: "encoded event is not an object" }))
        }
        const { _tag: _, ...data } = encoded as Record<string, unknown>
        return Either.right({ type: event._tag, schemaVersion: member.version, data })
      }
    })
  }

  // Decoding runs for every event loaded (thousands per rehydration): plain
  // branches, and no closure or Either.match callbacks allocated per event.
  const decodeMember = (member: Member, data: unknown): Either.Either<E, string> => {
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      return Either.left("the payload is not a JSON object")
    }
    const decoded = member.decode(data)
    // The member schema was taken from the union whose type is E: a value it decodes is an E.
    return Either.isRight(decoded) ? Either.right(decoded.right as E) : Either.left(formatError(decoded.left))
  }

  const decodePayload = (type: string, data: unknown): Either.Either<E, string> => {
    const member = members.get(type)
    return member === undefined ? Either.left(`unknown event type "${type}"`) : decodeMember(member, data)
  }

  const decode = (stored: StoredEvent): Either.Either<RecordedEvent<E>, EventDecodeError> => {
    if (stored.corrupt !== undefined) return decodeFailure(stored, `the stored row is corrupt: ${stored.corrupt}`)
    let type = stored.type
    let data = stored.data
    let member = members.get(type)
    if (member === undefined || member.version !== stored.schemaVersion) {
      const current = Upcaster.run(upcasters, (name) => members.get(name)?.version, stored)
      if (Either.isLeft(current)) return decodeFailure(stored, current.left)
      type = current.right.type
      data = current.right.data
      member = members.get(type)
    }
    const event = member === undefined ? Either.left(`unknown event type "${type}"`) : decodeMember(member, data)
    if (Either.isLeft(event)) return decodeFailure(stored, event.left)
    return Either.right(recordedAs(stored, event.right, type))
  }

  return {
    types,
    storedTypes: [...new Set([...types, ...upcasters.map((u) => u.type)])],
    versionOf: (type) => members.get(type)?.version ?? 1,
    encode,
    decode,
    decodePayload,
    upcasters
  }
}

/**
 * Encodes events into `EventData` with the given ids.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { EventCodec } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * const codec = EventCodec.make(Pinged)
 * const data = EventCodec.toEventData(codec, [new Pinged()], () => crypto.randomUUID())
 * ```
 * @since 0.1.0
 * @category encoding
 */
export const toEventData = <E extends Tagged>(
  codec: EventCodec<E>,
  events: ReadonlyArray<E>,
  eventId: (index: number) => string
): Effect.Effect<ReadonlyArray<EventData>, EventEncodeError> =>
  Effect.forEach(events, (event, index) =>
    Effect.map(codec.encode(event), (encoded) => ({ eventId: eventId(index), ...encoded }))
  )
