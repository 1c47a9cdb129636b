/**
 * Table names derived from the configured prefix.
 *
 * The prefix is validated (lowercase letters, digits and `_`, starting with a
 * letter or `_`) so that every name built from it is a plain identifier: it
 * can be embedded in DDL, and PostgreSQL's `regclass` lookups (which fold
 * unquoted names to lowercase) find the same table the DDL created.
 *
 * @internal
 */
import { Either } from "effect"

/** @internal */
export const defaultPrefix = "chronicle_"

const prefixPattern = /^([a-z_][a-z0-9_]{0,39})?$/

/** @internal */
export interface Tables {
  readonly prefix: string
  /** The events table, quoted. */
  readonly events: string
  /** The streams table, quoted. */
  readonly streams: string
  /** The Migrator's own table, unquoted (the Migrator quotes it). */
  readonly migrations: string
  /** Unquoted names, for constraints, triggers and functions. */
  readonly eventsName: string
  readonly streamsName: string
  /** The PostgreSQL append function, unquoted. */
  readonly appendName: string
  /** The unique constraint on `event_id`: an idempotency race surfaces as its violation. */
  readonly eventIdConstraint: string
  /** The snapshots table, quoted, and its unquoted name. */
  readonly snapshots: string
  readonly snapshotsName: string
  /** The projection records (checkpoint, status, active version, lease), quoted, and unquoted. */
  readonly projections: string
  readonly projectionsName: string
  /** The parked (dead-letter) events of projections, quoted, and unquoted. */
  readonly parked: string
  readonly parkedName: string
}

/** @internal */
export const make = (prefix: string | undefined): Either.Either<Tables, string> => {
  const p = prefix ?? defaultPrefix
  if (!prefixPattern.test(p)) {
    return Either.left(
      `table prefix "${p}" is invalid: use at most 40 lowercase letters, digits or "_", starting with a letter or "_"`
    )
  }
  return Either.right({
    prefix: p,
    events: `"${p}events"`,
    streams: `"${p}streams"`,
    migrations: `${p}migrations`,
    eventsName: `${p}events`,
    streamsName: `${p}streams`,
    appendName: `${p}append`,
    eventIdConstraint: `${p}events_event_id_key`,
    snapshots: `"${p}snapshots"`,
    snapshotsName: `${p}snapshots`,
    projections: `"${p}projections"`,
    projectionsName: `${p}projections`,
    parked: `"${p}projection_parked"`,
    parkedName: `${p}projection_parked`
  })
}
