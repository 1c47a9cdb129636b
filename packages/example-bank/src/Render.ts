/**
 * How the bank CLI talks: every line and table it prints, as pure functions
 * from the results of `Bank` to strings.
 *
 * Every string that comes from the store or the user (owner names, event
 * types and data, ids, error messages) is escaped with `Text.printable` (tables
 * escape each cell), so that nothing printed can inject terminal escape
 * sequences, extra lines or direction overrides: events written by older
 * releases or other writers may hold them.
 *
 * @since 0.1.0
 */
import {
  type Audit,
  type Event,
  FeedStatus,
  type Position,
  type ProjectionAdmin,
  type SagaAdmin
} from "@chronicle/core"
import { DateTime, Either, Option } from "effect"
import * as Account from "./Account.js"
import type * as Bank from "./Bank.js"
import type * as TransferList from "./http/TransferList.js"
import type * as TransferModels from "./http/TransferModels.js"
import * as Money from "./Money.js"
import type * as Projections from "./Projections.js"
import * as Table from "./Table.js"
import * as Text from "./Text.js"
import type * as TransferSaga from "./TransferSaga.js"

const safe = Text.printable

/**
 * Describes a command in a few words: `Deposit 100.00`.
 *
 * @example
 * ```ts
 * import { Account, Render } from "@chronicle/example-bank"
 *
 * Render.command(new Account.Withdraw({ amount: 20000 })) // "Withdraw 200.00"
 * ```
 * @since 0.1.0
 * @category commands
 */
export const command = (command: Account.AccountCommand): string => {
  switch (command._tag) {
    case "OpenAccount":
      return `Open for ${safe(command.owner)}, overdraft limit ${Money.format(command.overdraftLimit)}`
    case "Deposit":
      return `Deposit ${Money.format(command.amount)} ${command.currency}`
    case "Withdraw":
      return `Withdraw ${Money.format(command.amount)}`
    case "CloseAccount":
      return "Close"
  }
}

const status = (state: Account.AccountState): string =>
  Account.AccountState.$match(state, {
    Unopened: () => "not opened",
    Open: ({ balance }) => `balance ${Money.format(balance)}`,
    Closed: ({ balance }) => `closed, balance ${Money.format(balance)}`
  })

/**
 * The one line printed after a successful command (two when the command id
 * had been executed before: nothing new was written).
 *
 * @example
 * ```ts
 * import { Account, Render } from "@chronicle/example-bank"
 *
 * Render.executed({
 *   accountId: "alice",
 *   events: [new Account.MoneyDeposited({ amount: 500, currency: "EUR" })],
 *   state: Account.AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 500 }),
 *   version: 2,
 *   commandId: "transfer-42",
 *   duplicate: false
 * })
 * // "Deposited 5.00 EUR into alice. Balance: 5.00"
 * // (with duplicate: true, a first line says the command id was executed before)
 * ```
 * @since 0.1.0
 * @category commands
 */
export const executed = (result: Bank.Executed): string => {
  const balance = Money.format(Account.balanceOf(result.state))
  const lines = result.events.map((event) => eventLine(safe(result.accountId), balance, event))
  const text = lines.length === 0 ? `Nothing to do for ${safe(result.accountId)}.` : lines.join("\n")
  return result.duplicate
    ? `Already done: command id ${safe(result.commandId)} was executed before; nothing new was written.\n${text}`
    : text
}

const eventLine = (accountId: string, balance: string, event: Account.AccountEvent): string => {
  switch (event._tag) {
    case "AccountOpened":
      return `Opened account ${accountId} for ${safe(event.owner)} (overdraft limit ${Money.format(event.overdraftLimit)}). Balance: ${balance}`
    case "MoneyDeposited":
      return `${event.reason === "refund" ? "Refunded" : event.reason === "transfer" ? "Received (transfer)" : "Deposited"} ${Money.format(event.amount)} ${event.currency} into ${accountId}. Balance: ${balance}`
    case "MoneyWithdrawn":
      return `${event.reason === "transfer" ? "Sent (transfer)" : "Withdrew"} ${Money.format(event.amount)} from ${accountId}. Balance: ${balance}`
    case "AccountClosed":
      return `Closed account ${accountId}.`
  }
}

/**
 * The line printed by `balance`.
 *
 * @example
 * ```ts
 * import { Account, Render } from "@chronicle/example-bank"
 *
 * Render.balance({
 *   accountId: "alice",
 *   state: Account.AccountState.Open({ owner: "Alice", overdraftLimit: 5000, balance: 500 }),
 *   version: 2
 * })
 * // "alice (Alice): balance 5.00, overdraft limit 50.00, 2 events"
 * ```
 * @since 0.1.0
 * @category queries
 */
export const balance = (current: Bank.CurrentBalance): string =>
  `${safe(current.accountId)} (${safe(current.state.owner)}): ${status(current.state)}, overdraft limit ${Money.format(current.state.overdraftLimit)}, ${current.version} ${current.version === 1 ? "event" : "events"}`

/**
 * The line printed by `balance --as-of` and `balance --at-version`: the
 * account as it was then, or that it did not exist yet.
 *
 * @example
 * ```ts
 * import { Account, Render } from "@chronicle/example-bank"
 *
 * Render.pastBalance({
 *   _tag: "Existed",
 *   accountId: "alice",
 *   point: { version: 2 },
 *   state: Account.AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 500 }),
 *   version: 2
 * })
 * // "alice (Alice) at version 2: balance 5.00, overdraft limit 0.00, 2 events"
 * ```
 * @since 0.2.0
 * @category queries
 */
export const pastBalance = (past: Bank.PastBalance): string => {
  const when = "at" in past.point ? `as of ${DateTime.formatIso(past.point.at)}` : `at version ${past.point.version}`
  switch (past._tag) {
    case "NotYetOpen":
      return `${safe(past.accountId)} did not exist ${when}: it was opened at ${DateTime.formatIso(past.openedAt)}.`
    case "Existed":
      return `${safe(past.accountId)} (${safe(past.state.owner)}) ${when}: ${status(past.state)}, overdraft limit ${Money.format(past.state.overdraftLimit)}, ${past.version} ${past.version === 1 ? "event" : "events"}`
  }
}

const payload = (event: Account.AccountEvent): string => {
  const { _tag, ...data } = event
  return JSON.stringify(data)
}

const timestamp = (recorded: Event.RecordedEvent<unknown>): string => DateTime.formatIso(recorded.recordedAt)

/** The schema version an event was stored with (`v1` for a deposit an older release wrote). */
const stored = (recorded: Event.RecordedEvent<unknown>): string => `v${recorded.schemaVersion}`

/**
 * The table printed by `events`: every recorded event with its version,
 * global position, type, stored schema version, payload (in its current
 * shape, after upcasting) and time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank, Render } from "@chronicle/example-bank"
 *
 * const table = Bank.events("alice").pipe(Effect.map(Render.events))
 * ```
 * @since 0.1.0
 * @category queries
 */
export const events = (recorded: ReadonlyArray<Event.RecordedEvent<Account.AccountEvent>>): string =>
  Table.render<Event.RecordedEvent<Account.AccountEvent>>(
    [
      { header: "Version", align: "right", cell: (r) => `${r.version}` },
      { header: "Position", align: "right", cell: (r) => `${r.position}` },
      { header: "Type", cell: (r) => r.type },
      { header: "Stored", cell: stored },
      { header: "Data", cell: (r) => payload(r.event) },
      { header: "Recorded at", cell: timestamp }
    ],
    recorded
  )

const amountOf = (event: Account.AccountEvent): string => {
  switch (event._tag) {
    case "MoneyDeposited":
      return `${Money.formatSigned(event.amount)} ${event.currency}`
    case "MoneyWithdrawn":
      return `${Money.formatSigned(-event.amount)} ${Account.accountCurrency}`
    default:
      return ""
  }
}

/**
 * The table printed by `history` (and, without the ids, by the demo): one
 * row per event with its version, time, type, stored schema version, amount,
 * the balance after it, and its correlation and causation ids (`-` for
 * none).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank, Render } from "@chronicle/example-bank"
 *
 * const table = Bank.history("alice").pipe(Effect.map((entries) => Render.history(entries)))
 * const short = Bank.history("alice").pipe(Effect.map((entries) => Render.history(entries, { ids: false })))
 * ```
 * @since 0.2.0
 * @category queries
 */
export const history = (
  entries: ReadonlyArray<Bank.HistoryEntry>,
  options?: { readonly ids?: boolean | undefined }
): string =>
  Table.render<Bank.HistoryEntry>(
    [
      { header: "Version", align: "right", cell: (e) => `${e.version}` },
      { header: "Recorded at", cell: timestamp },
      { header: "Event", cell: (e) => e.type },
      { header: "Stored", cell: stored },
      { header: "Amount", align: "right", cell: (e) => amountOf(e.event) },
      { header: "Balance after", align: "right", cell: (e) => Money.format(Account.balanceOf(e.stateAfter)) },
      ...(options?.ids === false
        ? []
        : [
            { header: "Correlation id", cell: (e: Bank.HistoryEntry) => e.metadata.correlationId },
            { header: "Causation id", cell: (e: Bank.HistoryEntry) => e.metadata.causationId ?? "-" }
          ])
    ],
    entries
  )

/**
 * The one line printed when a domain error rejects a command.
 *
 * @example
 * ```ts
 * import { Account, Render } from "@chronicle/example-bank"
 *
 * Render.rejected("alice", new Account.AccountIsClosed())
 * // "AccountIsClosed: account alice: the account is closed"
 * ```
 * @since 0.1.0
 * @category errors
 */
export const rejected = (accountId: string, error: Account.AccountError): string =>
  `${error._tag}: account ${safe(accountId)}: ${safe(error.message)}`

/**
 * The demo's report: the account, its statement, and the rejected commands
 * with their errors.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank, Render } from "@chronicle/example-bank"
 *
 * const text = Bank.demo.pipe(Effect.map((report) => Render.demo(report, "in memory")))
 * ```
 * @since 0.1.0
 * @category demo
 */
export const demo = (report: Bank.DemoReport, store: string): string => {
  const steps = Table.render<Bank.DemoStep>(
    [
      {
        header: "Command",
        cell: (step) =>
          step._tag === "Legacy" ? `(older release) Deposit ${Money.format(step.action.amount)}` : command(step.command)
      },
      {
        header: "Outcome",
        cell: (step) =>
          step._tag === "Legacy"
            ? `stored raw as MoneyDeposited v1 { amount }, version ${step.version}`
            : Either.match(step.outcome, {
                onRight: (events) => `ok: ${events.map((e) => e._tag).join(", ")}`,
                onLeft: (error) => `REJECTED: ${error._tag}`
              })
      }
    ],
    report.steps
  )
  const rejections = report.steps.flatMap((step) =>
    step._tag === "Legacy"
      ? []
      : Either.match(step.outcome, {
          onRight: () => [],
          onLeft: (error) => [`  ${command(step.command)} -> ${error._tag}: ${safe(error.message)}`]
        })
  )
  const legacy = report.history.filter((entry) => entry.schemaVersion < Account.Account.codec.versionOf(entry.type))
  return [
    "Chronicle bank demo",
    `Store: ${store}`,
    `Account: ${safe(report.accountId)}`,
    "",
    "Commands",
    "",
    steps,
    "",
    "History",
    "",
    history(report.history, { ids: false }),
    "",
    ...(legacy.length === 0
      ? []
      : [
          `"Stored" is the schema version each event was written with. ${legacy.map((entry) => `Version ${entry.version}`).join(", ")} was written`,
          `by an older release as MoneyDeposited v1 { amount }; it is read as v2 { amount, currency } in ${Money.defaultCurrency}.`,
          ""
        ]),
    rejections.length === 0
      ? "No command was rejected."
      : `Rejected (nothing was recorded for ${rejections.length === 1 ? "it" : "them"}):`,
    ...rejections
  ].join("\n")
}

// ---------------------------------------------------------------------------
// Read models (CQRS)
// ---------------------------------------------------------------------------

const count = (n: number, one: string, many: string): string => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`

const checkpointText = (checkpoint: Option.Option<Position.Position>): string =>
  Option.match(checkpoint, { onNone: () => "-", onSome: (position) => position.toString() })

/**
 * The line that says how a read model was brought up to date before a
 * query: `balances v1: caught up 3 events (checkpoint 12).`
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Position } from "@chronicle/core"
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.caughtUp({ name: "balances", version: 1 }, { processed: 3, checkpoint: Option.some(Position.make(0n, 12n)) })
 * // "Read model balances v1: caught up 3 events (checkpoint 12)."
 * ```
 * @since 0.3.0
 * @category read models
 */
export const caughtUp = (
  projection: { readonly name: string; readonly version: number },
  result: { readonly processed: number; readonly checkpoint: Option.Option<Position.Position> }
): string =>
  `Read model ${projection.name} v${projection.version}: caught up ${count(result.processed, "event", "events")} (checkpoint ${checkpointText(result.checkpoint)}).`

/**
 * The line that says how fresh a read model is before a query: caught up
 * now, or being updated by another process and read as it is, with its lag.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { FeedStatus, Position } from "@chronicle/core"
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.freshness(
 *   { name: "balances", version: 1 },
 *   { _tag: "UpdatedElsewhere", checkpoint: Option.some(Position.make(0n, 12n)), lag: 3, feed: FeedStatus.current }
 * )
 * // "Read model balances v1: being updated by another process; read as it is (checkpoint 12, lag 3 events)."
 * ```
 * @since 0.4.0
 * @category read models
 */
export const freshness = (
  projection: { readonly name: string; readonly version: number },
  fresh: Projections.Freshness
): string => {
  const line =
    fresh._tag === "CaughtUp"
      ? caughtUp(projection, fresh)
      : `Read model ${projection.name} v${projection.version}: being updated by another process; read as it is (checkpoint ${checkpointText(fresh.checkpoint)}, lag ${count(fresh.lag, "event", "events")}).`
  const held = feedHeldBack(fresh.feed)
  return held === undefined ? line : `${line}\n${held}`
}

/**
 * The warning printed under a query's freshness line, and by
 * `projections`, when the global feed is held back (PostgreSQL: a
 * transaction open elsewhere hides newer commits from every reader);
 * `undefined` when the feed is current.
 *
 * @example
 * ```ts
 * import { Duration, Option } from "effect"
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.feedHeldBack({ hiddenEvents: 1, heldBackSince: Option.none(), heldBackFor: Duration.seconds(12), blocker: Option.none() })
 * // "Warning: the feed is held back: 1 committed event is not readable yet (for 12 s), ... Read models and lags do not include it yet."
 * ```
 * @since 0.5.0
 * @category read models
 */
export const feedHeldBack = (feed: FeedStatus.FeedStatus): string | undefined =>
  feed.hiddenEvents === 0
    ? undefined
    : `Warning: ${Text.printable(FeedStatus.format(feed))}. Read models and lags do not include ${feed.hiddenEvents === 1 ? "it" : "them"} yet.`

/**
 * The table printed by `accounts`: every account in the balances read model.
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.accounts([
 *   { accountId: "alice", owner: "Alice", overdraftLimit: 0, balance: 500, status: "open", lastVersion: 2 }
 * ])
 * ```
 * @since 0.3.0
 * @category read models
 */
export const accounts = (rows: ReadonlyArray<Projections.AccountBalance>): string =>
  rows.length === 0
    ? "No accounts yet."
    : [
        Table.render<Projections.AccountBalance>(
          [
            { header: "Account", cell: (r) => r.accountId },
            { header: "Owner", cell: (r) => r.owner },
            { header: "Status", cell: (r) => r.status },
            { header: "Balance", align: "right", cell: (r) => Money.format(r.balance) },
            { header: "Overdraft limit", align: "right", cell: (r) => Money.format(r.overdraftLimit) },
            { header: "Events", align: "right", cell: (r) => `${r.lastVersion}` }
          ],
          rows
        ),
        "",
        `${count(rows.length, "account", "accounts")}, total balance ${Money.format(rows.reduce((sum, r) => sum + r.balance, 0))} ${Account.accountCurrency}.`
      ].join("\n")

/**
 * The table printed by `statement`: one row per event of the account, from
 * the statements read model.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections, Render } from "@chronicle/example-bank"
 *
 * const text = Effect.map(Projections.statement("alice"), Render.statement)
 * ```
 * @since 0.3.0
 * @category read models
 */
export const statement = (lines: ReadonlyArray<Projections.StatementLine>): string =>
  Table.render<Projections.StatementLine>(
    [
      { header: "Version", align: "right", cell: (l) => `${l.version}` },
      { header: "Recorded at", cell: (l) => DateTime.formatIso(l.recordedAt) },
      { header: "Event", cell: (l) => (l.reason === undefined ? l.type : `${l.type} (${l.reason})`) },
      {
        header: "Amount",
        align: "right",
        cell: (l) => (l.amount === 0 ? "" : `${Money.formatSigned(l.amount)} ${Account.accountCurrency}`)
      },
      { header: "Balance after", align: "right", cell: (l) => Money.format(l.balanceAfter) }
    ],
    lines
  )

/**
 * The table printed by `totals`: bank-wide deposits, withdrawals, net and
 * count per UTC day, from the daily totals read model.
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.dailyTotals([{ day: "2025-03-01", deposits: 5000, withdrawals: 2000, net: 3000, transactions: 2 }])
 * ```
 * @since 0.3.0
 * @category read models
 */
export const dailyTotals = (days: ReadonlyArray<Projections.DailyTotal>): string =>
  days.length === 0
    ? "No deposits or withdrawals yet."
    : Table.render<Projections.DailyTotal>(
        [
          { header: "Day (UTC)", cell: (d) => d.day },
          { header: "Deposits", align: "right", cell: (d) => Money.format(d.deposits) },
          { header: "Withdrawals", align: "right", cell: (d) => Money.format(d.withdrawals) },
          { header: "Net", align: "right", cell: (d) => Money.formatSigned(d.net) },
          { header: "Transactions", align: "right", cell: (d) => `${d.transactions}` }
        ],
        days
      )

/**
 * The table printed by `projections`: each projection version's state,
 * checkpoint and lag (events appended after its checkpoint), parked events
 * and last error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Projections, Render } from "@chronicle/example-bank"
 *
 * const text = Effect.map(Projections.status, Render.projections)
 * ```
 * @since 0.3.0
 * @category read models
 */
export const projections = (lines: ReadonlyArray<Projections.StatusLine>): string =>
  lines.length === 0
    ? "No projections."
    : Table.render<Projections.StatusLine>(
        [
          { header: "Projection", cell: (l) => l.name },
          { header: "Version", align: "right", cell: (l) => `${l.version}` },
          { header: "Active", cell: (l) => (l.active ? "yes" : "no") },
          { header: "State", cell: (l) => l.state },
          { header: "Checkpoint", align: "right", cell: (l) => checkpointText(l.checkpoint) },
          { header: "Lag", align: "right", cell: (l) => l.lag.toLocaleString("en-US") },
          { header: "Parked", align: "right", cell: (l) => `${l.parked}` },
          { header: "Error", cell: (l) => Option.getOrElse(l.error, () => "-") }
        ],
        lines
      )

/**
 * One progress line of `rebuild`: events processed, checkpoint, lag, and a
 * bar of the share done (processed over processed plus lag).
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.progress({ name: "balances", version: 1, processed: 500, checkpoint: Position.make(0n, 500n), lag: 1500 })
 * // "balances v1 [#####...............]  25%  500 events, checkpoint 500, lag 1,500"
 * ```
 * @since 0.3.0
 * @category read models
 */
export const progress = (step: ProjectionAdmin.Progress): string => {
  const total = step.processed + step.lag
  const share = total === 0 ? 1 : step.processed / total
  const width = 20
  const filled = Math.round(share * width)
  return `${step.name} v${step.version} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${`${Math.floor(share * 100)}%`.padStart(4)}  ${count(step.processed, "event", "events")}, checkpoint ${step.checkpoint.toString()}, lag ${step.lag.toLocaleString("en-US")}`
}

/**
 * The summary printed when `rebuild` is done.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.rebuilt({ name: "balances", version: 1, processed: 2000, checkpoint: Position.make(0n, 2000n), lag: 0 }, 400)
 * // "Rebuilt balances v1 from the first event: 2,000 events in 400 ms (5,000 events/s). Checkpoint 2000, lag 0: caught up."
 * ```
 * @since 0.3.0
 * @category read models
 */
export const rebuilt = (last: ProjectionAdmin.Progress, millis: number): string => {
  const rate = millis > 0 ? ` (${Math.round((last.processed * 1000) / millis).toLocaleString("en-US")} events/s)` : ""
  return `Rebuilt ${last.name} v${last.version} from the first event: ${count(last.processed, "event", "events")} in ${millis < 1000 ? `${Math.round(millis)} ms` : `${(millis / 1000).toFixed(1)} s`}${rate}. Checkpoint ${last.checkpoint.toString()}, lag ${last.lag.toLocaleString("en-US")}${last.lag === 0 ? ": caught up" : ""}.`
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

const json = (value: unknown): string => (value === undefined ? "(none)" : (JSON.stringify(value) ?? String(value)))

/**
 * One inconsistency found by `verify`, in words.
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.issue({ _tag: "StreamVersionMismatch", eventsVersion: 5, streamVersion: 0 })
 * // "the store reports version 0 for the stream, but its events end at version 5"
 * ```
 * @since 0.4.0
 * @category verification
 */
export const issue = (found: Audit.VerifyIssue): string => {
  switch (found._tag) {
    case "StreamVersionMismatch":
      return `the store reports version ${found.streamVersion} for the stream, but its events end at version ${found.eventsVersion}`
    case "VersionGap":
      return `expected an event at version ${found.expected}, found version ${found.found}`
    case "UndecodableEvent":
      return `the event at version ${found.version} (position ${found.position}) does not decode: ${safe(found.reason)}`
    case "SnapshotMismatch":
      return `the snapshot at version ${found.version} does not match: ${safe(found.reason)}`
  }
}

/**
 * The report printed by `verify`: the events and the version the store
 * reports, each stored snapshot with its outcome (and, for a state that
 * differs, each difference), and the verdict.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank, Render } from "@chronicle/example-bank"
 *
 * const text = Bank.verify("alice").pipe(Effect.map((report) => Render.verification("alice", report)))
 * ```
 * @since 0.4.0
 * @category verification
 */
export const verification = (accountId: string, report: Audit.VerifyReport): string => {
  const snapshots =
    report.snapshots.length === 0
      ? ["No snapshots."]
      : [
          Table.render<Audit.SnapshotCheck>(
            [
              { header: "Snapshot", align: "right", cell: (c) => `${c.version}` },
              { header: "Position", align: "right", cell: (c) => c.position.toString() },
              { header: "State version", align: "right", cell: (c) => `${c.stateVersion}` },
              { header: "Outcome", cell: (c) => c.outcome },
              { header: "Detail", cell: (c) => c.reason }
            ],
            report.snapshots
          ),
          ...report.snapshots.flatMap((check) =>
            check.differences.map(
              (change) =>
                `  snapshot ${check.version}: ${change.path === "" ? "the state" : safe(change.path)} is ${safe(json(change.before))} in the events, ${safe(json(change.after))} in the snapshot`
            )
          )
        ]
  return [
    `Account ${safe(accountId)} (stream ${safe(report.streamId)}): ${count(report.events, "event", "events")}, the last at version ${report.eventsVersion}; the store reports version ${report.streamVersion}.`,
    "",
    ...snapshots,
    "",
    report.consistent
      ? "Consistent: the events, the stream's version and every snapshot agree."
      : `Inconsistent: ${count(report.issues.length, "issue", "issues")} found:`,
    ...report.issues.map((found) => `- ${issue(found)}`)
  ].join("\n")
}

// ---------------------------------------------------------------------------
// Unknown outcomes
// ---------------------------------------------------------------------------

/**
 * What `pnpm bank` prints when a write's outcome is unknown (the connection
 * died after the command was sent): that it may or may not have been
 * recorded, and the exact command to retry with the same command id, which
 * records it at most once.
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.unknownOutcome({
 *   accountId: "acc-1",
 *   reason: "the connection was lost after the append was sent",
 *   retry: "pnpm bank deposit acc-1 2500 --command-id 5b1c0e1e-8f5d-4a43-9d0c-6f1f3b2a9c77"
 * })
 * ```
 * @since 0.4.0
 * @category errors
 */
export const unknownOutcome = (failure: {
  readonly accountId: string
  readonly reason: string
  readonly retry: string
}): string =>
  [
    `UnknownOutcome: account ${safe(failure.accountId)}: the command may or may not have been recorded (${safe(failure.reason)}).`,
    `Check with "pnpm bank history ${safe(failure.accountId)}", or retry with the same command id, which records it at most once:`,
    `  ${safe(failure.retry)}`
  ].join("\n")

// ---------------------------------------------------------------------------
// Seed and serve
// ---------------------------------------------------------------------------

/**
 * One progress line of `seed`: a bar of the accounts done, or, in the
 * second phase, of the transfers requested.
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.seedProgress(25, 100) // "Seeding [#####...............]  25%  25 of 100 accounts"
 * Render.seedProgress(10, 50, "transfers") // "Seeding [####................]  20%  10 of 50 transfers"
 * ```
 * @since 0.5.0
 * @category seed
 */
export const seedProgress = (done: number, total: number, phase: Bank.SeedPhase = "accounts"): string => {
  const share = total === 0 ? 1 : done / total
  const width = 20
  const filled = Math.round(share * width)
  const what = phase === "accounts" ? count(total, "account", "accounts") : count(total, "transfer", "transfers")
  return `Seeding [${"#".repeat(filled)}${".".repeat(width - filled)}] ${`${Math.floor(share * 100)}%`.padStart(4)}  ${done.toLocaleString("en-US")} of ${what}`
}

/**
 * The summary printed when `seed` is done: what the accounts got, and then
 * the transfers requested, if any (their money moves once the saga runs).
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.seeded({ accounts: 100, events: 862, refused: 37, closed: 4, transfers: 50 }, 2500)
 * // Seeded 100 accounts: 862 events in 2.5 s (345 events/s); 37 commands refused by the bank's rules, 4 accounts closed.
 * // 50 transfers requested: the Transfer saga moves the money when `pnpm bank serve` or a transfer command runs.
 * ```
 * @since 0.5.0
 * @category seed
 */
export const seeded = (report: Bank.SeedReport, millis: number): string => {
  const rate = millis > 0 ? ` (${Math.round((report.events * 1000) / millis).toLocaleString("en-US")} events/s)` : ""
  const accounts = `Seeded ${count(report.accounts, "account", "accounts")}: ${count(report.events, "event", "events")} in ${millis < 1000 ? `${Math.round(millis)} ms` : `${(millis / 1000).toFixed(1)} s`}${rate}; ${count(report.refused, "command", "commands")} refused by the bank's rules, ${count(report.closed, "account", "accounts")} closed.`
  if (report.transfers === 0) return accounts
  return `${accounts}\n${count(report.transfers, "transfer", "transfers")} requested: the Transfer saga moves the money when \`pnpm bank serve\` or a transfer command runs.`
}

/**
 * What `serve` prints once the server listens.
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.serving("http://127.0.0.1:3000", "SQLite file /tmp/bank.db")
 * ```
 * @since 0.5.0
 * @category serve
 */
export const serving = (url: string, store: string): string =>
  [
    `Chronicle bank is serving on ${url}`,
    `  explorer   ${url}/`,
    `  API docs   ${url}/docs`,
    `  OpenAPI    ${url}/openapi.json`,
    `  store      ${safe(store)}`,
    "Projections run in the background. Press Ctrl-C to stop."
  ].join("\n")

// ---------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------

const until = (view: TransferSaga.TransferView): string =>
  Option.match(
    Option.flatMap(view.saga.waitingFor, (w) => w.until),
    { onNone: () => "", onSome: (at) => ` until ${DateTime.formatIso(at)}` }
  )

const transferHead = (view: TransferSaga.TransferView): string =>
  `Transfer ${safe(view.transferId)} of ${Money.format(view.amount)} from ${safe(view.from)} to ${safe(view.to)}`

/**
 * What `transfer` and `approve` print about a transfer: on stdout when it
 * completed, waits for its approval, or is still running; `failed` is
 * printed on stderr (see {@link transferFailed}).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Render, TransferSaga } from "@chronicle/example-bank"
 *
 * const printed = Effect.map(TransferSaga.outcome("t-1", "10 seconds"), (view) =>
 *   Option.match(view, { onNone: () => Render.transferPending("t-1"), onSome: Render.transferOutcome })
 * )
 * // "Transfer t-1 of 25.00 from alice to bob: done." once it completed
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const transferOutcome = (view: TransferSaga.TransferView): string => {
  switch (view.saga.state) {
    case "completed":
      return `${transferHead(view)}: done.`
    case "waiting":
      return `${transferHead(view)} waits for an approval${until(view)}; the amount is withdrawn and held until then, and refunded if no approval comes. Approve it with: pnpm bank approve ${safe(view.transferId)}`
    case "running":
    case "compensating":
      return `${transferHead(view)} is still ${view.saga.state} (steps done: ${view.saga.steps.join(", ") || "none"}); see pnpm bank transfers.`
    case "failed":
    case "compensation-failed":
      return transferFailed(view)
  }
}

/**
 * The one line printed on stderr for a failed transfer.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Render, TransferSaga } from "@chronicle/example-bank"
 *
 * const failure = Effect.map(TransferSaga.outcome("t-1", "10 seconds", { toEnd: true }), (view) =>
 *   Option.map(
 *     Option.filter(view, ({ saga }) => saga.state === "failed"),
 *     Render.transferFailed
 *   )
 * )
 * // Option.some("Transfer t-1 of 25.00 from alice to bob failed: ... Nothing stays debited.")
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const transferFailed = (view: TransferSaga.TransferView): string => {
  const reason = Option.getOrElse(view.saga.error, () => "unknown reason")
  return view.saga.state === "compensation-failed"
    ? `${transferHead(view)} failed, and undoing it failed too: ${safe(reason)}. Fix the cause, then: pnpm bank transfers --retry ${safe(view.transferId)}`
    : `${transferHead(view)} failed: ${safe(reason)}. Nothing stays debited.`
}

/**
 * The line printed when a requested transfer's saga has not started yet.
 *
 * @example
 * ```ts
 * import { Render } from "@chronicle/example-bank"
 *
 * Render.transferPending("t-1")
 * // "Transfer t-1 is requested; its saga has not started it yet (another bank process may hold the saga's lease). See pnpm bank transfers."
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const transferPending = (transferId: string): string =>
  `Transfer ${safe(transferId)} is requested; its saga has not started it yet (another bank process may hold the saga's lease). See pnpm bank transfers.`

const waitingUntil = (saga: SagaAdmin.Status): string =>
  Option.match(
    Option.flatMap(saga.waitingFor, (w) => w.until),
    { onNone: () => "", onSome: (at) => ` until ${DateTime.formatIso(at)}` }
  )

/**
 * The table printed by `transfers`: each transfer of the page with its
 * state (its saga's, or `requested` while the saga has not picked it up)
 * and the steps its saga completed; with the `status` the page was
 * filtered by, an empty page says which status it found none of.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Render } from "@chronicle/example-bank"
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * Render.transfers([]) // "No transfers yet."
 * Render.transfers([], "failed") // "No transfer failed."
 * const table = Effect.map(TransferList.page({ limit: 20, status: "failed" }), (page) => Render.transfers(page.items, "failed"))
 * ```
 * @since 0.5.0
 * @category transfers
 */
export const transfers = (
  listed: ReadonlyArray<TransferList.Listed>,
  status?: TransferModels.TransferStatus
): string =>
  listed.length === 0
    ? status === undefined
      ? "No transfers yet."
      : `No transfer ${status}.`
    : Table.render<TransferList.Listed>(
        [
          { header: "Transfer", cell: (l) => l.row.transferId },
          { header: "From", cell: (l) => l.row.from },
          { header: "To", cell: (l) => l.row.to },
          { header: "Amount", align: "right", cell: (l) => Money.format(l.row.amount) },
          {
            header: "State",
            cell: (l) =>
              Option.match(l.saga, {
                onNone: () => (l.row.status === "completed" || l.row.status === "failed" ? l.row.status : "requested"),
                onSome: (saga) => saga.state
              })
          },
          {
            header: "Steps done",
            cell: (l) => Option.match(l.saga, { onNone: () => "", onSome: (saga) => saga.steps.join(", ") })
          },
          {
            header: "Note",
            cell: (l) =>
              Option.match(l.saga, {
                onNone: () => Option.getOrElse(l.row.reason, () => ""),
                onSome: (saga) =>
                  saga.state === "waiting"
                    ? `approval${waitingUntil(saga)}`
                    : Option.getOrElse(saga.error, () => (saga.compensated.length > 0 ? "refunded" : ""))
              })
          }
        ],
        listed
      )
