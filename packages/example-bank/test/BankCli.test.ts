/**
 * The CLI in process: `BankCli.main` with its output captured and the store
 * chosen through a `ConfigProvider` (a temporary SQLite file), so edge cases
 * cost no subprocess. `cli.test.ts` runs the real `pnpm bank` for the main
 * paths.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppendError, EventStore, type FeedStatus, ProjectionStore, StreamId } from "@chronicle/core"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Duration, Effect, Fiber, Layer, Option } from "effect"
import { BankCli, BankStore, Output, Projections, Text } from "../src/index.js"
import * as Cli from "./support/cli.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-cli-inprocess-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

type StoreLayer = (choice: BankStore.StoreChoice) => Layer.Layer<BankStore.Stores, BankStore.BankStoreError>

const bankOn =
  (database: string, stores?: StoreLayer) =>
  (...args: ReadonlyArray<string>): Effect.Effect<Cli.Run> =>
    Cli.run(args, [["BANK_DB", join(dir, database)]], stores)

/** The stores of a bank file, for writing behind the CLI's back. */
const storesOf = (database: string) => BankStore.layer({ _tag: "Sqlite", filename: join(dir, database) })

/** No line of the output holds a control character (other than the line breaks) or a direction override. */
const printable = (text: string): boolean => text.split("\n").every((line) => !Text.hasControlCharacters(line))

describe("BankCli in process", () => {
  it.live("points in time: as of an event's own time, conflicting and malformed options", () =>
    Effect.gen(function* () {
      const bank = bankOn("time.db")
      expect((yield* bank("open", "t-1", "--owner", "Tia")).code).toBe(0)
      expect((yield* bank("deposit", "t-1", "5000")).code).toBe(0)
      expect((yield* bank("withdraw", "t-1", "2000")).code).toBe(0)
      const history = yield* bank("history", "t-1")
      const depositedAt =
        history.stdout
          .split("\n")[3]
          ?.trim()
          .split(/\s{2,}/)[1] ?? ""
      expect(depositedAt).toMatch(/Z$/)

      // Exactly at an event's recordedAt, the event is included.
      expect((yield* bank("balance", "t-1", "--as-of", depositedAt)).stdout).toBe(
        `t-1 (Tia) as of ${depositedAt}: balance 50.00, overdraft limit 0.00, 2 events\n`
      )
      expect((yield* bank("balance", "t-1", "--at-version", "0")).stdout).toMatch(
        /^t-1 did not exist at version 0: it was opened at /
      )
      expect((yield* bank("balance", "t-1", "--as-of", "2999-01-01")).stdout).toBe(
        "t-1 (Tia) as of 2999-01-01T00:00:00.000Z: balance 30.00, overdraft limit 0.00, 3 events\n"
      )

      for (const [args, message] of [
        [["--at-version", "1.5"], '--at-version must be a whole number of events, 0 or more (got "1.5")'],
        [["--at-version=-1"], '--at-version must be a whole number of events, 0 or more (got "-1")'],
        [["--at-version", "9"], "version 9 is past the end of the stream (3 events)"],
        [["--as-of", "2025-03-01T12:00:00"], '(got "2025-03-01T12:00:00")'],
        [["--as-of", depositedAt, "--at-version", "1"], "--as-of and --at-version cannot be used together"]
      ] as const) {
        const run = yield* bank("balance", "t-1", ...args)
        expect(run.code, args.join(" ")).toBe(2)
        expect(run.stdout).toBe("")
        expect(run.stderr).toContain(message)
        expect(run.stderr).toContain("Usage:")
      }
    })
  )

  it.live("deposit --currency: EUR is the default and the only currency an account holds", () =>
    Effect.gen(function* () {
      const bank = bankOn("currency.db")
      yield* bank("open", "c-1", "--owner", "Cem")
      expect((yield* bank("deposit", "c-1", "100", "--currency", "EUR")).stdout).toBe(
        "Deposited 1.00 EUR into c-1. Balance: 1.00\n"
      )
      expect(yield* bank("deposit", "c-1", "100", "--currency", "USD")).toEqual({
        code: 1,
        stdout: "",
        stderr:
          "CurrencyMismatch: account c-1: cannot deposit USD: the account holds EUR, and the bank does no exchange\n"
      })
      const unknown = yield* bank("deposit", "c-1", "100", "--currency", "XYZ")
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain("Usage:")
      expect((yield* bank("balance", "c-1")).stdout).toBe("c-1 (Cem): balance 1.00, overdraft limit 0.00, 2 events\n")
    })
  )

  it.live("CQRS: accounts reads the caught-up read model, projections shows the lag, rebuild shows progress", () =>
    Effect.gen(function* () {
      const bank = bankOn("cqrs.db")
      yield* bank("open", "q-1", "--owner", "Quinn")
      yield* bank("deposit", "q-1", "5000")
      yield* bank("open", "q-2", "--owner", "Rosa", "--overdraft", "1000")
      yield* bank("withdraw", "q-2", "250")

      // Nothing has read the events yet: every projection lags.
      const before = yield* bank("projections")
      expect(before.code).toBe(0)
      expect(before.stdout).toMatch(/^balances\s+1\s+no\s+never run\s+-\s+4\s+0\s+-$/m)

      const accounts = yield* bank("accounts")
      expect(accounts).toEqual({
        code: 0,
        stderr: "",
        stdout: [
          "Read model balances v1: caught up 4 events (checkpoint 4).",
          "",
          "Account  Owner  Status  Balance  Overdraft limit  Events",
          "───────  ─────  ──────  ───────  ───────────────  ──────",
          "q-1      Quinn  open      50.00             0.00       2",
          "q-2      Rosa   open      -2.50            10.00       2",
          "",
          "2 accounts, total balance 47.50 EUR.",
          ""
        ].join("\n")
      })
      expect((yield* bank("projections")).stdout).toMatch(/^balances\s+1\s+yes\s+caught-up\s+4\s+0\s+0\s+-$/m)
      // A write leaves the read model behind until the next catch-up.
      yield* bank("deposit", "q-1", "100")
      expect((yield* bank("projections")).stdout).toMatch(/^balances\s+1\s+yes\s+stale\s+4\s+1\s+0\s+-$/m)
      expect((yield* bank("accounts")).stdout).toMatch(
        /caught up 1 event \(checkpoint 5\)[\s\S]*q-1\s+Quinn\s+open\s+51\.00/
      )

      const rebuilt = yield* bank("rebuild", "balances")
      expect(rebuilt.code).toBe(0)
      expect(rebuilt.stdout.split("\n")).toEqual([
        "balances v1 [....................]   0%  0 events, checkpoint 0, lag 5",
        "balances v1 [####################] 100%  5 events, checkpoint 5, lag 0",
        expect.stringMatching(
          /^Rebuilt balances v1 from the first event: 5 events in [\d.]+ m?s.*Checkpoint 5, lag 0: caught up\.$/
        ),
        ""
      ])
      expect((yield* bank("projections")).stdout).toMatch(/^balances\s+1\s+yes\s+caught-up\s+5\s+0\s+0\s+-$/m)

      const statement = yield* bank("statement", "q-1")
      expect(statement.stdout).toMatch(/^\s+3\s+\S+Z\s+MoneyDeposited\s+\+1\.00 EUR\s+51\.00$/m)
      expect((yield* bank("statement", "nobody")).code).toBe(1)
      expect((yield* bank("totals")).stdout).toMatch(/^\d{4}-\d\d-\d\d\s+51\.00\s+2\.50\s+\+48\.50\s+3$/m)
    })
  )

  it.live("rebuild: an unknown projection is invalid input; one another process runs is ProjectionBusy", () =>
    Effect.gen(function* () {
      const bank = bankOn("busy.db")
      const unknown = yield* bank("rebuild", "balance")
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain(
        'unknown projection "balance": the projections are balances, statements, daily-totals, transfers'
      )
      expect(unknown.stderr).toContain("Usage:")

      yield* bank("open", "b-1", "--owner", "Bo")
      yield* bank("accounts")
      // Another process holds the lease of balances v1.
      const key = { name: "balances", version: 1 }
      const held = Effect.flatMap(ProjectionStore.ProjectionStore, (store) =>
        Effect.acquireRelease(store.acquireLease(key, "another-process", Duration.minutes(1)), () =>
          Effect.orDie(store.releaseLease(key, "another-process"))
        )
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          expect(yield* held).toBe(true)
          expect(yield* bank("rebuild", "balances")).toEqual({
            code: 1,
            stdout: "",
            stderr: "ProjectionBusy: Projection balances v1 is being processed by another instance\n"
          })
        })
      ).pipe(Effect.provide(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "busy.db") })))
      expect((yield* bank("rebuild", "balances")).code).toBe(0)
    })
  )

  it.live(
    "owner names: the 200-character limit and control characters are invalid input (exit 2), nothing is written",
    () =>
      Effect.gen(function* () {
        const bank = bankOn("owners.db")
        for (const owner of [
          "x".repeat(201),
          "Eve\u001b[2J",
          "Bell\u0007",
          "two\nlines",
          "tab\there",
          "csi\u009b31m",
          "evil\u202etxt.exe",
          "isolate\u2066x",
          "line\u2028separator",
          " padded",
          ""
        ]) {
          const run = yield* bank("open", "o-1", "--owner", owner)
          expect(run.code, JSON.stringify(owner)).toBe(2)
          expect(run.stdout).toBe("")
          expect(run.stderr).toContain("Usage:")
          expect(run.stderr).not.toMatch(/Unexpected failure|ParseError|\n\s+at /)
          expect(printable(run.stderr)).toBe(true)
        }
        const tooLong = yield* bank("open", "o-1", "--owner", "x".repeat(201))
        expect(tooLong.stderr.split("\n")[0]).toBe("an owner name is at most 200 characters (got 201)")
        expect(tooLong.stderr).toContain("An owner name is 1 to 200 characters")
        expect((yield* bank("balance", "o-1")).code).toBe(1)
        // 200 characters, and names beyond ASCII, are fine
        expect((yield* bank("open", "o-1", "--owner", "y".repeat(200))).code).toBe(0)
        const accented = yield* bank("open", "o-2", "--owner", "Zoë Ångström-李 👩‍💻")
        expect(accented).toMatchObject({
          code: 0,
          stdout: "Opened account o-2 for Zoë Ångström-李 👩‍💻 (overdraft limit 0.00). Balance: 0.00\n"
        })
      })
  )

  it.live("--overdraft takes whole cents as digits only, like amounts", () =>
    Effect.gen(function* () {
      const bank = bankOn("overdraft.db")
      for (const overdraft of ["1e3", "0x10", "1.5", "-5", "+5", " 5", "１０"]) {
        const run = yield* bank("open", "d-1", "--owner", "Dee", "--overdraft", overdraft)
        expect(run.code, overdraft).toBe(2)
        expect(run.stderr).toContain("--overdraft must be zero or a positive whole number of cents")
      }
      expect((yield* bank("deposit", "d-1", "1e3")).code).toBe(2)
      expect((yield* bank("open", "d-1", "--owner", "Dee", "--overdraft", "1000")).stdout).toBe(
        "Opened account d-1 for Dee (overdraft limit 10.00). Balance: 0.00\n"
      )
    })
  )

  it.live("control characters already stored (an older release, another writer) are printed escaped", () =>
    Effect.gen(function* () {
      const bank = bankOn("escapes.db")
      const owner = "Eve\u001b[2J\u0007\u202eevil"
      yield* Effect.flatMap(EventStore.EventStore, (store) =>
        store.append(
          StreamId.forAggregate("Account", "e-1"),
          [
            {
              eventId: crypto.randomUUID(),
              type: "AccountOpened",
              schemaVersion: 1,
              data: { owner, overdraftLimit: 0 }
            }
          ],
          { metadata: { correlationId: "corr\u001b[31m", user: { note: "\u009b2J" } } }
        )
      ).pipe(Effect.provide(storesOf("escapes.db")))
      const runs = [
        yield* bank("balance", "e-1"),
        yield* bank("history", "e-1"),
        yield* bank("events", "e-1"),
        yield* bank("accounts"),
        yield* bank("statement", "e-1"),
        yield* bank("verify", "e-1"),
        yield* bank("open", "e-1", "--owner", "Eve")
      ]
      for (const run of runs) {
        expect(printable(run.stdout), run.stdout).toBe(true)
        expect(printable(run.stderr), run.stderr).toBe(true)
      }
      expect(runs[0]?.stdout).toBe("e-1 (Eve\\x1b[2J\\x07\\u{202e}evil): balance 0.00, overdraft limit 0.00, 1 event\n")
      expect(runs[1]?.stdout).toContain("corr\\x1b[31m")
      expect(runs[3]?.stdout).toMatch(/^e-1\s+Eve\\x1b\[2J\\x07\\u\{202e\}evil\s+open/m)
      expect(runs[6]).toMatchObject({ code: 1 })
      expect(runs[6]?.stderr).toContain(
        "AccountAlreadyOpen: account e-1: the account is already open (owner: Eve\\x1b[2J"
      )
    })
  )

  it.live("an unknown outcome exits 3 with the command to retry; the retry with that command id records it once", () =>
    Effect.gen(function* () {
      yield* bankOn("unknown.db")("open", "u-1", "--owner", "Uma")
      // A store that commits the append, then loses the answer.
      const losingAnswers: StoreLayer = (choice) =>
        Layer.provideMerge(
          Layer.effect(
            EventStore.EventStore,
            Effect.map(EventStore.EventStore, (inner) =>
              EventStore.EventStore.of({
                ...inner,
                append: (streamId, events, options) =>
                  Effect.zipRight(
                    inner.append(streamId, events, options),
                    new AppendError.UnknownOutcomeError({
                      operation: "append",
                      streamId,
                      reason: "the connection was lost after the append was sent",
                      cause: null
                    })
                  )
              })
            )
          ),
          BankStore.layer(choice)
        )
      const lost = yield* bankOn("unknown.db", losingAnswers)("deposit", "u-1", "2500")
      expect(lost.code).toBe(BankCli.ExitCode.unknownOutcome)
      expect(lost.stdout).toBe("")
      const [first, second, retry, ...rest] = lost.stderr.split("\n")
      expect(first).toBe(
        "UnknownOutcome: account u-1: the command may or may not have been recorded (the connection was lost after the append was sent)."
      )
      expect(second).toBe(
        'Check with "pnpm bank history u-1", or retry with the same command id, which records it at most once:'
      )
      expect(retry).toMatch(/^ {2}pnpm bank deposit u-1 2500 --command-id [0-9a-f-]{36}$/)
      expect(rest).toEqual([""])
      const args = (retry ?? "").trim().split(" ").slice(2)
      const again = yield* bankOn("unknown.db")(...args)
      expect(again.code).toBe(0)
      expect(again.stdout).toMatch(
        /^Already done: command id [0-9a-f-]{36} was executed before; nothing new was written\.\nDeposited 25\.00 EUR into u-1\. Balance: 25\.00\n$/
      )
      expect((yield* bankOn("unknown.db")("balance", "u-1")).stdout).toBe(
        "u-1 (Uma): balance 25.00, overdraft limit 0.00, 2 events\n"
      )
      // A given command id is the one printed; an owner with spaces is quoted for the shell.
      const opened = yield* bankOn("unknown.db", losingAnswers)(
        "open",
        "u-2",
        "--owner",
        "Ann O'Neil",
        "--overdraft",
        "500",
        "--command-id",
        "signup-7"
      )
      expect(opened.code).toBe(3)
      expect(opened.stderr).toContain(
        "  pnpm bank open u-2 --owner 'Ann O'\"'\"'Neil' --overdraft 500 --command-id signup-7\n"
      )
      const usd = yield* bankOn("unknown.db", losingAnswers)(
        "deposit",
        "u-1",
        "100",
        "--currency",
        "EUR",
        "--command-id",
        "d.1"
      )
      expect(usd.stderr).toContain("  pnpm bank deposit u-1 100 --command-id d.1\n")
    })
  )

  it.live("interrupted while the store has not answered: prints the command to retry with its command id", () =>
    Effect.gen(function* () {
      yield* bankOn("interrupted.db")("open", "i-1", "--owner", "Ivo")
      const sent = yield* Deferred.make<void>()
      // A store that commits the append and then never answers.
      const hanging: StoreLayer = (choice) =>
        Layer.provideMerge(
          Layer.effect(
            EventStore.EventStore,
            Effect.map(EventStore.EventStore, (inner) =>
              EventStore.EventStore.of({
                ...inner,
                append: (streamId, events, options) =>
                  inner
                    .append(streamId, events, options)
                    .pipe(Effect.zipRight(Deferred.succeed(sent, undefined)), Effect.zipRight(Effect.never))
              })
            )
          ),
          BankStore.layer(choice)
        )
      const out: Array<string> = []
      const err: Array<string> = []
      const fiber = yield* BankCli.main(["node", "bank", "deposit", "i-1", "1", "--command-id", "d-77"]).pipe(
        Effect.provideService(Output.Output, Cli.capturing(out, err)),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["BANK_DB", join(dir, "interrupted.db")]]))),
        Effect.provideService(BankCli.StoreLayer, hanging),
        Effect.provide(NodeContext.layer),
        Effect.fork
      )
      yield* Deferred.await(sent)
      yield* Fiber.interrupt(fiber)
      expect(out).toEqual([])
      expect(err.join("")).toBe(
        [
          "UnknownOutcome: account i-1: the command may or may not have been recorded (interrupted before the store answered).",
          'Check with "pnpm bank history i-1", or retry with the same command id, which records it at most once:',
          "  pnpm bank deposit i-1 1 --command-id d-77",
          ""
        ].join("\n")
      )
    })
  )

  it.live("--command-id: the same id records a command once; a malformed id is invalid input", () =>
    Effect.gen(function* () {
      const bank = bankOn("command-ids.db")
      yield* bank("open", "k-1", "--owner", "Kai", "--command-id", "open-k-1")
      expect((yield* bank("open", "k-1", "--owner", "Kai", "--command-id", "open-k-1")).code).toBe(0)
      expect((yield* bank("withdraw", "k-1", "1", "--command-id", "w-1")).code).toBe(1)
      expect((yield* bank("deposit", "k-1", "700", "--command-id", "dep-1")).code).toBe(0)
      expect((yield* bank("deposit", "k-1", "700", "--command-id", "dep-1")).code).toBe(0)
      expect((yield* bank("balance", "k-1")).stdout).toBe("k-1 (Kai): balance 7.00, overdraft limit 0.00, 2 events\n")
      for (const id of ["", "-x", "has space", "x".repeat(129), "a\u001bb"]) {
        const run = yield* bank("deposit", "k-1", "700", "--command-id", id)
        expect(run.code, JSON.stringify(id)).toBe(2)
        expect(run.stderr).toContain("--command-id must be 1 to 128 letters")
        expect(printable(run.stderr)).toBe(true)
      }
    })
  )

  it.live("queries read a read model another process is updating as it is, with its lag, instead of failing", () =>
    Effect.gen(function* () {
      const bank = bankOn("service.db")
      yield* bank("open", "s-1", "--owner", "Sam")
      yield* bank("deposit", "s-1", "1000")
      expect((yield* bank("accounts")).stdout).toContain("caught up 2 events")
      yield* bank("statement", "s-1")
      yield* bank("totals")
      yield* bank("deposit", "s-1", "500")
      // Projections running as a service in another process hold every lease.
      const owner = "projection-service"
      const held = Effect.flatMap(ProjectionStore.ProjectionStore, (store) =>
        Effect.forEach([Projections.Balances, Projections.Statements, Projections.DailyTotals], (p) =>
          Effect.acquireRelease(store.acquireLease(p, owner, Duration.minutes(1)), () =>
            Effect.orDie(store.releaseLease(p, owner))
          )
        )
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          expect(yield* held).toEqual([true, true, true])
          const accounts = yield* bank("accounts")
          expect(accounts.code).toBe(0)
          expect(accounts.stderr).toBe("")
          expect(accounts.stdout).toMatch(
            /^Read model balances v1: being updated by another process; read as it is \(checkpoint 2, lag 1 event\)\.$/m
          )
          expect(accounts.stdout).toMatch(/^s-1\s+Sam\s+open\s+10\.00/m)
          const statement = yield* bank("statement", "s-1")
          expect(statement).toMatchObject({ code: 0, stderr: "" })
          expect(statement.stdout).toMatch(/^Read model statements v2: being updated by another process; read as it is/)
          const totals = yield* bank("totals")
          expect(totals).toMatchObject({ code: 0, stderr: "" })
          expect(totals.stdout).toMatch(/^Read model daily-totals v1: being updated by another process; read as it is/)
          // a rebuild still needs the lease
          expect((yield* bank("rebuild", "balances")).code).toBe(1)
        })
      ).pipe(Effect.provide(storesOf("service.db")))
      // Once the lease is free, a query catches up again.
      expect((yield* bank("accounts")).stdout).toMatch(/caught up 1 event[\s\S]*s-1\s+Sam\s+open\s+15\.00/)
    })
  )

  it.live(
    "verify: consistent after commands and snapshots; a tampered snapshot is found (exit 1), a moved one ignored",
    () =>
      Effect.gen(function* () {
        const bank = bankOn("verify.db")
        yield* bank("open", "v-1", "--owner", "Vic")
        for (let i = 0; i < 6; i++) yield* bank("deposit", "v-1", "2500") // a snapshot at version 5
        const healthy = yield* bank("verify", "v-1")
        expect(healthy).toMatchObject({ code: 0, stderr: "" })
        expect(healthy.stdout).toMatch(
          /^Account v-1 \(stream Account-v-1\): 7 events, the last at version 7; the store reports version 7\.$/m
        )
        expect(healthy.stdout).toMatch(/^\s+5\s+\d+\s+1\s+matches$/m)
        expect(healthy.stdout).toContain("Consistent: the events, the stream's version and every snapshot agree.")

        // Someone edits the snapshot's balance: loads trust it (a cache), verify finds it.
        const sql = (statement: string) =>
          Effect.flatMap(SqlClient.SqlClient, (client) => client.unsafe(statement)).pipe(
            Effect.provide(storesOf("verify.db"))
          )
        yield* sql(
          `UPDATE chronicle_snapshots SET state = '{"_tag":"Open","owner":"Vic","overdraftLimit":0,"balance":50000000}' WHERE stream_id = 'Account-v-1'`
        )
        const tampered = yield* bank("verify", "v-1")
        expect(tampered.code).toBe(1)
        expect(tampered.stdout).toMatch(/^\s+5\s+\d+\s+1\s+mismatch\s+its state differs from the fold of the events$/m)
        expect(tampered.stdout).toContain("  snapshot 5: balance is 10000 in the events, 50000000 in the snapshot")
        expect(tampered.stdout).toContain("Inconsistent: 1 issue found:")
        expect(tampered.stderr).toBe("Inconsistent: account v-1: 1 issue found (see the report above)\n")

        // A snapshot row moved to a version past the end: ignored by loads, reported by verify.
        yield* sql(`UPDATE chronicle_snapshots SET version = 9 WHERE stream_id = 'Account-v-1'`)
        expect(yield* bank("balance", "v-1")).toEqual({
          code: 0,
          stdout: "v-1 (Vic): balance 150.00, overdraft limit 0.00, 7 events\n",
          stderr: "warning: ignoring snapshot of Account-v-1@9: the stream has fewer than 9 events\n"
        })
        const moved = yield* bank("verify", "v-1")
        expect(moved.code).toBe(1)
        expect(moved.stdout).toContain(
          "the snapshot at version 9 does not match: the stream has no event at version 9 (7 events)"
        )
        expect((yield* bank("verify", "nobody")).stderr).toBe(
          "AccountNotOpen: account nobody: no account has been opened with this id\n"
        )
      })
  )

  it.live("--wizard without a terminal is invalid input, at once", () =>
    Effect.gen(function* () {
      const run = yield* bankOn("wizard.db")("--wizard")
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(/^--wizard is interactive: it needs a terminal on standard input/)
    })
  )

  it.live("queries and projections say when the feed is held back, instead of claiming all is current", () =>
    Effect.gen(function* () {
      yield* bankOn("held.db")("open", "h-1", "--owner", "Hana")
      // A store whose feed reports a transaction open elsewhere (as on PostgreSQL).
      const heldBack: FeedStatus.FeedStatus = {
        hiddenEvents: 2,
        heldBackSince: Option.none(),
        heldBackFor: Duration.seconds(40),
        blocker: Option.some({
          processId: Option.some(4242),
          database: Option.some("reports"),
          applicationName: "psql",
          state: "idle in transaction",
          openFor: Duration.seconds(41)
        })
      }
      const holding: StoreLayer = (choice) =>
        Layer.provideMerge(
          Layer.effect(
            EventStore.EventStore,
            Effect.map(EventStore.EventStore, (inner) =>
              EventStore.EventStore.of({ ...inner, feedStatus: Effect.succeed(heldBack) })
            )
          ),
          BankStore.layer(choice)
        )
      const warning =
        'Warning: the feed is held back: 2 committed events are not readable yet (for 40 s), by a transaction open for 41 s (process 4242 in database "reports", application "psql", idle in transaction). Read models and lags do not include them yet.'
      const accounts = yield* bankOn("held.db", holding)("accounts")
      expect(accounts.code).toBe(0)
      expect(accounts.stdout.split("\n").slice(0, 2)).toEqual([
        "Read model balances v1: caught up 1 event (checkpoint 1).",
        warning
      ])
      const projections = yield* bankOn("held.db", holding)("projections")
      expect(projections.code).toBe(0)
      expect(projections.stdout).toContain(`\n\n${warning}\n\n`)
      // A current feed adds nothing.
      const current = yield* bankOn("held.db")("accounts")
      expect(current.stdout).not.toContain("Warning")
      expect((yield* bankOn("held.db")("projections")).stdout).not.toContain("held back")
    })
  )
})
