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
      return `Deposit ${Money.format(command.amount)}`
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
 *   events: [new Account.MoneyDeposited({ amount: 500 })],
 *   state: Account.AccountState.Open({ owner: "Alice", overdraftLimit: 0, balance: 500 }),
 *   version: 2
 * })
 * // "Deposited 5.00 into alice. Balance: 5.00"
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
      return `Deposited ${Money.format(event.amount)} into ${accountId}. Balance: ${balance}`
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
export const balance = (snapshot: Bank.Snapshot): string =>
  `${snapshot.accountId} (${snapshot.state.owner}): ${status(snapshot.state)}, overdraft limit ${Money.format(snapshot.state.overdraftLimit)}, ${snapshot.version} ${snapshot.version === 1 ? "event" : "events"}`

const payload = (event: Account.AccountEvent): string => {
  const { _tag, ...data } = event
  return JSON.stringify(data)
}

const timestamp = (recorded: Event.RecordedEvent<unknown>): string => DateTime.formatIso(recorded.recordedAt)

/**
 * The table printed by `events`: every recorded event with its version,
 * global position, type, payload and time.
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
      { header: "Data", cell: (r) => payload(r.event) },
      { header: "Recorded at", cell: timestamp }
    ],
    recorded
  )

const amountOf = (event: Account.AccountEvent): string => {
  switch (event._tag) {
    case "MoneyDeposited":
      return Money.formatSigned(event.amount)
    case "MoneyWithdrawn":
      return Money.formatSigned(-event.amount)
    default:
      return ""
  }
}

/**
 * A statement: each event with the balance after it, computed by folding
 * the events with the aggregate's own `evolve`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bank, Render } from "@chronicle/example-bank"
 *
 * const statement = Bank.events("alice").pipe(Effect.map(Render.statement))
 * ```
 * @since 0.1.0
 * @category queries
 */
export const statement = (recorded: ReadonlyArray<Event.RecordedEvent<Account.AccountEvent>>): string => {
  let state = Account.initialState
  const rows = recorded.map((r) => {
    state = Account.evolve(state, r.event)
    return { recorded: r, balance: Account.balanceOf(state) }
  })
  return Table.render<(typeof rows)[number]>(
    [
      { header: "Version", align: "right", cell: (row) => `${row.recorded.version}` },
      { header: "Recorded at", cell: (row) => timestamp(row.recorded) },
      { header: "Event", cell: (row) => row.recorded.type },
      { header: "Amount", align: "right", cell: (row) => amountOf(row.recorded.event) },
      { header: "Balance", align: "right", cell: (row) => Money.format(row.balance) }
    ],
    rows
  )
}

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
      { header: "Command", cell: (step) => command(step.command) },
      {
        header: "Outcome",
        cell: (step) =>
          Either.match(step.outcome, {
            onRight: (events) => `ok: ${events.map((e) => e._tag).join(", ")}`,
            onLeft: (error) => `REJECTED: ${error._tag}`
          })
      }
    ],
    report.steps
  )
  const rejections = report.steps.flatMap((step) =>
    Either.match(step.outcome, {
      onRight: () => [],
      onLeft: (error) => [`  ${command(step.command)} -> ${error._tag}: ${error.message}`]
    })
  )
  return [
    "Chronicle bank demo",
    `Store: ${store}`,
    `Account: ${report.accountId}`,
    "",
    "Commands",
    "",
    steps,
    "",
    "Statement",
    "",
    statement(report.recorded),
    "",
    rejections.length === 0
      ? "No command was rejected."
      : `Rejected (nothing was recorded for ${rejections.length === 1 ? "it" : "them"}):`,
    ...rejections
  ].join("\n")
}
