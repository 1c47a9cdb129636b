/**
 * The `pnpm bank` command line: its commands, their typed arguments, and
 * the mapping from outcomes to exit codes.
 *
 * - 0: success;
 * - 1: the command was rejected by a domain rule (or the store failed): one
 *   line on stderr names the error, and nothing is written;
 * - 2: invalid input (a malformed argument, a missing one, an unknown
 *   command): the problem and the usage are printed, and the store is not
 *   even opened.
 *
 * @since 0.1.0
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Schema } from "effect"
import * as Account from "./Account.js"
import * as Bank from "./Bank.js"
import * as BankStore from "./BankStore.js"
import * as Money from "./Money.js"
import * as Render from "./Render.js"

/**
 * The exit codes of the CLI.
 *
 * @example
 * ```ts
 * import { BankCli } from "@chronicle/example-bank"
 *
 * BankCli.ExitCode.usage // 2
 * ```
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = { ok: 0, rejected: 1, usage: 2 } as const

/**
 * The short usage printed after invalid input.
 *
 * @since 0.1.0
 * @category constants
 */
export const usage = `Usage:
  pnpm bank open <accountId> --owner <name> [--overdraft <cents>]
  pnpm bank deposit <accountId> <cents>
  pnpm bank withdraw <accountId> <cents>
  pnpm bank close <accountId>
  pnpm bank balance <accountId>
  pnpm bank events <accountId>
  pnpm bank demo

Amounts are positive whole cents (1250 = 12.50). Run "pnpm bank --help" for details.
Store: PostgreSQL if DATABASE_URL is set, else the SQLite file BANK_DB (default ${BankStore.defaultSqliteFile}).`

/** No command was given (`pnpm bank` alone). */
class MissingCommand extends Schema.TaggedError<MissingCommand>()("MissingCommand", {}) {}

/** A domain rule rejected a command on `accountId`. */
class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {
  accountId: Schema.String,
  error: Account.AccountError
}) {}

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

const accountId = Args.text({ name: "accountId" }).pipe(
  Args.withSchema(Account.AccountId),
  Args.withDescription("the account id: letters, digits, '.', '_' or '-'")
)

/** Digits only, so "12.5", "1e3", "-5" and "abc" are refused before they become numbers. */
const CentsArgument = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^[0-9]+$/)),
  Schema.compose(Schema.NumberFromString, Money.Cents)
).annotations({
  message: (issue) => ({
    message: `<cents> must be a positive whole number of cents, at most ${Money.maxAmount}, e.g. 1250 for 12.50 (got ${JSON.stringify(issue.actual)})`,
    override: true
  })
})

const cents = Args.text({ name: "cents" }).pipe(
  Args.withSchema(CentsArgument),
  Args.withDescription("a positive whole number of cents, e.g. 1250 for 12.50")
)

const owner = Options.text("owner").pipe(
  Options.withSchema(
    Schema.String.pipe(
      Schema.trimmed({ message: () => "--owner must not start or end with spaces" }),
      Schema.nonEmptyString({ message: () => "--owner must not be empty" })
    )
  ),
  Options.withDescription("the account owner's name")
)

const overdraft = Options.integer("overdraft").pipe(
  Options.withSchema(
    Money.NonNegativeCents.annotations({
      message: (issue) => ({
        message: `--overdraft must be zero or a positive whole number of cents, at most ${Money.maxAmount} (got ${JSON.stringify(issue.actual)})`,
        override: true
      })
    })
  ),
  Options.withDefault(0),
  Options.withDescription("how far below zero the balance may go, in cents (default 0)")
)

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/** Runs `effect` on the configured store, opened only now that the input is valid. */
const withStore = <A, E>(effect: (store: string) => Effect.Effect<A, E, Bank.Requirements>) =>
  Effect.flatMap(BankStore.choose, (choice) =>
    effect(BankStore.describe(choice)).pipe(Effect.provide(BankStore.layer(choice)))
  )

/** Tags a domain error with the account it concerns, for the one-line message. */
const onAccount =
  (accountId: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      effect,
      (error): error is Extract<E, Account.AccountError> => Bank.isAccountError(error),
      (error) => Effect.fail(new Rejected({ accountId, error }))
    )

const open = Command.make("open", { accountId, owner, overdraft }, ({ accountId, owner, overdraft }) =>
  withStore(() => Bank.open(accountId, { owner, overdraftLimit: overdraft })).pipe(
    onAccount(accountId),
    Effect.flatMap((result) => Console.log(Render.executed(result)))
  )
).pipe(Command.withDescription("Open an account for an owner, optionally with an overdraft limit."))

const deposit = Command.make("deposit", { accountId, cents }, ({ accountId, cents }) =>
  withStore(() => Bank.deposit(accountId, cents)).pipe(
    onAccount(accountId),
    Effect.flatMap((result) => Console.log(Render.executed(result)))
  )
).pipe(Command.withDescription("Deposit an amount into an open account."))

const withdraw = Command.make("withdraw", { accountId, cents }, ({ accountId, cents }) =>
  withStore(() => Bank.withdraw(accountId, cents)).pipe(
    onAccount(accountId),
    Effect.flatMap((result) => Console.log(Render.executed(result)))
  )
).pipe(Command.withDescription("Withdraw an amount, within the overdraft limit."))

const close = Command.make("close", { accountId }, ({ accountId }) =>
  withStore(() => Bank.close(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((result) => Console.log(Render.executed(result)))
  )
).pipe(Command.withDescription("Close an account whose balance is zero."))

const balance = Command.make("balance", { accountId }, ({ accountId }) =>
  withStore(() => Bank.balance(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((snapshot) => Console.log(Render.balance(snapshot)))
  )
).pipe(Command.withDescription("Show an account's balance."))

const events = Command.make("events", { accountId }, ({ accountId }) =>
  withStore(() => Bank.events(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((recorded) => Console.log(Render.events(recorded)))
  )
).pipe(Command.withDescription("List every recorded event of an account: version, position, type, data, time."))

const demo = Command.make("demo", {}, () =>
  withStore((store) => Effect.map(Bank.demo, (report) => Render.demo(report, store))).pipe(Effect.flatMap(Console.log))
).pipe(Command.withDescription("Run a scripted scenario on a fresh account and print its statement."))

const bank = Command.make("bank", {}, () => new MissingCommand()).pipe(
  Command.withDescription("A small bank built on Chronicle: every change is an event."),
  Command.withSubcommands([open, deposit, withdraw, close, balance, events, demo])
)

const cli = Command.run(bank, { name: "Chronicle bank", version: "0.1.0" })

// ---------------------------------------------------------------------------
// Outcomes and exit codes
// ---------------------------------------------------------------------------

/**
 * Runs the CLI on `process.argv`-style arguments and returns the exit code.
 * It never fails: every error is printed here.
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { BankCli } from "@chronicle/example-bank"
 *
 * const code = BankCli.main(["node", "bank", "balance", "alice"]).pipe(Effect.provide(NodeContext.layer))
 * ```
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>) =>
  Effect.suspend(() => cli(argv)).pipe(
    Effect.as<number>(ExitCode.ok),
    Effect.catchAll((error) => {
      if (ValidationError.isValidationError(error)) {
        // @effect/cli has already printed what was wrong with the input.
        return Effect.as(Console.error(usage), ExitCode.usage)
      }
      switch (error._tag) {
        case "MissingCommand":
          return Effect.as(Console.error(`Missing command.\n\n${usage}`), ExitCode.usage)
        case "Rejected":
          return Effect.as(Console.error(Render.rejected(error.accountId, error.error)), ExitCode.rejected)
        case "InvalidCommandError":
          return Effect.as(Console.error(`${error.message}\n\n${usage}`), ExitCode.usage)
        default:
          return Effect.as(Console.error(`${error._tag}: ${error.message}`), ExitCode.rejected)
      }
    }),
    Effect.catchAllCause((cause) =>
      Effect.as(Console.error(`Unexpected failure:\n${Cause.pretty(cause)}`), ExitCode.rejected)
    )
  )
