/**
 * The `pnpm bank` command line: its commands, their typed arguments, and
 * the mapping from outcomes to exit codes.
 *
 * - 0: success;
 * - 1: the command was rejected by a domain rule (or the store failed): one
 *   line on stderr names the error, and nothing is written;
 * - 2: invalid input (a malformed argument, a missing one, an unknown
 *   command, `--as-of` with `--at-version`): the problem and the usage are
 *   printed, and the store is not even opened. The one case that needs the
 *   store first is a `--at-version` past the end of the account's stream.
 *
 * Commands write events; `accounts`, `statement` and `totals` read the
 * projections' read models, each brought up to date first (a CLI process is
 * short-lived: no projection runs in the background). `projections` shows
 * each projection's lag without catching up, and `rebuild` rebuilds one
 * from the first event with a progress display.
 *
 * @since 0.1.0
 */
import { Projection } from "@chronicle/core"
import { Args, Command, Options, ValidationError } from "@effect/cli"
import { Cause, Clock, Console, DateTime, Effect, Option, ParseResult, Schema, Stream } from "effect"
import * as Account from "./Account.js"
import * as Bank from "./Bank.js"
import * as BankStore from "./BankStore.js"
import * as Money from "./Money.js"
import * as Projections from "./Projections.js"
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
  pnpm bank deposit <accountId> <cents> [--currency ${Money.currencies.join("|")}]
  pnpm bank withdraw <accountId> <cents>
  pnpm bank close <accountId>
  pnpm bank balance <accountId> [--as-of <ISO-8601 time> | --at-version <n>]
  pnpm bank events <accountId>
  pnpm bank history <accountId>
  pnpm bank accounts                 (from the balances read model, caught up first)
  pnpm bank statement <accountId>    (from the statements read model, caught up first)
  pnpm bank totals                   (bank-wide totals per UTC day, caught up first)
  pnpm bank projections              (status and lag of each projection; catches nothing up)
  pnpm bank rebuild <${Projections.names.join("|")}>
  pnpm bank demo

Amounts are positive whole cents (1250 = 12.50); accounts hold ${Money.defaultCurrency}.
Times are ISO-8601 with a zone (2025-03-01T12:00:00Z) or a date (2025-03-01, midnight UTC).
Run "pnpm bank --help" for details.
Store: PostgreSQL if DATABASE_URL is set, else the SQLite file BANK_DB (default ${BankStore.defaultSqliteFile}).`

/** No command was given (`pnpm bank` alone). */
class MissingCommand extends Schema.TaggedError<MissingCommand>()("MissingCommand", {}) {}

/** `balance` was given both `--as-of` and `--at-version`. */
class ConflictingOptions extends Schema.TaggedError<ConflictingOptions>()("ConflictingOptions", {}) {
  override get message(): string {
    return "--as-of and --at-version cannot be used together: choose one point in time."
  }
}

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

const isoInstant = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/

const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate()

/** Whether the fields of an ISO-8601 match name a real date and time (no 30 February, no 24:61). */
const realFields = (match: RegExpExecArray): boolean => {
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match.slice(1).map(Number)
  const upTo = (value: number | undefined, max: number) => value === undefined || Number.isNaN(value) || value <= max
  return (
    year !== undefined &&
    month !== undefined &&
    day !== undefined &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    upTo(hour, 23) &&
    upTo(minute, 59) &&
    upTo(second, 59) &&
    upTo(offsetHours, 23) &&
    upTo(offsetMinutes, 59)
  )
}

/**
 * An instant in ISO-8601, as `--as-of` takes it: a date and time with a zone
 * (`2025-03-01T12:00:00Z`, `2025-03-01T13:00:00.250+01:00`), or a date alone
 * (midnight UTC). A time without a zone is refused rather than guessed, and
 * so is a date that does not exist.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { BankCli } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(BankCli.Instant)("2025-03-01T13:00:00+01:00") // DateTime.Utc 2025-03-01T12:00:00Z
 * Schema.decodeUnknownEither(BankCli.Instant)("yesterday") // Either.left(...)
 * ```
 * @since 0.2.0
 * @category arguments
 */
export const Instant: Schema.Schema<DateTime.Utc, string> = Schema.transformOrFail(
  Schema.String,
  Schema.DateTimeUtcFromSelf,
  {
    strict: true,
    decode: (text, _, ast) => {
      const match = isoInstant.exec(text)
      const instant = match !== null && realFields(match) ? DateTime.make(text) : Option.none()
      return Option.match(instant, {
        onNone: () => ParseResult.fail(new ParseResult.Type(ast, text, "not an ISO-8601 time")),
        onSome: (utc) => ParseResult.succeed(DateTime.toUtc(utc))
      })
    },
    encode: (utc) => ParseResult.succeed(DateTime.formatIso(utc))
  }
).annotations({
  identifier: "Instant",
  message: (issue) => ({
    message: `--as-of must be an ISO-8601 time with a zone, e.g. 2025-03-01T12:00:00Z or 2025-03-01T13:00:00+01:00, or a date such as 2025-03-01 (midnight UTC) (got ${JSON.stringify(issue.actual)})`,
    override: true
  })
})

const asOf = Options.text("as-of").pipe(
  Options.withSchema(Instant),
  Options.withDescription("show the balance as it was at this instant (ISO-8601, e.g. 2025-03-01T12:00:00Z)"),
  Options.optional
)

/** Digits only, so "-1", "1.5" and "2e1" are refused before they become numbers. */
const VersionArgument = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^[0-9]{1,15}$/)),
  Schema.compose(Schema.NumberFromString, Schema.NonNegativeInt)
).annotations({
  message: (issue) => ({
    message: `--at-version must be a whole number of events, 0 or more (got ${JSON.stringify(issue.actual)})`,
    override: true
  })
})

const atVersion = Options.text("at-version").pipe(
  Options.withSchema(VersionArgument),
  Options.withDescription("show the balance after the account's n-th event (0: before the first)"),
  Options.optional
)

const currency = Options.choice("currency", Money.currencies).pipe(
  Options.withDefault(Money.defaultCurrency),
  Options.withDescription(
    `the currency of the deposit (default ${Money.defaultCurrency}; accounts hold ${Money.defaultCurrency} only)`
  )
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
const withStore = <A, E>(effect: (store: string) => Effect.Effect<A, E, BankStore.Stores>) =>
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

const deposit = Command.make("deposit", { accountId, cents, currency }, ({ accountId, cents, currency }) =>
  withStore(() => Bank.deposit(accountId, cents, currency)).pipe(
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

const balance = Command.make("balance", { accountId, asOf, atVersion }, ({ accountId, asOf, atVersion }) =>
  Effect.gen(function* () {
    if (Option.isSome(asOf) && Option.isSome(atVersion)) return yield* new ConflictingOptions()
    const point: Option.Option<Bank.PointInTime> = Option.isSome(asOf)
      ? Option.some({ at: asOf.value })
      : Option.map(atVersion, (version) => ({ version }))
    if (Option.isNone(point)) {
      const current = yield* withStore(() => Bank.balance(accountId)).pipe(onAccount(accountId))
      return yield* Console.log(Render.balance(current))
    }
    const past = yield* withStore(() => Bank.balanceAt(accountId, point.value)).pipe(onAccount(accountId))
    return yield* Console.log(Render.pastBalance(past))
  })
).pipe(
  Command.withDescription(
    "Show an account's balance: now, as it was at an instant (--as-of), or after its n-th event (--at-version)."
  )
)

const history = Command.make("history", { accountId }, ({ accountId }) =>
  withStore(() => Bank.history(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((entries) => Console.log(Render.history(entries)))
  )
).pipe(
  Command.withDescription(
    "One row per event: version, time, type, stored schema version, amount, balance after, correlation and causation ids."
  )
)

const events = Command.make("events", { accountId }, ({ accountId }) =>
  withStore(() => Bank.events(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((recorded) => Console.log(Render.events(recorded)))
  )
).pipe(Command.withDescription("List every recorded event of an account: version, position, type, data, time."))

const demo = Command.make("demo", {}, () =>
  withStore((store) => Effect.map(Bank.demo, (report) => Render.demo(report, store))).pipe(Effect.flatMap(Console.log))
).pipe(Command.withDescription("Run a scripted scenario on a fresh account and print its history."))

// ---------------------------------------------------------------------------
// The query side: read models
// ---------------------------------------------------------------------------

const accounts = Command.make("accounts", {}, () =>
  withStore(() =>
    Effect.gen(function* () {
      const caught = yield* Projections.catchUp("balances")
      const rows = yield* Projections.accounts
      return `${Render.caughtUp(Projections.Balances, caught)}\n\n${Render.accounts(rows)}`
    })
  ).pipe(Effect.flatMap(Console.log))
).pipe(
  Command.withDescription(
    "List every account with its balance, from the balances read model (brought up to date with the events first)."
  )
)

const statement = Command.make("statement", { accountId }, ({ accountId }) =>
  withStore(() =>
    Effect.gen(function* () {
      const caught = yield* Projections.catchUp("statements")
      const lines = yield* Projections.statement(accountId)
      if (lines.length === 0) return yield* new Account.AccountNotOpen()
      return `${Render.caughtUp(Projections.Statements, caught)}\n\n${Render.statement(lines)}`
    })
  ).pipe(onAccount(accountId), Effect.flatMap(Console.log))
).pipe(
  Command.withDescription(
    "An account's statement (one row per event, with the balance after it) from the statements read model."
  )
)

const totals = Command.make("totals", {}, () =>
  withStore(() =>
    Effect.gen(function* () {
      const caught = yield* Projections.catchUp("daily-totals")
      const days = yield* Projections.dailyTotals
      return `${Render.caughtUp(Projections.DailyTotals, caught)}\n\n${Render.dailyTotals(days)}`
    })
  ).pipe(Effect.flatMap(Console.log))
).pipe(Command.withDescription("Bank-wide deposits, withdrawals, net and count per UTC day, from a read model."))

const projections = Command.make("projections", {}, () =>
  withStore(() => Projections.status).pipe(
    Effect.flatMap((lines) =>
      Console.log(
        `${Render.projections(lines)}\n\nLag: events appended after the checkpoint, not applied yet. accounts, statement and totals\nbring their read model up to date before reading it; rebuild <projection> rebuilds one from the first event.`
      )
    )
  )
).pipe(
  Command.withDescription(
    "Show each projection's state, checkpoint and lag (events not yet applied). Catches nothing up."
  )
)

const projectionName = Args.text({ name: "projection" }).pipe(
  Args.withSchema(
    Schema.Literal(...Projections.names).annotations({
      message: (issue) => ({
        message: `unknown projection ${JSON.stringify(issue.actual)}: the projections are ${Projections.names.join(", ")}`,
        override: true
      })
    })
  ),
  Args.withDescription(`the projection to rebuild: ${Projections.names.join(", ")}`)
)

/** On a terminal, one line redrawn in place; otherwise about 20 lines in all, and the last. */
const progressPrinter = Effect.sync(() => {
  const tty = process.stdout.isTTY === true
  let step = 0
  let every = 1
  let previous = ""
  return {
    tty,
    print: (progress: Projection.Progress): Effect.Effect<void> => {
      const line = Render.progress(progress)
      // The end of the last batch and the end of the run can be the same point.
      if (line === previous) return Effect.void
      previous = line
      if (tty) return Effect.sync(() => process.stdout.write(`\r${line}\u001b[K`))
      if (step === 0) every = Math.max(1, Math.ceil(progress.lag / 500 / 20))
      const print = step % every === 0 || progress.lag === 0
      step++
      return print ? Console.log(line) : Effect.void
    },
    done: tty ? Effect.sync(() => process.stdout.write("\n")) : Effect.void
  }
})

const rebuild = Command.make("rebuild", { projection: projectionName }, ({ projection }) =>
  withStore(() =>
    Effect.gen(function* () {
      const printer = yield* progressPrinter
      const started = yield* Clock.currentTimeMillis
      const last = yield* Projections.withProjection(projection, (definition) =>
        Projection.rebuild(definition, { batchSize: 500 })
      ).pipe(Stream.tap(printer.print), Stream.runLast)
      yield* printer.done
      const millis = (yield* Clock.currentTimeMillis) - started
      return Option.match(last, {
        onNone: () => `Rebuilt ${projection}.`,
        onSome: (progress) => Render.rebuilt(progress, millis)
      })
    })
  ).pipe(Effect.flatMap(Console.log))
).pipe(
  Command.withDescription(
    "Rebuild a projection's read model from the first event, showing progress. Fails if another process runs it."
  )
)

const bank = Command.make("bank", {}, () => new MissingCommand()).pipe(
  Command.withDescription("A small bank built on Chronicle: every change is an event."),
  Command.withSubcommands([
    open,
    deposit,
    withdraw,
    close,
    balance,
    events,
    history,
    accounts,
    statement,
    totals,
    projections,
    rebuild,
    demo
  ])
)

const cli = Command.run(bank, { name: "Chronicle bank", version: "0.2.0" })

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
        case "ConflictingOptions":
        case "TemporalQueryError":
          return Effect.as(Console.error(`${error.message}\n\n${usage}`), ExitCode.usage)
        default:
          return Effect.as(Console.error(`${error._tag}: ${error.message}`), ExitCode.rejected)
      }
    }),
    Effect.catchAllCause((cause) =>
      Effect.as(Console.error(`Unexpected failure:\n${Cause.pretty(cause)}`), ExitCode.rejected)
    )
  )
