/**
 * The arguments and options of the `pnpm bank` commands, as `@effect/cli`
 * `Args` and `Options` with the Schemas that check them: ids, whole cents as
 * digits, instants, versions, command ids, the server's port and host, and
 * the transfer commands' arguments. Each refusal names the argument and
 * quotes what was given, escaped.
 *
 * Internal to the CLI (`BankCli`), which re-exports `Instant`.
 *
 * @since 0.5.0
 */
import { Args, Options } from "@effect/cli"
import { DateTime, Option, ParseResult, Schema } from "effect"
import * as Account from "../Account.js"
import * as TransferModels from "../http/TransferModels.js"
import * as Money from "../Money.js"
import * as Projections from "../Projections.js"
import * as Text from "../Text.js"
import * as Transfer from "../Transfer.js"

export const accountId = Args.text({ name: "accountId" }).pipe(
  Args.withSchema(Account.AccountId),
  Args.withDescription("the account id: letters, digits, '.', '_' or '-'")
)

/** How a refused input is quoted in a message: as JSON, with control characters escaped. */
export const quoted = (actual: unknown): string => Text.printable(JSON.stringify(actual) ?? String(actual))

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

export const cents = Args.text({ name: "cents" }).pipe(
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

export const asOf = Options.text("as-of").pipe(
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

export const atVersion = Options.text("at-version").pipe(
  Options.withSchema(VersionArgument),
  Options.withDescription("show the balance after the account's n-th event (0: before the first)"),
  Options.optional
)

export const currency = Options.choice("currency", Money.currencies).pipe(
  Options.withDefault(Money.defaultCurrency),
  Options.withDescription(
    `the currency of the deposit (default ${Money.defaultCurrency}; accounts hold ${Money.defaultCurrency} only)`
  )
)

export const owner = Options.text("owner").pipe(
  Options.withSchema(Account.Owner),
  Options.withDescription(
    `the account owner's name: 1 to ${Account.ownerMaxLength} characters, no leading or trailing spaces, no control characters or direction overrides`
  )
)

export const overdraft = Options.text("overdraft").pipe(
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

export const commandId = Options.text("command-id").pipe(
  Options.withSchema(CommandIdArgument),
  Options.optional,
  Options.withDescription(
    "identifies this command: run again with the same id (say, after an unknown outcome), it is recorded at most once. Default: a new random id"
  )
)

export const projectionName = Args.text({ name: "projection" }).pipe(
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

export const port = Options.integer("port").pipe(
  Options.withSchema(
    Schema.Int.pipe(Schema.between(0, 65535)).annotations({
      message: (issue) => ({ message: `--port must be 0 to 65535 (got ${quoted(issue.actual)})`, override: true })
    })
  ),
  Options.withDefault(3000),
  Options.withDescription("the TCP port to listen on (default 3000; 0 picks a free one)")
)

export const host = Options.text("host").pipe(
  Options.withDefault("127.0.0.1"),
  Options.withDescription("the interface to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every one)")
)

export const seedAccounts = Args.integer({ name: "accounts" }).pipe(
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

export const transferIdArg = Args.text({ name: "transferId" }).pipe(
  Args.withSchema(Transfer.TransferId),
  Args.withDescription("the transfer id: letters, digits, '.', '_' or '-'")
)

export const fromAccount = Args.text({ name: "from" }).pipe(
  Args.withSchema(Account.AccountId),
  Args.withDescription("the account the money leaves")
)

export const toAccount = Args.text({ name: "to" }).pipe(
  Args.withSchema(Account.AccountId),
  Args.withDescription("the account the money goes to")
)

export const newTransferId = Options.text("id").pipe(
  Options.withSchema(Transfer.TransferId),
  Options.optional,
  Options.withDescription(
    "the transfer's id: run again with the same id (say, after an error), it is requested once. Default: a new id"
  )
)

export const retryTransfer = Options.text("retry").pipe(
  Options.withSchema(Transfer.TransferId),
  Options.optional,
  Options.withDescription("retry this failed transfer (after fixing what made it fail), then list")
)

export const transfersAfter = Options.text("after").pipe(
  Options.withSchema(Transfer.TransferId),
  Options.optional,
  Options.withDescription("list the transfers requested after this one (the `next` a listing printed)")
)

export const transfersStatus = Options.text("status").pipe(
  Options.withSchema(
    TransferModels.TransferStatus.annotations({
      message: (issue) => ({
        message: `--status must be one of ${TransferModels.TransferStatus.literals.join(", ")} (got ${quoted(issue.actual)})`,
        override: true
      })
    })
  ),
  Options.optional,
  Options.withDescription(
    "list only the transfers of this status (requested, running, awaiting-approval, compensating, completed, failed, compensation-failed)"
  )
)

export const transfersLimit = Options.integer("limit").pipe(
  Options.withSchema(
    Schema.Int.pipe(Schema.between(1, 1_000)).annotations({
      message: (issue) => ({
        message: `--limit must be a whole number from 1 to 1000 (got ${quoted(issue.actual)})`,
        override: true
      })
    })
  ),
  Options.withDefault(50),
  Options.withDescription("how many transfers to list (default 50)")
)
