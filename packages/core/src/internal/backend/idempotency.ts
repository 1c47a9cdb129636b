/**
 * The idempotency rule of appends (see `Backend.idempotentResult`): an
 * append whose event ids are already stored is a duplicate of the first one
 * only when it re-sends exactly its events.
 *
 * @internal
 */
import { Effect, Option } from "effect"
import type { AppendResult } from "../../Append.js"
import { InvalidAppendError } from "../../AppendError.js"
import type { ExistingEvent, PreparedEvent } from "../../Backend.js"
import type * as StreamId from "../../StreamId.js"

/** Structural equality of two JSON values (object keys in any order). */
const jsonEquals = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((value, i) => jsonEquals(value, b[i]))
  }
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((key) => Object.hasOwn(b, key) && jsonEquals(Reflect.get(a, key), Reflect.get(b, key)))
}

const at = (e: ExistingEvent) => `${e.streamId}@${e.version}`

/** @internal */
export const idempotentResult = (
  streamId: StreamId.StreamId,
  events: ReadonlyArray<PreparedEvent>,
  existing: ReadonlyArray<ExistingEvent>
): Effect.Effect<Option.Option<AppendResult>, InvalidAppendError> => {
  if (existing.length === 0) return Effect.succeed(Option.none())
  const invalid = (reason: string) => Effect.fail(new InvalidAppendError({ streamId, reason }))
  const byId = new Map(existing.map((e) => [e.eventId.toLowerCase(), e]))
  const found = events.map((e) => byId.get(e.eventId.toLowerCase()))
  const stored = found.flatMap((e) => (e === undefined ? [] : [e]))
  if (stored.length < events.length) {
    return invalid(
      `${stored.length} of the ${events.length} event ids are already stored (${stored.map((e) => `${e.eventId} at ${at(e)}`).join(", ")}): ` +
        "an append is idempotent only when it re-sends exactly the events of an earlier append"
    )
  }
  const elsewhere = stored.filter((e) => e.streamId !== streamId)
  if (elsewhere.length > 0) {
    return invalid(
      `event ids already used in another stream: ${elsewhere.map((e) => `${e.eventId} at ${at(e)}`).join(", ")}`
    )
  }
  const versions = stored.map((e) => e.version)
  const sorted = [...versions].sort((a, b) => a - b)
  const first = sorted[0] ?? 0
  if (!sorted.every((v, i) => v === first + i)) {
    return invalid(
      `the event ids belong to events that were not appended together (versions ${versions.join(", ")} of ${streamId})`
    )
  }
  if (!versions.every((v, i) => v === first + i)) {
    const inOrder = [...stored].sort((a, b) => a.version - b.version).map((e) => e.eventId)
    return invalid(
      `the same event ids were appended at ${streamId}@${first}..${first + stored.length - 1} in another order ` +
        `(stored: ${inOrder.join(", ")}; given: ${stored.map((e) => e.eventId).join(", ")})`
    )
  }
  for (const [i, event] of events.entries()) {
    const previous = stored[i]
    if (previous === undefined) continue
    const differs =
      previous.type !== event.type
        ? `type ${previous.type}, not ${event.type}`
        : previous.schemaVersion !== event.schemaVersion
          ? `schema version ${previous.schemaVersion}, not ${event.schemaVersion}`
          : jsonEquals(previous.data, JSON.parse(event.json))
            ? undefined
            : "a different payload"
    if (differs !== undefined) {
      return invalid(
        `event id ${previous.eventId} is already stored at ${at(previous)} with ${differs}: ` +
          "an event id names one event for good, so a different event needs a new id"
      )
    }
  }
  const head = stored[0]
  if (head === undefined) return Effect.succeed(Option.none())
  return Effect.succeed(
    Option.some({
      streamId,
      nextExpectedVersion: first + events.length - 1,
      positions: stored.map((e) => e.position),
      recordedAt: head.recordedAt,
      duplicate: true
    })
  )
}
