/**
 * The bank's read models: the query side of CQRS. Commands write events
 * (`Bank`, the Transfer saga); these projections read the `Account` and
 * `Transfer` events in global order and keep SQL tables up to date, through
 * the `SqlClient`:
 *
 * - {@link Balances} (`balances`): one row per account: owner, overdraft
 *   limit, balance, status (open or closed) and the last version applied;
 * - {@link Statements} (`statements`): one row per account event (the same
 *   rows as `pnpm bank history`): version, time, type, signed amount, and
 *   the balance after it;
 * - {@link DailyTotals} (`daily-totals`): one row per UTC day, bank-wide:
 *   deposits, withdrawals, net and the number of transactions;
 * - {@link Transfers} (`transfers`): one row per transfer: accounts, amount,
 *   its own status and the reason of a failure, the position it was
 *   requested at (the list's order), and its last version and position.
 *
 * Each read model has its own module (`readModels/Balances.ts`,
 * `Statements.ts`, `DailyTotals.ts`, `Transfers.ts`, over
 * `readModels/Tables.ts`), re-exported
 * here; this module is their registry (`names`, `byName`) and runs them
 * (`catchUp`, `refresh`, `status`).
 *
 * Each table is named after its projection's version (`bank_balances_v1`, …),
 * created in `setup`, emptied in `reset` (for a rebuild) and dropped in
 * `teardown`, so a new version can be built beside the old one.
 *
 * With `SqlProjectionStore` the handler's writes and the checkpoint advance
 * commit in one transaction. The handlers are idempotent all the same, so a
 * batch applied twice changes nothing: balances and statements skip events
 * at or below the version they already hold for the account, and daily
 * totals count an event only when its id enters the projection's ledger of
 * counted events, and transfers skip events at or below the version they
 * hold for the transfer. The bank runs them with the `stop` failure policy: a
 * running balance depends on the order of events, so an event must not be
 * parked and applied later out of order.
 *
 * The account projections read `from: Account` (the aggregate's codec, with its
 * upcasters), so deposits stored as `MoneyDeposited` v1 by older releases
 * are read as v2.
 *
 * @since 0.3.0
 */
import {
  EventStore,
  type FeedStatus,
  type Position,
  type Projection,
  ProjectionAdmin,
  type ProjectionStore,
  type StoreError
} from "@chronicle/core"
import type { SqlClient } from "@effect/sql"
import { Effect, Option, Stream } from "effect"
import { Balances } from "./readModels/Balances.js"
import { DailyTotals } from "./readModels/DailyTotals.js"
import { Statements } from "./readModels/Statements.js"
import type { HandlerError } from "./readModels/Tables.js"
import { Transfers } from "./readModels/Transfers.js"

export { type AccountBalance, accounts, Balances, decodeBalances } from "./readModels/Balances.js"
export { type DailyTotal, DailyTotals, dailyTotals, dayOf } from "./readModels/DailyTotals.js"
export { type StatementLine, Statements, signedAmount, statement } from "./readModels/Statements.js"
export { type HandlerError, tableName } from "./readModels/Tables.js"
export {
  type TransferRow,
  type TransferRowStatus,
  Transfers,
  transferRow,
  transferRows,
  transferStateOf
} from "./readModels/Transfers.js"

/**
 * A bank projection: it reads some of the account (or transfer) events and writes SQL
 * tables; any of them, whatever events it reads (the registry's type).
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * const versions = (projections: ReadonlyArray<Projections.BankProjection>) =>
 *   projections.map((projection) => `${projection.name} v${projection.version}`)
 * versions([Projections.Balances, Projections.Statements])
 * ```
 * @since 0.3.0
 * @category models
 */
export type BankProjection = Projection.Any<HandlerError, SqlClient.SqlClient>

/**
 * The names of the bank's projections, as `pnpm bank rebuild` takes them.
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * Projections.names.join(", ") // "balances, statements, daily-totals, transfers"
 * ```
 * @since 0.3.0
 * @category registry
 */
export const names = ["balances", "statements", "daily-totals", "transfers"] as const

/**
 * The name of one of the bank's projections.
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * const isName = (input: string): input is Projections.Name => Projections.names.some((name) => name === input)
 * const caughtUp = isName("balances") ? Projections.catchUp("balances") : undefined
 * ```
 * @since 0.3.0
 * @category registry
 */
export type Name = (typeof names)[number]

/**
 * The bank's projections, by name: one list, though they read different
 * events (`Projection.Any`).
 *
 * @example
 * ```ts
 * import { ProjectionAdmin } from "@chronicle/core"
 * import { Stream } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const rebuild = (name: Projections.Name) => ProjectionAdmin.rebuild(Projections.byName[name]).pipe(Stream.runLast)
 * ```
 * @since 0.6.0
 * @category registry
 */
export const byName: { readonly [K in Name]: BankProjection } = {
  balances: Balances,
  statements: Statements,
  "daily-totals": DailyTotals,
  transfers: Transfers
}

/**
 * Brings a projection up to date with the store's current head and reports
 * how many events that took and where it stopped: for short-lived processes
 * (a CLI command) that read a model right after. Waits up to `waitForLease`
 * (default 5 s) while another process holds the projection's lease.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const fresh = Effect.zipRight(Projections.catchUp("balances"), Projections.accounts)
 * ```
 * @since 0.3.0
 * @category running
 */
export const catchUp = Effect.fn("Bank.Projections.catchUp")(function* (
  name: Name,
  options?: { readonly waitForLease?: ProjectionAdmin.CatchUpOptions["waitForLease"] }
) {
  const last = yield* ProjectionAdmin.catchUp(byName[name], {
    waitForLease: options?.waitForLease ?? "5 seconds"
  }).pipe(Stream.runLast)
  const result: { readonly processed: number; readonly checkpoint: Option.Option<Position.Position> } = {
    processed: Option.match(last, { onNone: () => 0, onSome: (progress) => progress.processed }),
    checkpoint: Option.map(last, (progress) => progress.checkpoint)
  }
  return result
})

/**
 * How fresh a read model is for a query (see {@link refresh}): brought up to
 * date now, or being updated by another process and read as it is, with the
 * lag it had.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const note = (freshness: Projections.Freshness): string =>
 *   freshness._tag === "CaughtUp"
 *     ? `caught up (${freshness.processed} events)`
 *     : `updated by another process, ${freshness.lag} events behind`
 * const program = Effect.map(Projections.refresh("balances"), note)
 * ```
 * @since 0.4.0
 * @category running
 */
export type Freshness = (
  | {
      readonly _tag: "CaughtUp"
      /** Events processed to catch up. */
      readonly processed: number
      readonly checkpoint: Option.Option<Position.Position>
    }
  | {
      readonly _tag: "UpdatedElsewhere"
      readonly checkpoint: Option.Option<Position.Position>
      /** Events appended after the checkpoint (`ProjectionAdmin.status`'s lag). */
      readonly lag: number
    }
) & {
  /**
   * Whether the global feed was held back when the read model was read
   * (PostgreSQL: a transaction open elsewhere hides newer commits from every
   * reader). When it was, "caught up" only means "caught up with what is
   * readable", and the read model may miss committed events.
   */
  readonly feed: FeedStatus.FeedStatus
}

/**
 * Gets a read model ready for a query without ever waiting for another
 * process: if the projection's lease is free, it catches up first (as
 * {@link catchUp}); if another process holds it (say, projections running as
 * a service), the read model is read as it is, and the answer says so, with
 * its checkpoint and lag. Only a catch-up needs the lease.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const rows = Effect.zip(Projections.refresh("balances"), Projections.accounts)
 * ```
 * @since 0.4.0
 * @category running
 */
export const refresh = Effect.fn("Bank.Projections.refresh")(function* (name: Name) {
  const read = yield* catchUp(name, { waitForLease: 0 }).pipe(
    Effect.map((caught) => ({ _tag: "CaughtUp" as const, ...caught })),
    Effect.catchTag("ProjectionBusy", () =>
      Effect.map(status, (lines) => {
        const version = byName[name].version
        const line = lines.find((l) => l.name === name && l.version === version)
        return {
          _tag: "UpdatedElsewhere" as const,
          checkpoint: Option.flatMap(Option.fromNullable(line), (l) => l.checkpoint),
          lag: line?.lag ?? 0
        }
      })
    )
  )
  // Asked after reading: a feed held back now was held back during the read too.
  const feed = yield* EventStore.feedStatus
  const fresh: Freshness = { ...read, feed }
  return fresh
})

/**
 * One line of `pnpm bank projections`: a projection version's status as
 * `ProjectionAdmin.status` reports it, or, for a bank projection that no process
 * has run yet on this store, `never run` with the events it would have to
 * read as its lag.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const line = (status: Projections.StatusLine) =>
 *   `${status.name} v${status.version}: ${status.state}, lag ${status.lag}${Option.isSome(status.error) ? " (failing)" : ""}`
 * const report = Effect.map(Projections.status, (lines) => lines.map(line))
 * ```
 * @since 0.3.0
 * @category models
 */
export interface StatusLine extends Omit<ProjectionAdmin.Status, "state"> {
  readonly state: ProjectionAdmin.Status["state"] | "never run"
}

/**
 * The status and lag of every projection in the store, plus a `never run`
 * line for each bank projection not registered yet. It does not catch
 * anything up, so it shows the lag that writes leave behind.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const behind = Effect.map(Projections.status, (lines) => lines.filter((line) => line.lag > 0))
 * ```
 * @since 0.3.0
 * @category observability
 */
export const status: Effect.Effect<
  ReadonlyArray<StatusLine>,
  StoreError.StoreError,
  EventStore.EventStore | ProjectionStore.ProjectionStore
> = Effect.gen(function* () {
  const registered: ReadonlyArray<StatusLine> = yield* ProjectionAdmin.status()
  const store = yield* EventStore.EventStore
  const head = yield* store.head
  const missing = yield* Effect.forEach(
    names.filter((name) => !registered.some((line) => line.name === name)),
    (name) =>
      Effect.map(
        Stream.runHead(store.readAll({ ...byName[name].filter, limit: 1, batchSize: 1 })),
        (first): StatusLine => ({
          name,
          version: byName[name].version,
          active: false,
          state: "never run",
          checkpoint: Option.none(),
          lag: Option.isSome(first) ? Number(head.sequence) : 0,
          error: Option.none(),
          parked: 0
        })
      )
  )
  return [...registered, ...missing].sort((a, b) =>
    a.name === b.name ? a.version - b.version : a.name < b.name ? -1 : 1
  )
}).pipe(Effect.withSpan("Bank.Projections.status"))
