/**
 * Where a projection's events come from: an aggregate (its codec, upcasters
 * included) or a codec, optionally narrowed to some of its event tags. The
 * narrowed codec reads the listed types and every older stored type its
 * upcasters turn into one of them, so old events reach the projection.
 *
 * @internal
 */
import { Either } from "effect"
import { EventDecodeError, type StoredEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type { Decoder, Source } from "../../Projection.js"

/** The events of `E` whose tag is one of `Tags`. @internal */
export type Narrowed<E extends EventCodec.Tagged, Tag extends string> = Extract<E, { readonly _tag: Tag }>

const isCodec = <E extends EventCodec.Tagged>(source: Source<E>): source is Decoder<E> => !("codec" in source)

/** The codec of a source. @internal */
export const codecOf = <E extends EventCodec.Tagged>(source: Source<E>): Decoder<E> =>
  isCodec(source) ? source : source.codec

/** The stream category of an aggregate source; none for a codec. @internal */
export const categoryOf = <E extends EventCodec.Tagged>(source: Source<E>): string | undefined =>
  isCodec(source) ? undefined : source.name

/**
 * Every stored type name that `upcasters` turn into one of `types`
 * (through renames, over any number of steps), with `types` themselves.
 *
 * @internal
 */
export const storedTypesOf = (
  types: ReadonlyArray<string>,
  upcasters: EventCodec.EventCodec<EventCodec.Tagged>["upcasters"]
): ReadonlyArray<string> => {
  const reached = new Set(types)
  for (let grew = true; grew; ) {
    grew = false
    for (const upcaster of upcasters) {
      if (reached.has(upcaster.toType) && !reached.has(upcaster.type)) {
        reached.add(upcaster.type)
        grew = true
      }
    }
  }
  return [...reached]
}

/**
 * The codec of `codec` restricted to the events tagged `tags`: it reads only
 * their stored types (old names included); an event that upcasts to another
 * type fails to decode, naming the listed types. (The type narrowing is
 * `Projection.make`'s.)
 *
 * @internal
 */
export const narrow = <E extends EventCodec.Tagged>(
  codec: Decoder<E>,
  tags: ReadonlyArray<string>,
  label: string
): Decoder<E> => {
  const unknown = tags.filter((tag) => !codec.types.includes(tag))
  if (unknown.length > 0) {
    throw new Error(`${label}: ${unknown.join(", ")} not among the events (${codec.types.join(", ")})`)
  }
  if (tags.length === 0) throw new Error(`${label}: the list of events is empty`)
  const listed = new Set<string>(tags)
  const names = [...listed].join(", ")
  const notListed = (stored: StoredEvent, type: string) =>
    EventDecodeError.forEvent(stored, `it reads as ${type}, not one of ${names}`)
  const storedTypes = storedTypesOf([...listed], codec.upcasters)
  return {
    types: [...listed],
    storedTypes,
    decode: (stored) =>
      Either.flatMap(codec.decode(stored), (recorded) =>
        listed.has(recorded.type) ? Either.right(recorded) : Either.left(notListed(stored, recorded.type))
      ),
    upcasters: codec.upcasters.filter((u) => storedTypes.includes(u.type))
  }
}
