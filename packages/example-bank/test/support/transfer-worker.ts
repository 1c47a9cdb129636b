/**
 * One OS process running the bank's Transfer saga durably, for the crash and
 * failover tests: `tsx transfer-worker.ts <store> <mode> <port>`, where the
 * store is a SQLite file or a PostgreSQL URL, the mode `single` or `socket`,
 * and the port this runner's (its address is `worker:<port>`; in `socket`
 * mode it listens there on 127.0.0.1).
 *
 * `CRASH` makes it kill itself (SIGKILL) at a chosen point of a transfer:
 * `deposit:<transferId>` just before the deposit step writes (its
 * withdrawal done), `journal:<transferId>` just before the journal records
 * the withdrawal's completion (the engine has recorded it), `refund:<transferId>`
 * just after the refund (a compensation) was written. With `CRASH_MARKER`, only the first process to
 * get there crashes (it creates the file). It prints "ready" once the saga
 * runs, and exits when its stdin closes.
 */
import { existsSync, writeFileSync } from "node:fs"
import { EventStore } from "@chronicle/core"
import { Context, Effect, Layer, Redacted } from "effect"
import { BankStore, TransferSaga } from "../../src/index.js"

const [store = "", mode = "single", port = "1"] = process.argv.slice(2)
const [crashAt, crashId] = (process.env.CRASH ?? "").split(":")
const marker = process.env.CRASH_MARKER

const crash = (what: string) => {
  if (marker !== undefined) {
    if (existsSync(marker)) return
    writeFileSync(marker, `${process.pid}\n`)
  }
  process.stdout.write(`crashing at ${what}\n`)
  process.kill(process.pid, "SIGKILL")
}

const choice: BankStore.StoreChoice = store.startsWith("postgres")
  ? { _tag: "Postgres", url: Redacted.make(store) }
  : { _tag: "Sqlite", filename: store }

/** The bank's stores, with an event store that crashes the process where `CRASH` says. */
const stores = Layer.effectContext(
  Effect.gen(function* () {
    const context = yield* Effect.context<BankStore.Stores>()
    const inner = Context.get(context, EventStore.EventStore)
    const crashing = EventStore.EventStore.of({
      ...inner,
      append: (streamId, events, options) => {
        const user = options?.metadata?.user ?? {}
        const mine = user.sagaInstance === crashId
        if (mine && crashAt === "deposit" && user.sagaStep === "deposit" && user.sagaCompensation !== true) {
          crash(`deposit of ${crashId}`)
        }
        const journalsWithdrawal =
          streamId.startsWith("saga:") &&
          streamId.endsWith(`-${crashId}`) &&
          events.some(
            (e) =>
              e.type === "SagaStepCompleted" &&
              typeof e.data === "object" &&
              e.data !== null &&
              "step" in e.data &&
              e.data.step === "withdraw"
          )
        if (crashAt === "journal" && journalsWithdrawal) crash(`journal of ${crashId}`)
        return Effect.tap(inner.append(streamId, events, options), () =>
          mine && crashAt === "refund" && user.sagaCompensation === true
            ? Effect.sync(() => crash(`refund of ${crashId}`))
            : Effect.void
        )
      }
    })
    return Context.add(context, EventStore.EventStore, crashing)
  })
).pipe(Layer.provide(BankStore.layer(choice)))

const saga = TransferSaga.layer(
  { approvalAbove: 1_000_000_000, approvalDeadline: "1 hour" },
  {
    mode: mode === "socket" ? "socket" : "single",
    address: { host: mode === "socket" ? "127.0.0.1" : "worker", port: Number(port) },
    lockExpiration: "3 seconds"
  }
)

const main = Effect.gen(function* () {
  yield* Layer.build(saga)
  process.stdout.write("ready\n")
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(stores))

process.stdin.on("end", () => process.exit(0))
process.stdin.resume()

Effect.runPromise(main).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
