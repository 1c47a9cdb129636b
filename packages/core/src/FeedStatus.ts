/**
 * `FeedStatus`: whether readers of the global feed (`readAll`, `subscribe`,
 * projections) can see every committed event, and if not, since when and by
 * what (on PostgreSQL, a transaction left open). `EventStore.feedStatus`
 * reports it; `format` renders it for humans.
 *
 * @since 0.6.0
 */
import { type DateTime, Duration, Option } from "effect"

/**
 * Whether readers of the global feed (`readAll`, `subscribe`, and so
 * projections) can see every committed event, and if not, why.
 *
 * On PostgreSQL, readers only take events of transactions older than every
 * transaction still running in the cluster (that is what makes the feed
 * gap-safe): a transaction that stays open, in any database of the cluster
 * (an idle-in-transaction session, a long batch job, a forgotten prepared
 * transaction), holds back every event committed after it began writing.
 * Nothing is lost (readers deliver them once it ends), but readers fall
 * behind. In memory and on SQLite the feed is never held back.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventStore, FeedStatus } from "@chronicle/core"
 *
 * const warnIfStale = Effect.flatMap(EventStore.feedStatus, (status) =>
 *   status.hiddenEvents > 0 ? Effect.logWarning(FeedStatus.format(status)) : Effect.void
 * )
 * ```
 * @since 0.6.0
 * @category models
 */
export interface FeedStatus {
  /** Committed events that `readAll` and `subscribe` cannot deliver yet (0: the feed is current). */
  readonly hiddenEvents: number
  /** When the oldest of them was recorded; none when the feed is current. */
  readonly heldBackSince: Option.Option<DateTime.Utc>
  /** How long the oldest of them has been waiting (zero when the feed is current). */
  readonly heldBackFor: Duration.Duration
  /**
   * The oldest transaction still open, which holds the feed back, when the
   * backend can name it (on PostgreSQL, naming another role's session needs
   * `pg_read_all_stats`). None when the feed is current.
   */
  readonly blocker: Option.Option<FeedBlocker>
}

/**
 * The transaction that holds the feed back (see {@link FeedStatus}).
 *
 * @example
 * ```ts
 * import { Duration, Option } from "effect"
 * import type { FeedStatus } from "@chronicle/core"
 *
 * const describe = (blocker: FeedStatus.FeedBlocker) =>
 *   `${blocker.state} for ${Duration.format(blocker.openFor)} in ${Option.getOrElse(blocker.database, () => "?")}`
 * ```
 * @since 0.6.0
 * @category models
 */
export interface FeedBlocker {
  /** The server process of the session, none for a prepared transaction. */
  readonly processId: Option.Option<number>
  /** The database it runs in (any database of the cluster holds the feed back). */
  readonly database: Option.Option<string>
  /** The session's `application_name` (the prepared transaction's `gid`). */
  readonly applicationName: string
  /** For example `idle in transaction`, `active` or `prepared`. */
  readonly state: string
  /** How long the transaction has been open. */
  readonly openFor: Duration.Duration
}

/**
 * The status of a feed that nothing holds back.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FeedStatus } from "@chronicle/core"
 *
 * const always = Effect.succeed(FeedStatus.current)
 * ```
 * @since 0.6.0
 * @category constructors
 */
export const current: FeedStatus = {
  hiddenEvents: 0,
  heldBackSince: Option.none(),
  heldBackFor: Duration.zero,
  blocker: Option.none()
}

const seconds = (duration: Duration.Duration): string => {
  const s = Duration.toSeconds(duration)
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`
}

/**
 * One line for humans: `the feed is current`, or how far and by what it is
 * held back, for example `the feed is held back: 1 committed event is not
 * readable yet (for 12 s), by a transaction open for 40 s (process 4242 in
 * database "reports", application "psql", idle in transaction)`.
 *
 * @example
 * ```ts
 * import { FeedStatus } from "@chronicle/core"
 *
 * FeedStatus.format(FeedStatus.current) // "the feed is current"
 * ```
 * @since 0.6.0
 * @category rendering
 */
export const format = (status: FeedStatus): string => {
  if (status.hiddenEvents === 0) return "the feed is current"
  const events = status.hiddenEvents === 1 ? "1 committed event is" : `${status.hiddenEvents} committed events are`
  const held = `the feed is held back: ${events} not readable yet (for ${seconds(status.heldBackFor)})`
  return Option.match(status.blocker, {
    onNone: () => `${held}, by a transaction still open elsewhere`,
    onSome: (blocker) => {
      const where = [
        Option.match(blocker.processId, { onNone: () => "prepared transaction", onSome: (pid) => `process ${pid}` }),
        Option.match(blocker.database, { onNone: () => "", onSome: (db) => ` in database "${db}"` })
      ].join("")
      const app = blocker.applicationName.length > 0 ? `, application "${blocker.applicationName}"` : ""
      return `${held}, by a transaction open for ${seconds(blocker.openFor)} (${where}${app}, ${blocker.state})`
    }
  })
}
