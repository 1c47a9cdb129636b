/**
 * The saga benchmarks, on PostgreSQL, in a database of their own (the
 * workflow engine's shard locks are per database):
 *
 * - SG1, saga overhead: `sagas` (default 1,000) three-step sagas through
 *   Chronicle's durable mode (`DurableSaga` over `SqlWorkflowEngine`,
 *   started by trigger events through the saga's consumer, with its
 *   journal), against the same three activities written directly on
 *   `@effect/workflow` (started with `execute`), on one engine, in the same
 *   run, alternating which goes first. Each step is a `Repository` command
 *   on the benchmark's account aggregate; a side is done when its last step
 *   ran for every saga. Target: Chronicle's throughput ≥ 0.8 of the bare
 *   engine's. Chronicle's side includes appending the triggers (one event
 *   per append, 20 appends at a time) and everything the saga does on top
 *   of the engine (the consumer, its checkpoints, the journal); the bare
 *   side starts its 1,000 workflows itself, 20 `execute` calls at a time.
 *   Each pass also prints its CPU per saga: this process's, and that of the
 *   PostgreSQL backends of the benchmark's pool (`PgCpu.ts`; the sides run
 *   one after the other on the same pool).
 * - SG2, reaction latency: from a trigger event's commit to the start of
 *   its saga's first step, one saga at a time (`samples`, default 200),
 *   with LISTEN/NOTIFY wake-ups: p50 and p99. Target: p50 ≤ 50 ms.
 *
 * `run.ts` runs it with `--only SG`; alone: `tsx --conditions=@chronicle/source
 * packages/sql-store/bench/Sagas.ts [--sagas N] [--samples N] [--runs N]
 * [--warm-up N]`. Before the first run, each side runs an untimed warm-up
 * pass of 200 sagas (`--warm-up N`; `BENCH_SAGA_WARM_UP` through `run.ts`).
 * The database is dropped at the end, and on Ctrl-C or SIGTERM (`Interrupt.ts`).
 */
import { Correlation, EventStore, Repository, Saga, StreamId } from "@chronicle/core"
import * as DurableSaga from "@chronicle/core/DurableSaga"
import { SqlEventStore, SqlProjectionStore } from "@chronicle/sql-store"
import * as SqlWorkflowEngine from "@chronicle/sql-store/SqlWorkflowEngine"
import * as SqlClient from "@effect/sql/SqlClient"
import { PgClient } from "@effect/sql-pg"
import { Activity, Workflow } from "@effect/workflow"
import { Effect, Layer, ManagedRuntime, Redacted, Schedule, Schema } from "effect"
import pg from "pg"
import * as Domain from "./Domain.js"
import * as Interrupt from "./Interrupt.js"
import { type Measurement, rate, startClock, summarize, withProbe } from "./Measure.js"
import * as PgCpu from "./PgCpu.js"

class Triggered extends Schema.TaggedClass<Triggered>()("SagaBenchTriggered", {
  key: Schema.String
}) {}

const deposit = (account: string, commandId: string) =>
  Effect.flatMap(Repository.make(Domain.Account), (accounts) =>
    accounts.execute(account, new Domain.Deposit({ amount: 1, reference: "saga-bench" }), { commandId })
  )

/** The three steps: a deposit on each of three accounts of the saga. */
const accountsOf = (key: string) => [`sg-${key}-a`, `sg-${key}-b`, `sg-${key}-c`] as const

/** Chronicle's saga: the three deposits as steps. */
const ChronicleSaga = Saga.make({
  name: "SagaBench",
  trigger: Triggered,
  categories: ["SagaBench"],
  id: (event) => event.key,
  run: (event) =>
    Effect.forEach(
      accountsOf(event.key),
      (account, i) => Saga.step(`step${i + 1}`, { run: (step) => deposit(account, step.commandId) }),
      { discard: true }
    )
})

/** The same three deposits as activities, directly on @effect/workflow. */
const BareWorkflow = Workflow.make({
  name: "BareSagaBench",
  payload: { key: Schema.String },
  idempotencyKey: (payload) => payload.key
})

const BareLayer = BareWorkflow.toLayer((payload) =>
  Effect.forEach(
    accountsOf(payload.key),
    (account, i) =>
      Activity.make({
        name: `step${i + 1}`,
        execute: Effect.orDie(
          deposit(account, Correlation.deterministicId("BareSagaBench", payload.key, `step${i + 1}`))
        )
      }),
    { discard: true }
  )
)

/** SG2's saga: its first step notes when it started. */
const started = new Map<string, number>()
const LatencySaga = Saga.make({
  name: "SagaLatency",
  trigger: Triggered,
  categories: ["SagaLatency"],
  id: (event) => event.key,
  run: (event) =>
    Saga.step("first", {
      run: (step) =>
        Effect.zipRight(
          Effect.sync(() => started.set(event.key, performance.now())),
          deposit(`lat-${event.key}`, step.commandId)
        )
    })
})

const trigger = (category: string, key: string) =>
  EventStore.append(StreamId.StreamId.make(`${category}-${key}`), [
    { eventId: crypto.randomUUID(), type: "SagaBenchTriggered", schemaVersion: 1, data: { key } }
  ])

/** How many third steps ran among `keys` (a deposit on each saga's account `c`). */
const done = (prefix: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{
        readonly n: string | number
      }>`SELECT count(*) AS n FROM chr_streams WHERE stream_id LIKE ${`Acct-sg-${prefix}-%-c`}`,
      (rows) => Number(rows[0]?.n ?? 0)
    )
  )

const untilDone = (prefix: string, n: number) =>
  done(prefix).pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (count) => count >= n }),
    Effect.timeout("10 minutes")
  )

/** The keys `<prefix>-0` … `<prefix>-(n-1)`: `done(prefix)` counts their sagas. */
const keysOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

/** Chronicle's side of a pass: `n` trigger events, 20 appends at a time, then until every saga's last step ran. */
const chronicleSagas = (prefix: string, n: number) =>
  Effect.zipRight(
    Effect.forEach(keysOf(prefix, n), (key) => trigger("SagaBench", key), { concurrency: 20, discard: true }),
    untilDone(prefix, n)
  )

/** The bare engine's side: `n` workflows started with `execute`, 20 at a time, then until every last step ran. */
const bareSagas = (prefix: string, n: number) =>
  Effect.zipRight(
    Effect.forEach(keysOf(prefix, n), (key) => BareWorkflow.execute({ key }, { discard: true }), {
      concurrency: 20,
      discard: true
    }),
    untilDone(prefix, n)
  )

const cpu = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

const timed = <E, R>(ops: number, effect: Effect.Effect<unknown, E, R>) =>
  Effect.suspend(() => {
    const stop = startClock()
    return Effect.map(effect, (): Measurement => ({ ops, ...stop() }))
  })

export interface Options {
  readonly databaseUrl: string
  readonly runs: number
  /** SG1: sagas per side per run. */
  readonly sagas: number
  /** SG2: sagas measured one at a time. */
  readonly samples: number
  /**
   * SG1: sagas per side in an untimed warm-up pass before the first run (0:
   * none). Without it, the first run paid for compiling the saga path, more
   * on Chronicle's side (more code) than on the bare engine's.
   */
  readonly warmUp: number
}

/** Client and PostgreSQL CPU per saga of a pass, in milliseconds. */
const perSaga = (m: Measurement): string =>
  `${(m.cpuMillis / m.ops).toFixed(2)} + ${m.pgCpuMillis === undefined ? "?" : (m.pgCpuMillis / m.ops).toFixed(2)} ms` +
  (m.otherCpuMillis === undefined ? "" : ` (other ${(m.otherCpuMillis / m.ops).toFixed(2)})`)

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

/** Runs SG1 and SG2 and prints their results (lines for the bench's table). */
export const run = async (options: Options): Promise<ReadonlyArray<string>> => {
  const name = `chronicle_sagabench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
  // Interrupted (Ctrl-C, SIGTERM): the database is dropped, its connections with it (Interrupt.ts).
  const unregister = Interrupt.undo({
    done: `dropped database ${name}`,
    left: `database ${name} (DROP DATABASE "${name}" WITH (FORCE))`,
    run: () => dropDatabase(options.databaseUrl, name)
  })
  const admin = new pg.Client({ connectionString: options.databaseUrl })
  await admin.connect()
  Interrupt.check()
  await admin.query(`CREATE DATABASE "${name}"`)
  const url = new URL(options.databaseUrl)
  url.pathname = `/${name}`
  // every connection of the benchmark's pool (both sides run in turn on it): its PostgreSQL CPU is read per pass
  const applicationName = `${name}-pool`
  const probe = PgCpu.makeProbe(admin, applicationName)
  const stores = Layer.mergeAll(
    SqlEventStore.layer({ tablePrefix: "chr_" }),
    SqlProjectionStore.layer({ tablePrefix: "chr_", migrate: false }),
    SqlWorkflowEngine.layer({ tablePrefix: "chr_" })
  ).pipe(
    Layer.provideMerge(PgClient.layer({ url: Redacted.make(url.toString()), maxConnections: 20, applicationName }))
  )
  const app = Layer.mergeAll(
    DurableSaga.layer(ChronicleSaga, { pollInterval: "100 millis" }),
    DurableSaga.layer(LatencySaga, { pollInterval: "100 millis" }),
    BareLayer
  ).pipe(Layer.provideMerge(stores))
  const runtime = ManagedRuntime.make(app)
  const lines: Array<string> = []
  try {
    const pairs: Array<{ chronicle: Measurement; bare: Measurement }> = []
    if (options.warmUp > 0) {
      // The same untimed pass on each side, as the timed ones start their sagas.
      await runtime.runPromise(chronicleSagas("cw", options.warmUp))
      await runtime.runPromise(bareSagas("bw", options.warmUp))
      console.log(`SG1 warm-up: ${options.warmUp} sagas per side, untimed`)
    }
    for (let r = 1; r <= options.runs; r++) {
      const chronicle = timed(options.sagas, chronicleSagas(`c${r}`, options.sagas))
      const bare = timed(options.sagas, bareSagas(`b${r}`, options.sagas))
      const chronicleFirst = r % 2 === 1
      const pass = async <E>(
        effect: Effect.Effect<Measurement, E, ManagedRuntime.ManagedRuntime.Context<typeof runtime>>
      ): Promise<Measurement> => {
        await probe.refresh()
        const measured = await withProbe(probe, () => runtime.runPromise(effect))
        return PgCpu.complete(measured, await probe.result())
      }
      const first = await pass(chronicleFirst ? chronicle : bare)
      const second = await pass(chronicleFirst ? bare : chronicle)
      const pair = chronicleFirst ? { chronicle: first, bare: second } : { chronicle: second, bare: first }
      pairs.push(pair)
      console.log(
        `[run ${r}/${options.runs}] SG1 ${options.sagas} three-step sagas: chronicle ${rate(pair.chronicle).toFixed(1)}/s | bare @effect/workflow ${rate(pair.bare).toFixed(1)}/s | ratio ${(rate(pair.chronicle) / rate(pair.bare)).toFixed(3)}`
      )
      console.log(
        `[run ${r}/${options.runs}] SG1 CPU per saga (client + PG backends): chronicle ${perSaga(pair.chronicle)} | bare ${perSaga(pair.bare)}`
      )
    }
    const ratio = summarize(pairs.map((p) => rate(p.chronicle) / rate(p.bare)))
    const throughput = (side: "chronicle" | "bare") => summarize(pairs.map((p) => rate(p[side])))
    lines.push(
      `| SG1 ${options.sagas} three-step durable sagas | sagas/s | ${throughput("chronicle").median.toFixed(1)} | @effect/workflow: ${throughput("bare").median.toFixed(1)} | ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ≥ 0.8 | ${ratio.median >= 0.8 ? "PASS" : "**MISS**"} |`
    )

    // SG2: one at a time, from the trigger's commit to the first step's start
    const latencies: Array<number> = []
    const cpuBefore = cpu()
    for (let i = 0; i < options.samples; i++) {
      const key = `l${i}`
      const committed = await runtime.runPromise(Effect.map(trigger("SagaLatency", key), () => performance.now()))
      await runtime.runPromise(
        Effect.sync(() => started.get(key)).pipe(
          Effect.repeat({ schedule: Schedule.spaced("1 millis"), until: (at) => at !== undefined }),
          Effect.timeout("30 seconds")
        )
      )
      latencies.push((started.get(key) ?? Number.NaN) - committed)
    }
    const sorted = [...latencies].sort((a, b) => a - b)
    const p50 = percentile(sorted, 50)
    const p99 = percentile(sorted, 99)
    console.log(
      `SG2 reaction latency over ${options.samples} sagas: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (cpu ${((cpu() - cpuBefore) / options.samples).toFixed(2)} ms/saga)`
    )
    lines.push(
      `| SG2 trigger commit → first step start | ms | p50 ${p50.toFixed(1)}, p99 ${p99.toFixed(1)} | — | — | p50 ≤ 50 | ${p50 <= 50 ? "PASS" : "**MISS**"} |`
    )
  } finally {
    await runtime.dispose().catch(() => undefined)
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined)
    await admin.end().catch(() => undefined)
    if (!Interrupt.interrupted()) unregister()
  }
  for (const line of lines) console.log(line)
  return lines
}

/** One attempt at dropping the saga database of an interrupted run (`Interrupt.ts` retries it). */
const dropDatabase = async (databaseUrl: string, name: string): Promise<void> => {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 })
  client.on("error", () => undefined)
  await client.connect()
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  } finally {
    await client.end().catch(() => undefined)
  }
}

const flag = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`)
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback
  return Number.isInteger(value) && value > 0 ? value : fallback
}

if (process.argv[1]?.endsWith("Sagas.ts") === true) {
  Interrupt.install("bench SG")
  run({
    databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    runs: flag("runs", 3),
    sagas: flag("sagas", 1000),
    samples: flag("samples", 200),
    warmUp: process.argv.includes("--warm-up") ? flag("warm-up", 0) : 200
  }).catch((error: unknown) => {
    if (Interrupt.interrupted()) return
    console.error("saga bench failed:", error)
    process.exitCode = 1
  })
}
