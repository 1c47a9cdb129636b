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
 * The command line is three modules and this one, by concept:
 * `cli/Arguments.ts` (the arguments and options with their Schemas),
 * `cli/Commands.ts` (the commands and what they print), `cli/Progress.ts`
 * (progress printing); here, the usage, the exit codes and `main`.
 *
 * @since 0.1.0
 */
import { Command, ValidationError } from "@effect/cli"
import {
  Cause,
  Console,
  Context,
  DefaultServices,
  Effect,
  FiberRefs,
  HashMap,
  Logger,
  LogLevel,
  Option,
  Schema
} from "effect"
import * as Account from "./Account.js"
import * as BankStore from "./BankStore.js"
import { bank } from "./cli/Commands.js"
import * as Money from "./Money.js"
import * as Output from "./Output.js"
import * as Projections from "./Projections.js"
import * as Render from "./Render.js"
import * as Text from "./Text.js"

export { Instant } from "./cli/Arguments.js"
export { StoreLayer } from "./cli/Commands.js"

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
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BankCli, Output } from "@chronicle/example-bank"
 *
 * const missing = Effect.as(Output.printError(`Missing command.\n\n${BankCli.usage}`), BankCli.ExitCode.usage)
 * ```
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
  pnpm bank seed <accounts>          (fill the bank with a realistic mix of accounts, events and transfer requests)
  pnpm bank transfer <from> <to> <cents> [--id <transferId>]
  pnpm bank transfers [--retry <transferId>] [--status <status>] [--after <transferId>] [--limit <n>]
  pnpm bank approve <transferId>

Amounts and the overdraft are whole cents, digits only (1250 = 12.50); accounts hold ${Money.defaultCurrency}.
An owner name is 1 to ${Account.ownerMaxLength} characters, without control characters or direction overrides.
--command-id makes a write safe to retry: the same id on the same account is recorded once.
Times are ISO-8601 with a zone (2025-03-01T12:00:00Z) or a date (2025-03-01, midnight UTC).
Exit codes: 0 done, 1 refused or failed, 2 invalid input, 3 outcome unknown (retry with the same --command-id).
Run "pnpm bank --help" for details.
Store: PostgreSQL if DATABASE_URL is set, else the SQLite file BANK_DB (default ${BankStore.defaultSqliteFile}).`
/** `--wizard` with no terminal to ask on. */
class WizardNeedsTerminal extends Schema.TaggedError<WizardNeedsTerminal>()("WizardNeedsTerminal", {}) {
  override get message(): string {
    return "--wizard is interactive: it needs a terminal on standard input, which is closed or not a terminal here. Give the command and its arguments instead."
  }
}

const cli = Command.run(bank, { name: "Chronicle bank", version: "0.2.0" })

// ---------------------------------------------------------------------------
// Outcomes and exit codes
// ---------------------------------------------------------------------------

/**
 * Runs the CLI on `process.argv`-style arguments and returns the exit code.
 * It never fails: every error is printed here, through the `Output` in
 * context (so is what `@effect/cli` prints: help, input errors), with
 * escape sequences removed unless it is a terminal with colour.
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { BankCli, Output } from "@chronicle/example-bank"
 *
 * const code = BankCli.main(["node", "bank", "balance", "alice"]).pipe(
 *   Effect.provide(Layer.merge(NodeContext.layer, Output.layer))
 * )
 * ```
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string>) =>
  Effect.flatMap(Output.Output, (output) => run(argv).pipe(Effect.withConsole(Output.console(output))))

const run = (argv: ReadonlyArray<string>) =>
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
        return Effect.as(Output.printError(usage), ExitCode.usage)
      }
      switch (error._tag) {
        case "MissingCommand":
          return Effect.as(Output.printError(`Missing command.\n\n${usage}`), ExitCode.usage)
        case "Rejected":
          return Effect.as(Output.printError(Render.rejected(error.accountId, error.error)), ExitCode.rejected)
        case "UnknownOutcome":
          return Effect.as(Output.printError(Render.unknownOutcome(error)), ExitCode.unknownOutcome)
        case "CannotListen":
        case "TransferNotDone":
          return Effect.as(Output.printError(oneLine(error.message)), ExitCode.rejected)
        case "InvalidCommandError":
        case "ConflictingOptions":
        case "UnknownTransfer":
        case "TemporalQueryError":
        case "WizardNeedsTerminal":
          return Effect.as(Output.printError(`${oneLine(error.message)}\n\n${usage}`), ExitCode.usage)
        default:
          return Effect.as(Output.printError(`${error._tag}: ${oneLine(error.message)}`), ExitCode.rejected)
      }
    }),
    // A defect is a bug: still one line, never a stack trace.
    Effect.catchAllCause((cause) =>
      Effect.as(Output.printError(`Internal error: ${oneLine(describeDefect(Cause.squash(cause)))}`), ExitCode.rejected)
    ),
    // Warnings (say, a snapshot ignored) go to stderr, one line each, away from the output.
    Effect.provide(Logger.replace(Logger.defaultLogger, warnings)),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )

/**
 * The CLI's logger: warnings and errors to the Console's stderr, one line each. The durable
 * saga engine (`@effect/cluster`, its logs annotated with that package) logs
 * its own housekeeping, such as "No healthy runners available" while it
 * registers a runner again after another process stopped: it heals itself
 * and says nothing a user can act on, so it is not shown.
 *
 * @example
 * ```ts
 * import { Effect, Logger } from "effect"
 * import { BankCli } from "@chronicle/example-bank"
 *
 * const quiet = Effect.logWarning("snapshot ignored").pipe(Effect.provide(Logger.replace(Logger.defaultLogger, BankCli.warnings)))
 * ```
 * @since 0.6.0
 * @category running
 */
export const warnings = Logger.make(({ logLevel, message, annotations, context }) => {
  if (Option.contains(HashMap.get(annotations, "package"), "@effect/cluster")) return
  const console = Context.get(FiberRefs.getOrDefault(context, DefaultServices.currentServices), Console.Console)
  console.unsafe.error(
    oneLine(
      `${logLevel._tag === "Warning" ? "warning" : logLevel.label.toLowerCase()}: ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`
    )
  )
})

/** A message on one line, with control characters escaped. */
const oneLine = (message: string): string => Text.printable(message.replace(/\s*\n\s*/g, " ").trim())

const describeDefect = (defect: unknown): string =>
  defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
