/**
 * The `pnpm bank` command line: its commands, their typed arguments, and
 * the mapping from outcomes to exit codes.
 *
 * - 0: success;
 * - 1: the command was rejected by a domain rule (nothing is written), the
 *   store could not be opened or failed, or `verify` found an
 *   inconsistency: one line on stderr names the error;
 * - 2: invalid input (a malformed argument, a missing one, an unknown
 *   command, `--as-of` with `--at-version`, `--wizard` without a terminal):
 *   the problem and the usage are printed, and the store is not even
 *   opened. The one case that needs the store first is a `--at-version`
 *   past the end of the account's stream;
 * - 3: the outcome of a write is unknown (the store lost the connection
 *   after the command was sent): it may or may not have been recorded, and
 *   the line printed gives the command to retry with the same
 *   `--command-id`, which records it at most once.
 *
 * Nothing the CLI prints can carry a terminal escape sequence, an extra line
 * or a direction override from the store or the input: see `Render`.
 *
 * Commands write events; `accounts`, `statement` and `totals` read the
 * projections' read models, each brought up to date first when its lease is
 * free (a CLI process is short-lived: no projection runs in the background),
 * or read as it is, with its lag, when another process is updating it.
 * `projections` shows each projection's lag without catching up, and
 * `rebuild` rebuilds one from the first event with a progress display.
 *
 * `transfer`, `approve` and `transfers` run the Transfer saga (durable, on
 * the same store) in the CLI process while they wait for it: a failed
 * transfer is one line on stderr and exit 1, like a refused one.
 *
 * @since 0.1.0
 */
import { EventStore, Projection, ProjectionAdmin, Saga } from "@chronicle/core"
import { Args, Command, Options, ValidationError } from "@effect/cli"
import {
  Cause,
  Clock,
  Config,
  Console,
  Context,
  DateTime,
  Duration,
  Effect,
  type Layer,
  Logger,
  LogLevel,
  Option,
  ParseResult,
  Schema,
  Stream
} from "effect"
import * as Account from "./Account.js"
import * as Bank from "./Bank.js"
import * as BankStore from "./BankStore.js"
import * as BankServer from "./http/BankServer.js"
import * as Money from "./Money.js"
import * as Projections from "./Projections.js"
import * as Render from "./Render.js"
import * as Text from "./Text.js"
import * as Transfer from "./Transfer.js"
import type * as TransferSagaModule from "./TransferSaga.js"

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
export const ExitCode = { ok: 0, rejected: 1, usage: 2, unknownOutcome: 3 } as const

/**
 * The short usage printed after invalid input.
 *
 * @since 0.1.0
 * @category constants
 */
export const usage = `Usage:
  pnpm bank open <accountId> --owner <name> [--overdraft <cents>] [--command-id <id>]
  pnpm bank deposit <accountId> <cents> [--currency ${Money.currencies.join("|")}] [--command-id <id>]
  pnpm bank withdraw <accountId> <cents> [--command-id <id>]
  pnpm bank close <accountId> [--command-id <id>]
  pnpm bank balance <accountId> [--as-of <ISO-8601 time> | --at-version <n>]
  pnpm bank events <accountId>
  pnpm bank history <accountId>
  pnpm bank verify <accountId>       (events vs the stream's version vs every snapshot)
  pnpm bank accounts                 (from the balances read model, caught up first if no other process is)
  pnpm bank statement <accountId>    (from the statements read model, likewise)
  pnpm bank totals                   (bank-wide totals per UTC day, likewise)
  pnpm bank projections              (status and lag of each projection; catches nothing up)
  pnpm bank rebuild <${Projections.names.join("|")}>
  pnpm bank demo
  pnpm bank serve [--port 3000] [--host 127.0.0.1]   (the HTTP API, its docs and the event explorer)
  pnpm bank seed <accounts>          (fill the bank with a realistic mix of accounts and events)
  pnpm bank transfer <from> <to> <cents> [--id <transferId>]
  pnpm bank transfers [--retry <transferId>]
  pnpm bank approve <transferId>

Amounts and the overdraft are whole cents, digits only (1250 = 12.50); accounts hold ${Money.defaultCurrency}.
An owner name is 1 to ${Account.ownerMaxLength} characters, without control characters or direction overrides.
--command-id makes a write safe to retry: the same id on the same account is recorded once.
Times are ISO-8601 with a zone (2025-03-01T12:00:00Z) or a date (2025-03-01, midnight UTC).
Exit codes: 0 done, 1 refused or failed, 2 invalid input, 3 outcome unknown (retry with the same --command-id).
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

/** A write whose outcome is unknown, with the command line that retries it safely. */
class UnknownOutcome extends Schema.TaggedError<UnknownOutcome>()("UnknownOutcome", {
  accountId: Schema.String,
  reason: Schema.String,
  retry: Schema.String
}) {}

/** `verify` found an inconsistency (the report is printed on stdout). */
class Inconsistent extends Schema.TaggedError<Inconsistent>()("Inconsistent", {
  accountId: Schema.String,
  issues: Schema.Number
}) {
  override get message(): string {
    return `account ${Text.printable(this.accountId)}: ${this.issues} ${this.issues === 1 ? "issue" : "issues"} found (see the report above)`
  }
}

/** `--wizard` with no terminal to ask on. */
class WizardNeedsTerminal extends Schema.TaggedError<WizardNeedsTerminal>()("WizardNeedsTerminal", {}) {
  override get message(): string {
    return "--wizard is interactive: it needs a terminal on standard input, which is closed or not a terminal here. Give the command and its arguments instead."
  }
}

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

const accountId = Args.text({ name: "accountId" }).pipe(
  Args.withSchema(Account.AccountId),
  Args.withDescription("the account id: letters, digits, '.', '_' or '-'")
)

/** How a refused input is quoted in a message: as JSON, with control characters escaped. */
const quoted = (actual: unknown): string => Text.printable(JSON.stringify(actual) ?? String(actual))

/**
 * Whole cents as the command line takes them, for amounts and the overdraft
 * alike: digits only, so "12.5", "1e3", "0x10", "-5" and "abc" are refused
 * before they become numbers.
 */
const centsText = <A>(amount: Schema.Schema<A, number>, message: (actual: unknown) => string) =>
  Schema.compose(
    Schema.String.pipe(Schema.pattern(/^[0-9]{1,16}$/)),
    Schema.compose(Schema.NumberFromString, amount)
  ).annotations({ message: (issue) => ({ message: message(issue.actual), override: true }) })

const CentsArgument = centsText(
  Money.Cents,
  (actual) =>
    `<cents> must be a positive whole number of cents, at most ${Money.maxAmount}, e.g. 1250 for 12.50 (got ${quoted(actual)})`
)

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
    message: `--as-of must be an ISO-8601 time with a zone, e.g. 2025-03-01T12:00:00Z or 2025-03-01T13:00:00+01:00, or a date such as 2025-03-01 (midnight UTC) (got ${quoted(issue.actual)})`,
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
    message: `--at-version must be a whole number of events, 0 or more (got ${quoted(issue.actual)})`,
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
  Options.withSchema(Account.Owner),
  Options.withDescription(
    `the account owner's name: 1 to ${Account.ownerMaxLength} characters, no leading or trailing spaces, no control characters or direction overrides`
  )
)

const overdraft = Options.text("overdraft").pipe(
  Options.withSchema(
    centsText(
      Money.NonNegativeCents,
      (actual) =>
        `--overdraft must be zero or a positive whole number of cents, at most ${Money.maxAmount} (got ${quoted(actual)})`
    )
  ),
  Options.withDefault(0),
  Options.withDescription("how far below zero the balance may go, in whole cents, digits only (default 0)")
)

const CommandIdArgument = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)).annotations({
  message: (issue) => ({
    message: `--command-id must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit (got ${quoted(issue.actual)})`,
    override: true
  })
})

const commandId = Options.text("command-id").pipe(
  Options.withSchema(CommandIdArgument),
  Options.optional,
  Options.withDescription(
    "identifies this command: run again with the same id (say, after an unknown outcome), it is recorded at most once. Default: a new random id"
  )
)

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/**
 * How the CLI opens the store it chose: `BankStore.layer` unless a test
 * provides another (say, one whose appends fail with an unknown outcome).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BankCli, BankStore } from "@chronicle/example-bank"
 *
 * const inMemory = Effect.provideService(BankCli.StoreLayer, () => BankStore.layer({ _tag: "Memory" }))
 * ```
 * @since 0.4.0
 * @category running
 */
export class StoreLayer extends Context.Reference<StoreLayer>()("@chronicle/example-bank/BankCli/StoreLayer", {
  defaultValue: (): ((choice: BankStore.StoreChoice) => Layer.Layer<BankStore.Stores, BankStore.BankStoreError>) =>
    BankStore.layer
}) {}

/** Runs `effect` on the configured store, opened only now that the input is valid. */
const withStore = <A, E>(effect: (store: string) => Effect.Effect<A, E, BankStore.Stores>) =>
  Effect.gen(function* () {
    const choice = yield* BankStore.choose
    const layerOf = yield* StoreLayer
    return yield* effect(BankStore.describe(choice)).pipe(Effect.provide(layerOf(choice)))
  })

/** Tags a domain error with the account it concerns, for the one-line message. */
const onAccount =
  (accountId: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      effect,
      (error): error is Extract<E, Account.AccountError> => Bank.isAccountError(error),
      (error) => Effect.fail(new Rejected({ accountId, error }))
    )

/** Quotes an argument for a POSIX shell when it needs it. */
const shellQuote = (arg: string): string =>
  /^[A-Za-z0-9._:=/@+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'"'"'`)}'`

/**
 * Runs a write with its command id (the one given, or a new one), prints
 * what it did, and turns an unknown outcome into the lines that say so with
 * the exact command to retry: `args` are the command's own arguments, to
 * which `--command-id <id>` is added.
 */
const write = <E>(
  accountId: string,
  args: ReadonlyArray<string>,
  given: Option.Option<string>,
  run: (options: Bank.CommandOptions) => Effect.Effect<Bank.Executed, E, BankStore.Stores>
) =>
  Effect.gen(function* () {
    const id = Option.getOrElse(given, () => crypto.randomUUID())
    const retry = ["pnpm bank", ...args, "--command-id", id]
      .map((arg, i) => (i === 0 ? arg : shellQuote(arg)))
      .join(" ")
    const result = yield* withStore(() => run({ commandId: id })).pipe(
      onAccount(accountId),
      Effect.catchIf(
        (error): error is Extract<typeof error, EventStore.UnknownOutcomeError> =>
          error instanceof EventStore.UnknownOutcomeError,
        (error) => Effect.fail(new UnknownOutcome({ accountId, reason: error.reason, retry }))
      ),
      // Stopped (Ctrl-C) while the command may have been sent: say how to retry it safely.
      Effect.onInterrupt(() =>
        Console.error(Render.unknownOutcome({ accountId, reason: "interrupted before the store answered", retry }))
      )
    )
    yield* Console.log(Render.executed(result))
  })

const open = Command.make(
  "open",
  { accountId, owner, overdraft, commandId },
  ({ accountId, owner, overdraft, commandId }) =>
    write(
      accountId,
      ["open", accountId, "--owner", owner, ...(overdraft === 0 ? [] : ["--overdraft", `${overdraft}`])],
      commandId,
      (options) => Bank.open(accountId, { owner, overdraftLimit: overdraft }, options)
    )
).pipe(Command.withDescription("Open an account for an owner, optionally with an overdraft limit."))

const deposit = Command.make(
  "deposit",
  { accountId, cents, currency, commandId },
  ({ accountId, cents, currency, commandId }) =>
    write(
      accountId,
      ["deposit", accountId, `${cents}`, ...(currency === Money.defaultCurrency ? [] : ["--currency", currency])],
      commandId,
      (options) => Bank.deposit(accountId, cents, currency, options)
    )
).pipe(Command.withDescription("Deposit an amount into an open account."))

const withdraw = Command.make("withdraw", { accountId, cents, commandId }, ({ accountId, cents, commandId }) =>
  write(accountId, ["withdraw", accountId, `${cents}`], commandId, (options) =>
    Bank.withdraw(accountId, cents, options)
  )
).pipe(Command.withDescription("Withdraw an amount, within the overdraft limit."))

const close = Command.make("close", { accountId, commandId }, ({ accountId, commandId }) =>
  write(accountId, ["close", accountId], commandId, (options) => Bank.close(accountId, options))
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

const verify = Command.make("verify", { accountId }, ({ accountId }) =>
  withStore(() => Bank.verify(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((report) =>
      Effect.zipRight(
        Console.log(Render.verification(accountId, report)),
        report.consistent ? Effect.void : Effect.fail(new Inconsistent({ accountId, issues: report.issues.length }))
      )
    )
  )
).pipe(
  Command.withDescription(
    "Check an account: fold its events and compare with the version the store reports and with every stored snapshot. Exits 1 on a mismatch."
  )
)

const demo = Command.make("demo", {}, () =>
  withStore((store) => Effect.map(Bank.demo, (report) => Render.demo(report, store))).pipe(Effect.flatMap(Console.log))
).pipe(Command.withDescription("Run a scripted scenario on a fresh account and print its history."))

// ---------------------------------------------------------------------------
// The query side: read models
// ---------------------------------------------------------------------------

const accounts = Command.make("accounts", {}, () =>
  withStore(() =>
    Effect.gen(function* () {
      const fresh = yield* Projections.refresh("balances")
      const rows = yield* Projections.accounts
      return `${Render.freshness(Projections.Balances, fresh)}\n\n${Render.accounts(rows)}`
    })
  ).pipe(Effect.flatMap(Console.log))
).pipe(
  Command.withDescription(
    "List every account with its balance, from the balances read model (brought up to date with the events first, or read as it is, with its lag, while another process updates it)."
  )
)

const statement = Command.make("statement", { accountId }, ({ accountId }) =>
  withStore(() =>
    Effect.gen(function* () {
      const fresh = yield* Projections.refresh("statements")
      const lines = yield* Projections.statement(accountId)
      if (lines.length === 0) return yield* new Account.AccountNotOpen()
      return `${Render.freshness(Projections.Statements, fresh)}\n\n${Render.statement(lines)}`
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
      const fresh = yield* Projections.refresh("daily-totals")
      const days = yield* Projections.dailyTotals
      return `${Render.freshness(Projections.DailyTotals, fresh)}\n\n${Render.dailyTotals(days)}`
    })
  ).pipe(Effect.flatMap(Console.log))
).pipe(Command.withDescription("Bank-wide deposits, withdrawals, net and count per UTC day, from a read model."))

const projections = Command.make("projections", {}, () =>
  withStore(() => Effect.zip(Projections.status, EventStore.feedStatus)).pipe(
    Effect.flatMap(([lines, feed]) => {
      const held = Render.feedHeldBack(feed)
      return Console.log(
        `${Render.projections(lines)}\n\n${held === undefined ? "" : `${held}\n\n`}Lag: events appended after the checkpoint, not applied yet. accounts, statement and totals\nbring their read model up to date before reading it (unless another process is updating it);\nrebuild <projection> rebuilds one from the first event.`
      )
    })
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
    print: (progress: ProjectionAdmin.Progress): Effect.Effect<void> => {
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
      const last = yield* ProjectionAdmin.rebuild(Projections.byName[projection], { batchSize: 500 }).pipe(
        Stream.tap(printer.print),
        Stream.runLast
      )
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

// ---------------------------------------------------------------------------
// The server, and test data
// ---------------------------------------------------------------------------

/** The server could not listen (say, the port is taken). */
class CannotListen extends Schema.TaggedError<CannotListen>()("CannotListen", {
  address: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot listen on ${this.address}: ${this.reason}`
  }
}

const listenReason = (cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  if (code === "EADDRINUSE") return "the port is in use (is another server running? choose another --port)"
  if (code === "EACCES") return "permission denied (ports below 1024 need privileges: choose another --port)"
  if (code === "EADDRNOTAVAIL") return "no such address on this machine (check --host)"
  return cause instanceof Error ? cause.message : String(cause)
}

const port = Options.integer("port").pipe(
  Options.withSchema(
    Schema.Int.pipe(Schema.between(0, 65535)).annotations({
      message: (issue) => ({ message: `--port must be 0 to 65535 (got ${quoted(issue.actual)})`, override: true })
    })
  ),
  Options.withDefault(3000),
  Options.withDescription("the TCP port to listen on (default 3000; 0 picks a free one)")
)

const host = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("the interface to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every one)")
)

const serve = Command.make("serve", { port, host }, ({ port, host }) =>
  withStore((store) =>
    Effect.scoped(
      Effect.gen(function* () {
        const { url } = yield* BankServer.start({ port, host }).pipe(
          Effect.mapError(
            (error) => new CannotListen({ address: `${host}:${port}`, reason: listenReason(error.cause) })
          )
        )
        yield* Console.log(Render.serving(url, store))
        return yield* Effect.never
      })
    )
  )
).pipe(
  Command.withDescription(
    "Serve the bank over HTTP: the API (/api, documented at /docs and /openapi.json) and the event explorer (/), with the projections running in the background, until Ctrl-C."
  )
)

const seedAccounts = Args.integer({ name: "accounts" }).pipe(
  Args.withSchema(
    Schema.Int.pipe(Schema.between(1, 100_000)).annotations({
      message: (issue) => ({
        message: `<accounts> must be a whole number from 1 to 100000 (got ${quoted(issue.actual)})`,
        override: true
      })
    })
  ),
  Args.withDescription("how many accounts to create")
)

const seed = Command.make("seed", { accounts: seedAccounts }, ({ accounts }) =>
  withStore(() =>
    Effect.gen(function* () {
      const tty = process.stdout.isTTY === true
      const every = Math.max(1, Math.ceil(accounts / 20))
      const started = yield* Clock.currentTimeMillis
      const report = yield* Bank.seed(accounts, {
        onProgress: (done, total) =>
          tty
            ? Effect.sync(() => process.stdout.write(`\r${Render.seedProgress(done, total)}\u001b[K`))
            : done % every === 0 || done === total
              ? Console.log(Render.seedProgress(done, total))
              : Effect.void
      })
      if (tty) yield* Effect.sync(() => process.stdout.write("\n"))
      return Render.seeded(report, (yield* Clock.currentTimeMillis) - started)
    })
  ).pipe(Effect.flatMap(Console.log))
).pipe(
  Command.withDescription(
    "Fill the bank with accounts and a realistic mix of events (salaries, small deposits, withdrawals, some refused, a few accounts closed), with a progress bar."
  )
)

// ---------------------------------------------------------------------------
// Transfers: the Transfer saga, run durably by the CLI process itself
// ---------------------------------------------------------------------------

const transferIdArg = Args.text({ name: "transferId" }).pipe(
  Args.withSchema(Transfer.TransferId),
  Args.withDescription("the transfer id: letters, digits, '.', '_' or '-'")
)

const fromAccount = Args.text({ name: "from" }).pipe(
  Args.withSchema(Account.AccountId),
  Args.withDescription("the account the money leaves")
)

const toAccount = Args.text({ name: "to" }).pipe(
  Args.withSchema(Account.AccountId),
  Args.withDescription("the account the money goes to")
)

const newTransferId = Options.text("id").pipe(
  Options.withSchema(Transfer.TransferId),
  Options.optional,
  Options.withDescription(
    "the transfer's id: run again with the same id (say, after an error), it is requested once. Default: a new id"
  )
)

const retryTransfer = Options.text("retry").pipe(
  Options.withSchema(Transfer.TransferId),
  Options.optional,
  Options.withDescription("retry this failed transfer (after fixing what made it fail), then list")
)

/** How long `transfer` and `approve` wait for the saga: `BANK_TRANSFER_WAIT`, default 10 s. */
const transferWait = Config.duration("BANK_TRANSFER_WAIT").pipe(Config.withDefault(Duration.seconds(10)))

/** A transfer that failed: one line on stderr, exit 1. */
class TransferNotDone extends Schema.TaggedError<TransferNotDone>()("TransferNotDone", { line: Schema.String }) {
  override get message(): string {
    return this.line
  }
}

type TransferSaga = typeof TransferSagaModule

/**
 * Runs `effect` on the store, with the Transfer saga running in this process
 * meanwhile. The saga's module (and with it the workflow engine) is loaded
 * only now, so that the other commands start without it.
 */
const withTransfers = <A, E>(effect: (saga: TransferSaga) => Effect.Effect<A, E, BankStore.Stores>) =>
  Effect.flatMap(
    Effect.promise(() => import("./TransferSaga.js")),
    (saga) =>
      withStore(() => Effect.flatMap(saga.config, (options) => effect(saga).pipe(Effect.provide(saga.layer(options)))))
  )

/** Waits for a transfer's saga (up to `BANK_TRANSFER_WAIT`) and prints where it stands. */
const settle = (saga: TransferSaga, transferId: string, toEnd: boolean) =>
  Effect.gen(function* () {
    const found = yield* saga.outcome(transferId, yield* transferWait, { toEnd })
    if (Option.isNone(found)) return yield* Console.log(Render.transferPending(transferId))
    const view = found.value
    if (view.saga.state === "failed" || view.saga.state === "compensation-failed") {
      return yield* new TransferNotDone({ line: Render.transferFailed(view) })
    }
    yield* Console.log(Render.transferOutcome(view))
  })

const transfer = Command.make(
  "transfer",
  { from: fromAccount, to: toAccount, cents, id: newTransferId },
  ({ from, to, cents, id }) => {
    const transferId = Option.getOrElse(id, () => `t-${crypto.randomUUID().slice(0, 8)}`)
    return withTransfers((saga) =>
      Effect.zipRight(saga.request({ transferId, from, to, amount: cents }), settle(saga, transferId, false))
    )
  }
).pipe(
  Command.withDescription(
    "Transfer an amount between two accounts, through the Transfer saga: withdraw, deposit, done; refunded if it fails. Above BANK_APPROVAL_ABOVE cents it waits for an approval."
  )
)

const approve = Command.make("approve", { transferId: transferIdArg }, ({ transferId }) =>
  withTransfers((saga) => Effect.zipRight(saga.approve(transferId), settle(saga, transferId, true)))
).pipe(Command.withDescription("Approve a transfer waiting for its approval; it then completes."))

const transfers = Command.make("transfers", { retry: retryTransfer }, ({ retry }) =>
  withTransfers((saga) =>
    Effect.gen(function* () {
      if (Option.isSome(retry)) {
        yield* Saga.retry(saga.name, retry.value)
        yield* settle(saga, retry.value, true).pipe(Effect.catchTag("TransferNotDone", (e) => Console.error(e.line)))
      }
      // Let the saga take what is due first: transfers not started yet, deadlines passed.
      const head = yield* Effect.flatMap(EventStore.EventStore, (store) => store.head)
      yield* Projection.waitFor(Saga.consumerName(saga.name), head, { timeout: "3 seconds" }).pipe(Effect.ignore)
      const now = yield* Clock.currentTimeMillis
      const overdue = (yield* saga.list).filter((view) =>
        Option.exists(
          Option.flatMap(view.saga.waitingFor, (w) => w.until),
          (until) => until.epochMillis <= now
        )
      )
      yield* Effect.forEach(overdue, (view) =>
        Saga.waitFor(saga.name, view.transferId, {
          timeout: "3 seconds",
          until: (s) => s.state !== "waiting" && s.state !== "running" && s.state !== "compensating"
        }).pipe(Effect.ignore)
      )
      yield* Console.log(Render.transfers(yield* saga.list))
    })
  )
).pipe(
  Command.withDescription(
    "List every transfer with its state and the steps its saga completed; --retry <transferId> retries a failed one first."
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
    verify,
    accounts,
    statement,
    totals,
    projections,
    rebuild,
    demo,
    serve,
    seed,
    transfer,
    transfers,
    approve
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
  Effect.suspend(() =>
    // The wizard would wait for answers forever on a closed standard input.
    argv.slice(2).includes("--wizard") && process.stdin.isTTY !== true
      ? Effect.fail(new WizardNeedsTerminal())
      : Effect.void
  ).pipe(
    Effect.zipRight(Effect.suspend(() => cli(argv))),
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
        case "UnknownOutcome":
          return Effect.as(Console.error(Render.unknownOutcome(error)), ExitCode.unknownOutcome)
        case "CannotListen":
        case "TransferNotDone":
          return Effect.as(Console.error(oneLine(error.message)), ExitCode.rejected)
        case "InvalidCommandError":
        case "ConflictingOptions":
        case "TemporalQueryError":
        case "WizardNeedsTerminal":
          return Effect.as(Console.error(`${oneLine(error.message)}\n\n${usage}`), ExitCode.usage)
        default:
          return Effect.as(Console.error(`${error._tag}: ${oneLine(error.message)}`), ExitCode.rejected)
      }
    }),
    // A defect is a bug: still one line, never a stack trace.
    Effect.catchAllCause((cause) =>
      Effect.as(Console.error(`Internal error: ${oneLine(describeDefect(Cause.squash(cause)))}`), ExitCode.rejected)
    ),
    // Warnings (say, a snapshot ignored) go to stderr, one line each, away from the output.
    Effect.provide(Logger.replace(Logger.defaultLogger, warnings)),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )

const warnings = Logger.make(({ logLevel, message }) =>
  oneLine(
    `${logLevel._tag === "Warning" ? "warning" : logLevel.label.toLowerCase()}: ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`
  )
).pipe(Logger.withConsoleError)

/** A message on one line, with control characters escaped. */
const oneLine = (message: string): string => Text.printable(message.replace(/\s*\n\s*/g, " ").trim())

const describeDefect = (defect: unknown): string =>
  defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
