/**
 * The commands of `pnpm bank`: each one's arguments, what it runs (the use
 * cases of `Bank`, the read models of `Projections`, the server, the
 * Transfer saga) and what it prints through the `Output`; and the errors
 * they fail with, which `BankCli.main` turns into exit codes.
 *
 * Internal to the CLI (`BankCli`), which re-exports `StoreLayer`.
 *
 * @since 0.5.0
 */
import { AppendError, EventStore, Projection, ProjectionAdmin, SagaAdmin } from "@chronicle/core"
import { Command } from "@effect/cli"
import { Clock, Config, Context, Duration, Effect, Layer, Option, Schema, Stream } from "effect"
import * as Account from "../Account.js"
import * as Bank from "../Bank.js"
import * as BankStore from "../BankStore.js"
import * as BankServer from "../http/BankServer.js"
import * as TransferList from "../http/TransferList.js"
import * as Money from "../Money.js"
import * as Output from "../Output.js"
import * as Projections from "../Projections.js"
import * as Render from "../Render.js"
import * as Text from "../Text.js"
import type * as TransferSagaModule from "../TransferSaga.js"
import {
  accountId,
  asOf,
  atVersion,
  cents,
  commandId,
  currency,
  fromAccount,
  host,
  newTransferId,
  overdraft,
  owner,
  port,
  projectionName,
  retryTransfer,
  seedAccounts,
  toAccount,
  transferIdArg,
  transfersAfter,
  transfersLimit,
  transfersStatus
} from "./Arguments.js"
import { progressPrinter } from "./Progress.js"

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

/** `transfers --after` names no transfer of the transfers read model. */
class UnknownTransfer extends Schema.TaggedError<UnknownTransfer>()("UnknownTransfer", { transferId: Schema.String }) {
  override get message(): string {
    return `--after: no transfer ${Text.printable(this.transferId)} (pass the transfer a listing said to continue after)`
  }
}

/** `verify` found an inconsistency (the report is printed on stdout). */
class Inconsistent extends Schema.TaggedError<Inconsistent>()("Inconsistent", {
  accountId: Schema.String,
  issues: Schema.Number
}) {
  override get message(): string {
    return `account ${Text.printable(this.accountId)}: ${this.issues} ${this.issues === 1 ? "issue" : "issues"} found (see the report above)`
  }
}

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
const withStore = <A, E, R>(effect: (store: string) => Effect.Effect<A, E, R | BankStore.Stores | Bank.Accounts>) =>
  Effect.gen(function* () {
    const choice = yield* BankStore.choose
    const layerOf = yield* StoreLayer
    return yield* effect(BankStore.describe(choice)).pipe(
      Effect.provide(Bank.Accounts.layer.pipe(Layer.provideMerge(layerOf(choice))))
    )
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
  run: (options: Bank.CommandOptions) => Effect.Effect<Bank.Executed, E, BankStore.Stores | Bank.Accounts>
) =>
  Effect.gen(function* () {
    const id = Option.getOrElse(given, () => crypto.randomUUID())
    const retry = ["pnpm bank", ...args, "--command-id", id]
      .map((arg, i) => (i === 0 ? arg : shellQuote(arg)))
      .join(" ")
    const result = yield* withStore(() => run({ commandId: id })).pipe(
      onAccount(accountId),
      Effect.catchIf(
        (error): error is Extract<typeof error, AppendError.UnknownOutcomeError> =>
          error instanceof AppendError.UnknownOutcomeError,
        (error) => Effect.fail(new UnknownOutcome({ accountId, reason: error.reason, retry }))
      ),
      // Stopped (Ctrl-C) while the command may have been sent: say how to retry it safely.
      Effect.onInterrupt(() =>
        Output.printError(Render.unknownOutcome({ accountId, reason: "interrupted before the store answered", retry }))
      )
    )
    yield* Output.print(Render.executed(result))
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
      return yield* Output.print(Render.balance(current))
    }
    const past = yield* withStore(() => Bank.balanceAt(accountId, point.value)).pipe(onAccount(accountId))
    return yield* Output.print(Render.pastBalance(past))
  })
).pipe(
  Command.withDescription(
    "Show an account's balance: now, as it was at an instant (--as-of), or after its n-th event (--at-version)."
  )
)

const history = Command.make("history", { accountId }, ({ accountId }) =>
  withStore(() => Bank.history(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((entries) => Output.print(Render.history(entries)))
  )
).pipe(
  Command.withDescription(
    "One row per event: version, time, type, stored schema version, amount, balance after, correlation and causation ids."
  )
)

const events = Command.make("events", { accountId }, ({ accountId }) =>
  withStore(() => Bank.events(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((recorded) => Output.print(Render.events(recorded)))
  )
).pipe(Command.withDescription("List every recorded event of an account: version, position, type, data, time."))

const verify = Command.make("verify", { accountId }, ({ accountId }) =>
  withStore(() => Bank.verify(accountId)).pipe(
    onAccount(accountId),
    Effect.flatMap((report) =>
      Effect.zipRight(
        Output.print(Render.verification(accountId, report)),
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
  withStore((store) => Effect.map(Bank.demo, (report) => Render.demo(report, store))).pipe(Effect.flatMap(Output.print))
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
  ).pipe(Effect.flatMap(Output.print))
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
  ).pipe(onAccount(accountId), Effect.flatMap(Output.print))
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
  ).pipe(Effect.flatMap(Output.print))
).pipe(Command.withDescription("Bank-wide deposits, withdrawals, net and count per UTC day, from a read model."))

const projections = Command.make("projections", {}, () =>
  withStore(() => Effect.zip(Projections.status, EventStore.feedStatus)).pipe(
    Effect.flatMap(([lines, feed]) => {
      const held = Render.feedHeldBack(feed)
      return Output.print(
        `${Render.projections(lines)}\n\n${held === undefined ? "" : `${held}\n\n`}Lag: events appended after the checkpoint, not applied yet. accounts, statement and totals\nbring their read model up to date before reading it (unless another process is updating it);\nrebuild <projection> rebuilds one from the first event.`
      )
    })
  )
).pipe(
  Command.withDescription(
    "Show each projection's state, checkpoint and lag (events not yet applied). Catches nothing up."
  )
)

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
  ).pipe(Effect.flatMap(Output.print))
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

const serve = Command.make("serve", { port, host }, ({ port, host }) =>
  withStore((store) =>
    Effect.scoped(
      Effect.gen(function* () {
        // The Transfer saga runs in the server, with the options of the environment (BANK_APPROVAL_ABOVE, ...).
        const transfers = yield* Effect.flatMap(
          Effect.promise(() => import("../TransferSaga.js")),
          (saga) => saga.config
        )
        const { url } = yield* BankServer.start({ port, host, transfers }).pipe(
          Effect.mapError(
            (error) => new CannotListen({ address: `${host}:${port}`, reason: listenReason(error.cause) })
          )
        )
        yield* Output.print(Render.serving(url, store))
        return yield* Effect.never
      })
    )
  )
).pipe(
  Command.withDescription(
    "Serve the bank over HTTP: the API (/api, documented at /docs and /openapi.json) and the event explorer (/), with the projections running in the background, until Ctrl-C."
  )
)

const seed = Command.make("seed", { accounts: seedAccounts }, ({ accounts }) =>
  withStore(() =>
    Effect.gen(function* () {
      const output = yield* Output.Output
      // On a terminal, one line per phase redrawn in place; otherwise about 20 lines per phase, and the last.
      const every = (total: number) => (output.interactive ? 1 : Math.max(1, Math.ceil(total / 20)))
      const started = yield* Clock.currentTimeMillis
      const report = yield* Bank.seed(accounts, {
        onProgress: (done, total, phase) =>
          Effect.zipRight(
            // the transfers' bar starts on a line of its own, below the accounts' finished one
            phase === "transfers" && done === 1 ? output.endProgress : Effect.void,
            done % every(total) === 0 || done === total
              ? output.progress(Render.seedProgress(done, total, phase))
              : Effect.void
          )
      })
      yield* output.endProgress
      return Render.seeded(report, (yield* Clock.currentTimeMillis) - started)
    })
  ).pipe(Effect.flatMap(Output.print))
).pipe(
  Command.withDescription(
    "Fill the bank with accounts and a realistic mix of events (salaries, small deposits, withdrawals, some refused, a few accounts closed), with a progress bar; then request transfers between them (some large, awaiting approval; a few that will fail), which the Transfer saga carries out when `serve` or a transfer command runs."
  )
)

// ---------------------------------------------------------------------------
// Transfers: the Transfer saga, run durably by the CLI process itself
// ---------------------------------------------------------------------------

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
const withTransfers = <A, E, R>(
  effect: (saga: TransferSaga) => Effect.Effect<A, E, R | BankStore.Stores | Bank.Accounts>
) =>
  Effect.flatMap(
    Effect.promise(() => import("../TransferSaga.js")),
    (saga) =>
      withStore(() => Effect.flatMap(saga.config, (options) => effect(saga).pipe(Effect.provide(saga.layer(options)))))
  )

/** Waits for a transfer's saga (up to `BANK_TRANSFER_WAIT`) and prints where it stands. */
const settle = (saga: TransferSaga, transferId: string, toEnd: boolean) =>
  Effect.gen(function* () {
    const found = yield* saga.outcome(transferId, yield* transferWait, { toEnd })
    if (Option.isNone(found)) return yield* Output.print(Render.transferPending(transferId))
    const view = found.value
    if (view.saga.state === "failed" || view.saga.state === "compensation-failed") {
      return yield* new TransferNotDone({ line: Render.transferFailed(view) })
    }
    yield* Output.print(Render.transferOutcome(view))
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

const transfers = Command.make(
  "transfers",
  { retry: retryTransfer, after: transfersAfter, status: transfersStatus, limit: transfersLimit },
  ({ retry, after, status, limit }) =>
    withTransfers((saga) =>
      Effect.gen(function* () {
        if (Option.isSome(retry)) {
          yield* SagaAdmin.retry(saga.name, retry.value)
          yield* settle(saga, retry.value, true).pipe(
            Effect.catchTag("TransferNotDone", (e) => Output.printError(e.line))
          )
        }
        // Let the saga take what is due first: transfers not started yet, deadlines passed.
        const head = yield* Effect.flatMap(EventStore.EventStore, (store) => store.head)
        yield* Projection.waitFor(SagaAdmin.consumerName(saga.name), head, { timeout: "3 seconds" }).pipe(Effect.ignore)
        const options = { after: Option.getOrUndefined(after), status: Option.getOrUndefined(status), limit }
        const list = Effect.gen(function* () {
          const fresh = yield* Projections.refresh("transfers")
          if (options.after !== undefined && Option.isNone(yield* Projections.transferRow(options.after))) {
            return yield* new UnknownTransfer({ transferId: options.after })
          }
          return { fresh, page: yield* TransferList.page(options) }
        })
        const first = yield* list
        const now = yield* Clock.currentTimeMillis
        // Only the page's transfers (those of other pages are settled when they are listed): the ones
        // whose approval deadline passed, and the ones on their way to an end (say, refunding one).
        const due = first.page.items.filter((listed) =>
          Option.exists(
            listed.saga,
            (s) =>
              s.state === "running" ||
              s.state === "compensating" ||
              Option.exists(
                Option.flatMap(s.waitingFor, (w) => w.until),
                (until) => until.epochMillis <= now
              )
          )
        )
        yield* Effect.forEach(
          due,
          (listed) =>
            SagaAdmin.waitFor(saga.name, listed.row.transferId, {
              timeout: "3 seconds",
              until: (s) => s.state !== "waiting" && s.state !== "running" && s.state !== "compensating"
            }).pipe(Effect.ignore),
          { concurrency: 4 }
        )
        const { fresh, page } = due.length === 0 ? first : yield* list
        yield* Output.print(
          `${Render.freshness(Projections.Transfers, fresh)}\n\n${Render.transfers(page.items, options.status)}${Option.match(
            page.next,
            {
              onNone: () => "",
              onSome: (next) =>
                `\n\nMore: pnpm bank transfers${options.status === undefined ? "" : ` --status ${options.status}`} --after ${Text.printable(next)}`
            }
          )}`
        )
      })
    )
).pipe(
  Command.withDescription(
    "List transfers in the order requested, from the transfers read model (50 at a time; --after <transferId> for the next ones), each with its state and the steps its saga completed; --retry <transferId> retries a failed one first."
  )
)

/** The `bank` command and its subcommands. */
export const bank = Command.make("bank", {}, () => new MissingCommand()).pipe(
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
