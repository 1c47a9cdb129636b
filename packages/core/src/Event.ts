/**
 * The shapes an event takes on its way through Chronicle:
 *
 * - `EventData`: an encoded event about to be appended (type name, schema
 *   version and a JSON-safe payload, plus its `eventId`);
 * - `StoredEvent`: an encoded event as the store returns it, with its stream,
 *   version, global position, metadata and `recordedAt`;
 * - `RecordedEvent<E>`: the same, with the payload decoded into the domain
 *   type `E` by an `EventCodec`.
 *
 * It also holds the errors of that boundary: `EventDecodeError` and
 * `EventEncodeError`.
 *
 * @since 0.1.0
 */
import { type DateTime, Schema } from "effect"
import type { Position } from "./Position.js"
import type { StreamId } from "./StreamId.js"

/**
 * Free user metadata: any JSON object (tenant, user id, request id…).
 *
 * @example
 * ```ts
 * import type { Event } from "@chronicle/core"
 *
 * const user: Event.UserMetadata = { tenant: "acme", userId: "u-42" }
 * const tenantOf = (event: Event.StoredEvent): unknown => event.metadata.user["tenant"]
 * ```
 * @since 0.1.0
 * @category models
 */
export type UserMetadata = { readonly [key: string]: unknown }

/**
 * What every recorded event carries besides its payload.
 *
 * - `correlationId` ties together everything caused by one original request;
 * - `causationId` is the id of the message (usually the command) that caused
 *   this event, or `null` for an event appended without one;
 * - `user` holds free metadata.
 *
 * @example
 * ```ts
 * import type { Event } from "@chronicle/core"
 *
 * const metadata: Event.EventMetadata = {
 *   correlationId: "req-42",
 *   causationId: "cmd-7",
 *   user: { tenant: "acme" }
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface EventMetadata {
  readonly correlationId: string
  readonly causationId: string | null
  readonly user: UserMetadata
}

/**
 * The Schema of {@link EventMetadata} as it is stored (a JSON object).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Event } from "@chronicle/core"
 *
 * Schema.decodeUnknownSync(Event.EventMetadataSchema)({ correlationId: "c", causationId: null, user: {} })
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const EventMetadataSchema: Schema.Schema<EventMetadata> = Schema.Struct({
  correlationId: Schema.String,
  causationId: Schema.NullOr(Schema.String),
  user: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/**
 * An encoded event ready to append. Build it with an `EventCodec`, or by hand
 * for low-level use of the `EventStore`.
 *
 * @example
 * ```ts
 * import type { Event } from "@chronicle/core"
 *
 * const data: Event.EventData = {
 *   eventId: "6f1c1a4e-8a0e-4a57-9d1a-9b8ad2b6c001",
 *   type: "MoneyDeposited",
 *   schemaVersion: 1,
 *   data: { amount: 500 }
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface EventData {
  /** A UUID. Appending the same id twice is idempotent. */
  readonly eventId: string
  /** The event's type name (its `_tag`). */
  readonly type: string
  /** The version of the payload's shape, starting at 1. */
  readonly schemaVersion: number
  /** A JSON-safe payload. */
  readonly data: unknown
}

/**
 * An encoded event as the store returns it.
 *
 * @example
 * ```ts
 * import { Position, type Event } from "@chronicle/core"
 *
 * const describe = (stored: Event.StoredEvent): string =>
 *   stored.corrupt !== undefined
 *     ? `${stored.streamId}@${stored.version} is corrupt: ${stored.corrupt}`
 *     : `${stored.streamId}@${stored.version} ${stored.type} v${stored.schemaVersion} at ${Position.format(stored.position)}`
 * ```
 * @since 0.1.0
 * @category models
 */
export interface StoredEvent {
  readonly eventId: string
  readonly streamId: StreamId
  /** The event's version in its stream: the first event is version 1. */
  readonly version: number
  /** The event's place in the global order. */
  readonly position: Position
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
  readonly metadata: EventMetadata
  readonly recordedAt: DateTime.Utc
  /**
   * Set only on a row the store could not read as stored: it says what is
   * wrong (for example `metadata: is missing correlationId`). The fields it
   * names then hold safe stand-ins (empty metadata, the epoch, a `null`
   * payload), so the row still takes its place in the feed; every
   * `EventCodec` refuses it with an `EventDecodeError` that names the row,
   * so a projection parks or stops on it by its policy instead of stalling.
   */
  readonly corrupt?: string
}

/**
 * A decoded event with everything the store knows about it.
 *
 * @example
 * ```ts
 * import type { Event } from "@chronicle/core"
 *
 * const describe = (e: Event.RecordedEvent<{ readonly _tag: string }>) =>
 *   `${e.streamId}@${e.version}: ${e.event._tag} (caused by ${e.metadata.causationId})`
 * ```
 * @since 0.1.0
 * @category models
 */
export interface RecordedEvent<E> {
  readonly event: E
  readonly eventId: string
  readonly streamId: StreamId
  readonly version: number
  readonly position: Position
  readonly type: string
  /** The schema version the event was stored with, before any upcasting (`type` is the current type name). */
  readonly schemaVersion: number
  readonly metadata: EventMetadata
  readonly recordedAt: DateTime.Utc
}

/**
 * A stored event with its decoded domain event: `type` is the event's
 * current type name (after upcasting, when it was renamed; the stored one
 * by default), every other field the stored event's.
 *
 * @example
 * ```ts
 * import { Event } from "@chronicle/core"
 *
 * const asTag = (stored: Event.StoredEvent) => Event.recordedAs(stored, { _tag: stored.type })
 * ```
 * @since 0.6.0
 * @category constructors
 */
export const recordedAs = <E>(stored: StoredEvent, event: E, type: string = stored.type): RecordedEvent<E> => ({
  event,
  eventId: stored.eventId,
  streamId: stored.streamId,
  version: stored.version,
  position: stored.position,
  type,
  schemaVersion: stored.schemaVersion,
  metadata: stored.metadata,
  recordedAt: stored.recordedAt
})

/**
 * A stored event could not be turned into a domain event: its payload no
 * longer decodes, its type is unknown, or its schema version has no path to
 * the current one. It names the event exactly, so nothing fails anonymously.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "@chronicle/core"
 *
 * const report = (e: Event.EventDecodeError) =>
 *   Effect.logError(`${e.streamId}@${e.version} (${e.eventType}): ${e.reason}`)
 * ```
 * @since 0.1.0
 * @category errors
 */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>()("EventDecodeError", {
  streamId: Schema.String,
  version: Schema.Number,
  position: Schema.String,
  eventId: Schema.String,
  eventType: Schema.String,
  schemaVersion: Schema.Number,
  reason: Schema.String
}) {
  /** The error for a stored event that cannot be decoded, for `reason`. */
  static forEvent(stored: StoredEvent, reason: string): EventDecodeError {
    return new EventDecodeError({
      streamId: stored.streamId,
      version: stored.version,
      position: stored.position.toString(),
      eventId: stored.eventId,
      eventType: stored.type,
      schemaVersion: stored.schemaVersion,
      reason
    })
  }

  override get message(): string {
    return `Cannot decode event ${this.eventType} v${this.schemaVersion} at ${this.streamId}@${this.version} (position ${this.position}, id ${this.eventId}): ${this.reason}`
  }
}

/**
 * A domain event could not be encoded for storage (for example, a value the
 * event's Schema rejects, or a payload that is not JSON-safe).
 *
 * @example
 * ```ts
 * import { Event } from "@chronicle/core"
 *
 * const error = new Event.EventEncodeError({ eventType: "MoneyDeposited", reason: "amount: expected an integer" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class EventEncodeError extends Schema.TaggedError<EventEncodeError>()("EventEncodeError", {
  eventType: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Cannot encode event ${this.eventType}: ${this.reason}`
  }
}
