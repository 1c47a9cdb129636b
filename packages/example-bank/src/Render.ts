/**
 * How the bank CLI talks: every line and table it prints, as pure functions
 * from the results of `Bank` to strings.
 *
 * @since 0.1.0
 */
import type { Event } from "@chronicle/core"
import { DateTime, Either } from "effect"
import * as Account from "./Account.js"
import type * as Bank from "./Bank.js"
import * as Money from "./Money.js"
import * as Table from "./Table.js"

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
      return `Open for ${command.owner}, overdraft limit ${Money.format(command.overdraftLimit)}`
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
 * The one line printed after a successful command.
 *
 * @example
 * ```ts
 * import { Account, Render } from "@chronicle/example-bank"
 *
 * Render.executed({
 *   accountId: "alice",
 *   events: [new Account.MoneyDeposited({ amount: 500, currency: "EUR" })],
 *   state: Account.AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 500 }),
 *   version: 2
 * })
 * // "Deposited 5.00 EUR into alice. Balance: 5.00"
 * ```
 * @since 0.1.0
 * @category commands
 */
export const executed = (result: Bank.Executed): string => {
  const balance = Money.format(Account.balanceOf(result.state))
  const lines = result.events.map((event) => eventLine(result.accountId, balance, event))
  return lines.length === 0 ? `Nothing to do for ${result.accountId}.` : lines.join("\n")
}

const eventLine = (accountId: string, balance: string, event: Account.AccountEvent): string => {
  switch (event._tag) {
    case "AccountOpened":
      return `Opened account ${accountId} for ${event.owner} (overdraft limit ${Money.format(event.overdraftLimit)}). Balance: ${balance}`
    case "MoneyDeposited":
      return `Deposited ${Money.format(event.amount)} ${event.currency} into ${accountId}. Balance: ${balance}`
    case "MoneyWithdrawn":
      return `Withdrew ${Money.format(event.amount)} from ${accountId}. Balance: ${balance}`
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
  `${current.accountId} (${current.state.owner}): ${status(current.state)}, overdraft limit ${Money.format(current.state.overdraftLimit)}, ${current.version} ${current.version === 1 ? "event" : "events"}`

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
      return `${past.accountId} did not exist ${when}: it was opened at ${DateTime.formatIso(past.openedAt)}.`
    case "Existed":
      return `${past.accountId} (${past.state.owner}) ${when}: ${status(past.state)}, overdraft limit ${Money.format(past.state.overdraftLimit)}, ${past.version} ${past.version === 1 ? "event" : "events"}`
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
  `${error._tag}: account ${accountId}: ${error.message}`

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
          onLeft: (error) => [`  ${command(step.command)} -> ${error._tag}: ${error.message}`]
        })
  )
  const legacy = report.history.filter((entry) => entry.schemaVersion < Account.Account.codec.versionOf(entry.type))
  return [
    "Chronicle bank demo",
    `Store: ${store}`,
    `Account: ${report.accountId}`,
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
