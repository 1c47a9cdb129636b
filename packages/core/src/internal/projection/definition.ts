/**
 * What `Projection.make` builds from a definition: the codec (from an
 * aggregate, a codec narrowed to some tags, or an events Schema), the filter,
 * and the batch handler (a single-event `handle` applied in order, each in
 * its event's correlation context).
 *
 * @internal
 */
import { Effect, Either, type Schema } from "effect"
import * as Correlation from "../../Correlation.js"
import type { EventDecodeError, RecordedEvent, StoredEvent } from "../../Event.js"
import * as EventCodec from "../../EventCodec.js"
import type { Decoder, Definition, Handlers, Projection, Source } from "../../Projection.js"
import type * as ProjectionStore from "../../ProjectionStore.js"
import * as Source_ from "./source.js"

/** Builds a projection from any form of definition. @internal */
export const make = <E extends EventCodec.Tagged, I, Err, R>(
  definition: Definition<Err, R> & {
    readonly from?: Source<E> | undefined
    readonly events?: Schema.Schema<E, I, never> | ReadonlyArray<E["_tag"]> | undefined
  } & Handlers<E, Err, R>
): Projection<E, Err, R> => {
  const version = definition.version ?? 1
  if (definition.name.length === 0 || definition.name.length > 100 || /[@\s]/.test(definition.name)) {
    throw new Error(`Projection.make: the name "${definition.name}" must be 1 to 100 characters with no "@" or spaces`)
  }
  if (!Number.isInteger(version) || version < 1) {
    throw new Error(`Projection.make: the version of ${definition.name} must be a positive integer, got ${version}`)
  }
  const { codec, category } = codecOf(definition.from, definition.events, `Projection.make(${definition.name})`)
  const categories = definition.categories ?? (category === undefined ? undefined : [category])
  const single = definition.handle
  const handleBatch =
    definition.handleBatch ??
    ((events: ReadonlyArray<RecordedEvent<E>>, key: ProjectionStore.Key) =>
      single === undefined
        ? Effect.void
        : Effect.forEach(
            events,
            (event) =>
              single(event, key).pipe(
                Correlation.withContext({ correlationId: event.metadata.correlationId, causationId: event.eventId })
              ),
            { discard: true }
          ))
  return {
    name: definition.name,
    version,
    filter: { categories, types: codec.storedTypes },
    decode: codec.decode,
    handleBatch,
    setup: definition.setup ?? (() => Effect.void),
    reset: definition.reset ?? (() => Effect.void),
    teardown: definition.teardown ?? (() => Effect.void),
    isBadData: definition.isBadData ?? (() => false)
  }
}

const codecOf = <E extends EventCodec.Tagged, I>(
  from: Source<E> | undefined,
  events: Schema.Schema<E, I, never> | ReadonlyArray<E["_tag"]> | undefined,
  label: string
): { readonly codec: Decoder<E>; readonly category: string | undefined } => {
  const isTags = (list: Schema.Schema<E, I, never> | ReadonlyArray<E["_tag"]>): list is ReadonlyArray<E["_tag"]> =>
    Array.isArray(list)
  if (from === undefined) {
    if (events === undefined || isTags(events)) throw new Error(`${label}: give \`from\` or an events Schema`)
    return { codec: EventCodec.make(events), category: undefined }
  }
  const codec = Source_.codecOf(from)
  const category = Source_.categoryOf(from)
  if (events === undefined) return { codec, category }
  if (!isTags(events)) throw new Error(`${label}: with \`from\`, \`events\` lists event tags`)
  return { codec: Source_.narrow(codec, events, label), category }
}

/**
 * Decodes a batch for a projection in one plain loop (no Effect per event),
 * failing at its first event that does not decode, as `Effect.forEach`
 * would. @internal
 */
export const decodeAll = <E>(
  projection: { readonly decode: (event: StoredEvent) => Either.Either<RecordedEvent<E>, EventDecodeError> },
  events: ReadonlyArray<StoredEvent>
): Either.Either<ReadonlyArray<RecordedEvent<E>>, EventDecodeError> => {
  const decoded: Array<RecordedEvent<E>> = []
  for (const event of events) {
    const one = projection.decode(event)
    if (Either.isLeft(one)) return Either.left(one.left)
    decoded.push(one.right)
  }
  return Either.right(decoded)
}
