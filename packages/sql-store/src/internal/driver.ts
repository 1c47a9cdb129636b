/**
 * What each SQL dialect provides to `SqlEventStore`. The store's shared logic
 * (validation, idempotency, errors, streams and subscriptions) lives in
 * `SqlEventStore.ts`; a driver only runs its dialect's statements.
 *
 * @internal
 */
import type { Event, EventStore, ExpectedVersion, FeedStatus, Position, StoreError, StreamId } from "@chronicle/core"
import type * as Backend from "@chronicle/core/Backend"
import type { SqlError } from "@effect/sql/SqlError"
import type { DateTime, Duration, Effect, Option, ParseResult, Stream } from "effect"

/** @internal */
export type DriverError = SqlError | ParseResult.ParseError | StoreError.StoreError

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

/**
 * A stream's version as the streams row says and as its events say. The
 * events are the truth; a row that is missing or behind them (deleted or
 * edited by hand) is repaired by {@link Driver.repairStream}.
 *
 * @internal
 */
export interface StreamState {
  /** The streams row's version, `null` when there is no row. */
  readonly row: number | null
  /** The highest stored version of the stream's events, 0 when it has none. */
  readonly events: number
}

/** @internal */
export interface Driver {
  readonly dialect: "pg" | "sqlite"
  /**
   * Guarded write: the stream row first, then the events, atomically.
   * `checkDuplicates`: look the event ids up before writing (inside a
   * caller's transaction, which an error would abort); otherwise a duplicate
   * may surface as the event id's unique violation instead of `Duplicate`.
   */
  readonly write: (input: AppendInput, checkDuplicates: boolean) => Effect.Effect<WriteOutcome, DriverError>
  /**
   * Several guarded writes, to distinct streams, in ONE statement (one
   * transaction: all of them or none), each checking its duplicates first;
   * an outcome per input, in order. A statement that fails fails them all.
   * PostgreSQL only.
   */
  readonly writeMany?: (inputs: ReadonlyArray<AppendInput>) => Effect.Effect<ReadonlyArray<WriteOutcome>, DriverError>
  /** One query: the stored events with these ids (with their type, schema version and payload). */
  readonly lookup: (eventIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Backend.ExistingEvent>, DriverError>
  /** The stream's version: the highest version among its events (the truth), 0 when it has none. */
  readonly streamVersion: (streamId: string) => Effect.Effect<number, DriverError>
  readonly streamState: (streamId: string) => Effect.Effect<StreamState, DriverError>
  /**
   * Moves the streams row up to the stream's events (creating it if it is
   * missing); never moves it down. Returns whether it changed anything.
   */
  readonly repairStream: (streamId: string) => Effect.Effect<boolean, DriverError>
  readonly readStream: (
    streamId: string,
    page: StreamPage
  ) => Effect.Effect<ReadonlyArray<Event.StoredEvent>, DriverError>
  readonly readAll: (
    from: Position.Position,
    limit: number,
    filter: EventStore.EventFilter
  ) => Effect.Effect<ReadonlyArray<Event.StoredEvent>, DriverError>
  /**
   * How many events `readAll` would return after `from` (up to `upTo` when
   * given) for the filter, counting at most `limit` (all when `undefined`).
   */
  readonly countAll: (
    from: Position.Position,
    upTo: Position.Position | undefined,
    limit: number | undefined,
    filter: EventStore.EventFilter
  ) => Effect.Effect<number, DriverError>
  readonly head: Effect.Effect<Position.Position, DriverError>
  /**
   * Waits, up to `timeout`, until every transaction that was running when it
   * started has ended, so that a following read includes every append
   * committed before the call (PostgreSQL; a no-op on SQLite). Returns
   * `false` when it gave up at the timeout.
   */
  readonly settle: (timeout: Duration.Duration) => Effect.Effect<boolean, DriverError>
  /** Whether readers of the feed are held back (PostgreSQL), or `FeedStatus.current`. */
  readonly feedStatus: Effect.Effect<FeedStatus.FeedStatus, DriverError>
  /** `true` when the error is the event id unique constraint (an idempotency race). */
  readonly isEventIdViolation: (error: SqlError) => boolean
  /**
   * `true` when the error says the stream version an append was about to
   * write is taken: the streams row is behind the stream's events.
   */
  readonly isStreamVersionViolation: (error: SqlError) => boolean
  /**
   * `true` when a failed write may nevertheless have committed (its answer
   * was lost with the connection). Always `false` on SQLite.
   */
  readonly isOutcomeUnknown: (error: unknown) => boolean
  /**
   * PostgreSQL: sends a notification on the store's channel (through the
   * pool, or inside the caller's transaction), to wake other processes'
   * subscribers. `None` on SQLite.
   */
  readonly notify: Option.Option<(payload: string) => Effect.Effect<void, DriverError>>
  /**
   * PostgreSQL with a `PgClient`: the notifications of the store's channel
   * (on a LISTEN connection of the store's own, `pgListen.ts`) and how to send one, for the listener.
   */
  readonly notifications: Option.Option<{
    readonly channel: string
    readonly listen: Stream.Stream<string, SqlError>
    readonly notify: (payload: string) => Effect.Effect<void, DriverError>
  }>
}

/** Filters with no entries mean "no filter". @internal */
export const activeFilter = (
  filter: EventStore.EventFilter
): { readonly categories: ReadonlyArray<string> | null; readonly types: ReadonlyArray<string> | null } => ({
  categories: filter.categories !== undefined && filter.categories.length > 0 ? filter.categories : null,
  types: filter.types !== undefined && filter.types.length > 0 ? filter.types : null
})
