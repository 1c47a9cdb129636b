/**
 * A program as an app outside this repository writes it: it imports only
 * the published entry points, defines an aggregate, appends on SQLite,
 * projects the events into a SQL read model and prints one line that
 * `run.sh` asserts. `run.sh` packs the packages, installs the tarballs with
 * npm into a temporary folder (with no PostgreSQL driver), compiles this file
 * with `tsc` (NodeNext, and again with Bundler resolution) and runs it with
 * plain `node`. In the workspace, `pnpm typecheck` compiles it on source.
 */
import { Aggregate, Projection, ProjectionAdmin, Repository } from "@chronicle/core"
import * as StreamId from "@chronicle/core/StreamId"
import { SqlEventStore, SqlProjectionStore } from "@chronicle/sql-store"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Schema, Stream } from "effect"

class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.NonEmptyTrimmedString }) {}
class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
const WalletEvent = Schema.Union(Opened, Deposited)

class Open extends Schema.TaggedClass<Open>()("Open", { owner: Schema.NonEmptyTrimmedString }) {}
class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { amount: Schema.Int.pipe(Schema.positive()) }) {}

class NotOpen extends Schema.TaggedError<NotOpen>()("NotOpen", {}) {}

interface WalletState {
  readonly open: boolean
  readonly balance: number
}
const closed: WalletState = { open: false, balance: 0 }

const Wallet = Aggregate.make({
  name: "Wallet",
  events: WalletEvent,
  commands: Schema.Union(Open, Deposit),
  initialState: closed,
  evolve: (state: WalletState, event): WalletState =>
    event._tag === "Opened" ? { open: true, balance: 0 } : { ...state, balance: state.balance + event.amount },
  decide: (command, state) => {
    if (command._tag === "Open") return Effect.succeed(new Opened({ owner: command.owner }))
    if (!state.open) return Effect.fail(new NotOpen())
    return Effect.succeed(new Deposited({ amount: command.amount }))
  }
})

const Balances = Projection.make({
  name: "balances",
  events: WalletEvent,
  categories: ["Wallet"],
  setup: () =>
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql`CREATE TABLE IF NOT EXISTS balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`
    ),
  handle: (recorded) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => {
      const amount = recorded.event._tag === "Deposited" ? recorded.event.amount : 0
      return sql`INSERT INTO balances (id, balance) VALUES (${recorded.streamId}, ${amount})
        ON CONFLICT (id) DO UPDATE SET balance = balances.balance + ${amount}`
    })
})

const Row = Schema.Struct({ id: Schema.String, balance: Schema.Number })

const program = Effect.gen(function* () {
  const wallets = yield* Repository.make(Wallet)
  yield* wallets.execute("w-1", new Open({ owner: "Ada" }))
  yield* wallets.execute("w-1", new Deposit({ amount: 500 }))
  yield* wallets.execute("w-1", new Deposit({ amount: 250 }))
  yield* wallets.execute("w-2", new Open({ owner: "Grace" }))
  const refused = yield* Effect.flip(wallets.execute("w-3", new Deposit({ amount: 1 })))
  const { state, version } = yield* wallets.load("w-1")

  yield* Stream.runDrain(ProjectionAdmin.catchUp(Balances))
  const sql = yield* SqlClient.SqlClient
  const rows = yield* Schema.decodeUnknown(Schema.Array(Row))(yield* sql`SELECT id, balance FROM balances ORDER BY id`)

  return {
    category: StreamId.category(Aggregate.streamId(Wallet, "w-1")),
    version,
    balance: state.balance,
    refused: refused._tag,
    readModel: rows.map((row) => `${row.id}=${row.balance}`)
  }
})

const Stores = Layer.mergeAll(SqlEventStore.layer(), SqlProjectionStore.layer()).pipe(
  Layer.provideMerge(SqliteClient.layer({ filename: ":memory:" }))
)

Effect.runPromise(program.pipe(Effect.provide(Stores))).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exitCode = 1
  }
)
