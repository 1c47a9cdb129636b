/**
 * What each SQL dialect provides to `SqlEventStore`. The store's shared logic
 * (validation, idempotency, errors, streams and subscriptions) lives in
 * `SqlEventStore.ts`; a driver only runs its dialect's statements.
 *
 * @internal
 */
import type { Backend, Event, EventStore, ExpectedVersion, Position, StreamId } from "@chronicle/core"
import type { SqlError } from "@effect/sql/SqlError"
import type { DateTime, Duration, Effect, ParseResult, Stream } from "effect"

/** @internal */
export type DriverError = SqlError | ParseResult.ParseError | EventStore.StoreError

/** @internal */
export interface AppendInput {
  readonly streamId: StreamId.StreamId
  readonly events: ReadonlyArray<Backend.PreparedEvent>
  /** Never an invalid `Exact` version: those are handled before the driver. */
  readonly expected: ExpectedVersion.ExpectedVersion
  readonly metadataJson: string
  readonly recordedAt: DateTime.Utc
}

/**
 * What one guarded write did:
 * - `Written`: the stream moved to `version`, the events are stored at `positions`;
 * - `Duplicate`: some event ids are already stored, nothing was written;
 * - `Conflict`: the stream is not in the expected state (or, on PostgreSQL,
 *   was last written by a younger transaction); `actual` is its version as
 *   the write saw it.
 *
 * @internal
 */
export type WriteOutcome =
  | { readonly _tag: "Written"; readonly version: number; readonly positions: ReadonlyArray<Position.Position> }
  | { readonly _tag: "Duplicate" }
  | { readonly _tag: "Conflict"; readonly actual: number }

/** @internal */
export interface StreamPage {
  /** Lowest version to read (inclusive). */
  readonly from: number
  /** Highest version to read (inclusive). */
  readonly to: number
  readonly direction: "forward" | "backward"
  readonly limit: number
}

/** @internal */
export interface Driver {
  readonly dialect: "pg" | "sqlite"
  /** Guarded write: the stream row first, then the events, atomically. */
  readonly write: (input: AppendInput) => Effect.Effect<WriteOutcome, DriverError>
  /** One query: the stored events with these ids. */
  readonly lookup: (eventIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Backend.ExistingEvent>, DriverError>
  readonly streamVersion: (streamId: string) => Effect.Effect<number, DriverError>
  readonly readStream: (
    streamId: string,
    page: StreamPage
  ) => Effect.Effect<ReadonlyArray<Event.StoredEvent>, DriverError>
  readonly readAll: (
    from: Position.Position,
    limit: number,
    filter: EventStore.EventFilter
  ) => Effect.Effect<ReadonlyArray<Event.StoredEvent>, DriverError>
  readonly head: Effect.Effect<Position.Position, DriverError>
  /**
   * Waits, up to `timeout`, until every transaction that was running when it
   * started has ended, so that a following read includes every append
   * committed before the call (PostgreSQL; a no-op on SQLite).
   */
  readonly settle: (timeout: Duration.Duration) => Effect.Effect<void, DriverError>
  /** `true` when the error is the event id unique constraint (an idempotency race). */
  readonly isEventIdViolation: (error: SqlError) => boolean
  /** Wake-ups from other processes (PostgreSQL LISTEN), or `Stream.never`. */
  readonly wakeups: Stream.Stream<unknown, EventStore.StoreError>
  /** Whether `wakeups` covers appends made by this process too. */
  readonly wakeupsIncludeLocal: boolean
}

/** Filters with no entries mean "no filter". @internal */
export const activeFilter = (
  filter: EventStore.EventFilter
): { readonly categories: ReadonlyArray<string> | null; readonly types: ReadonlyArray<string> | null } => ({
  categories: filter.categories !== undefined && filter.categories.length > 0 ? filter.categories : null,
  types: filter.types !== undefined && filter.types.length > 0 ? filter.types : null
})
