/**
 * `pnpm bench`: Chronicle against a raw `pg` baseline on PostgreSQL
 * (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
 *
 * Both sides live in one fresh schema (dropped at the end), in tables made by
 * the same migrations (`chr_` and `raw_` prefixes, and one prefix per side
 * and size for the seeded stores of W6 and W7). Every run executes each
 * workload on both sides back to back, alternating which side goes first, so
 * that machine noise and table growth hit both alike. The report starts with
 * the commit and the environment (with a speed probe of the machine,
 * `MachineProbe.ts`), and gives for each workload the median,
 * min and max over runs of each side's throughput and of the paired per-run
 * ratio Chronicle/raw, and per operation the client CPU (this process) and
 * the PostgreSQL CPU (the side's backends, see `PgCpu.ts`). A missed target
 * prints MISS; the exit code is non-zero only on a real error (including a
 * lost write in W5 or a wrong read model in P1 or W7).
 *
 * Before the timed passes the run settles its set-up's writes: `VACUUM
 * ANALYZE` of its own schema's tables (nothing else of the database, which
 * may be shared), then `CHECKPOINT`.
 *
 * Ctrl-C (SIGINT) or SIGTERM (`Interrupt.ts`): the run stops its child
 * processes (W8's; with `--isolate`, the running group's process, told over
 * IPC, which drops its own schema), ends its connections, drops its schema
 * (and SG's database), prints one line saying what it cleaned up (and what
 * it could not: with the statement to drop it by hand) and exits with 130
 * (143 for SIGTERM), within seconds; a second Ctrl-C exits at once.
 * `pnpm bench` runs this file with `node --import tsx`, not the tsx CLI
 * (which SIGKILLs a child that does not acknowledge a signal within 30 ms).
 *
 * Options (arguments or environment):
 * - `--runs N` / `BENCH_RUNS` (default 3);
 * - `--only W1,W4,S1` / `BENCH_ONLY` (default: every workload: W1–W8, S1, P1, SG);
 * - `--loads N` / `BENCH_LOADS`: rehydrations per run in W4 (default 3);
 * - `--w6-size N`: events stored before W6's second measurement (default
 *   2,000,000; the first is at 10,000); `--w6-appends N` per pass (default 5,000);
 * - `--w7-size N`: events of W7's large store (default 1,000,000, a multiple
 *   of 1,000; the small store holds a tenth);
 * - `--w8-events N`: length of W8's stream (default 200,000);
 * - `--side chronicle|raw`: run one side only (for profiling, e.g. with
 *   `node --cpu-prof --import tsx packages/sql-store/bench/run.ts`); ratios
 *   are then not computed;
 * - `--tracer off`: run Chronicle with Effect's tracer disabled;
 * - `--cache on`: give W1, W2 and W5's repositories Repository's state cache
 *   with a capacity of 10,000 streams (default: the library's default);
 * - `--json FILE`: also write the results (environment, every pass) as JSON;
 * - `--compare A.json B.json`: print two results files side by side
 *   (A before, B after) and exit, without touching the database;
 * - `--collect on`: a full GC (and 100 ms) before each side's pass
 *   (diagnosis only: it makes the passes costlier, see BENCHMARKS.md);
 * - `--gc`: report each pass's GC pauses, heap at its start and the CPU of
 *   the process's helper threads;
 * - `--setup W6,W7,…`: also run these workloads' set-up (seeding, warm-ups)
 *   without their passes (to measure a workload after another's set-up);
 * - `--isolate on|off` (default on): with several workload groups selected,
 *   run each group (W1+W2, W3, W4+S1, W5, P1, W6, W7, W8) in a process of its
 *   own and merge the results (`Isolate.ts`); `off` runs them all in this one;
 * - `--keep-schema`: leave the schema in place at the end, and on Ctrl-C (to
 *   inspect the tables; drop it by hand afterwards);
 * - `--explain`: instead of the workloads, `EXPLAIN (ANALYZE, BUFFERS)` every
 *   statement both sides send for commands, a rehydration and a filtered
 *   catch-up (see `Explain.ts`).
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import pg from "pg"
import * as Chronicle from "./Chronicle.js"
import * as Domain from "./Domain.js"
import * as Environment from "./Environment.js"
import * as Explain from "./Explain.js"
import * as Interrupt from "./Interrupt.js"
import * as Isolate from "./Isolate.js"
import { gcOf, type Measurement, rate, summarize, watchGc, withProbe } from "./Measure.js"
import * as Memory from "./Memory.js"
import * as PgCpu from "./PgCpu.js"
import * as Raw from "./Raw.js"
import * as Report from "./Report.js"
import * as Sagas from "./Sagas.js"
import * as Seed from "./Seed.js"

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const poolSize = 20

const args = process.argv.slice(2)

const argument = (name: string): string | undefined => {
  const index = args.indexOf(`--${name}`)
  if (index >= 0) return args[index + 1]
  const inline = args.find((a) => a.startsWith(`--${name}=`))
  return inline?.slice(name.length + 3)
}

const flag = (name: string): boolean => args.includes(`--${name}`)

const positiveInt = (name: string, env: string | undefined, fallback: number): number => {
  const text = argument(name) ?? (env === undefined ? undefined : process.env[env])
  if (text === undefined) return fallback
  const n = Number(text.replaceAll("_", ""))
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`)
  return n
}

type WorkloadId = "W1" | "W2" | "W3" | "W4" | "W5" | "W6" | "W7" | "W8" | "S1" | "P1" | "SG"
const allWorkloads: ReadonlyArray<WorkloadId> = ["W1", "W2", "W3", "W4", "W5", "S1", "P1", "W6", "W7", "W8", "SG"]
const isWorkload = (s: string): s is WorkloadId => allWorkloads.some((w) => w === s)

const selected = (): ReadonlyArray<WorkloadId> => {
  const text = argument("only") ?? process.env.BENCH_ONLY
  if (text === undefined) return allWorkloads
  const names = text.split(",").map((s) => s.trim().toUpperCase())
  const unknown = names.filter((n) => !isWorkload(n))
  if (unknown.length > 0) throw new Error(`--only: unknown workload(s) ${unknown.join(", ")}`)
  return names.filter(isWorkload)
}

/**
 * `--setup W6,W7,…`: the workloads whose set-up (seeding, warm-ups) runs
 * before the timed passes, in addition to those of `--only` (diagnosis: a
 * workload measured after another's set-up, without its passes).
 */
const setUps = (only: ReadonlyArray<WorkloadId>): ReadonlyArray<WorkloadId> => {
  const text = argument("setup")
  if (text === undefined) return only
  const names = text.split(",").map((s) => s.trim().toUpperCase())
  const unknown = names.filter((n) => !isWorkload(n))
  if (unknown.length > 0) throw new Error(`--setup: unknown workload(s) ${unknown.join(", ")}`)
  return [...only, ...names.filter(isWorkload).filter((n) => !only.includes(n))]
}

/** V8's full collection (`gc()`), made available without `--expose-gc` on the command line. */
const fullGc = (): (() => void) => {
  v8.setFlagsFromString("--expose-gc")
  const gc: unknown = vm.runInNewContext("gc")
  if (typeof gc !== "function") throw new Error("gc() is not available")
  return () => {
    gc()
  }
}

const choice = <A extends string>(name: string, values: ReadonlyArray<A>, fallback: A): A => {
  const text = argument(name) ?? fallback
  const found = values.find((v) => v === text)
  if (found === undefined) throw new Error(`--${name} must be ${values.join(" or ")}, got "${text}"`)
  return found
}

const checkNoLoss = (side: string, m: Measurement & { readonly stored: number; readonly version: number }) => {
  if (m.stored !== m.ops || m.version !== m.ops) {
    throw new Error(`W5 ${side}: ${m.ops} commands succeeded but ${m.stored} events are stored (version ${m.version})`)
  }
  return m
}

const skipped: Measurement = { ops: 0, seconds: Number.NaN, cpuMillis: 0 }

const count = (n: number): string => n.toLocaleString("en-US")

/** One side's pass of a workload, and the probe that reads its server CPU (none when it measures itself). */
interface Pass {
  readonly row: Report.Row
  readonly chronicle: () => Promise<Measurement>
  readonly other: () => Promise<Measurement>
  /** The baseline of S1 is Chronicle without snapshots: its PostgreSQL CPU is on Chronicle's pools. */
  readonly otherIsChronicle?: boolean
  /** W8 runs in a child process that reads its own CPU and its backend's. */
  readonly selfMeasured?: boolean
}

const compareMode = (): boolean => {
  const index = args.indexOf("--compare")
  if (index < 0) return false
  const a = args[index + 1]
  const b = args[index + 2]
  if (a === undefined || b === undefined) throw new Error("--compare needs two results files: --compare A.json B.json")
  for (const line of Report.compare(Report.read(a), Report.read(b))) console.log(line)
  return true
}

const seconds = (start: number) => `${((performance.now() - start) / 1000).toFixed(1)} s`

const main = async () => {
  if (compareMode()) return
  const side = choice("side", ["chronicle", "raw", "both"] as const, "both")
  const cache = choice("cache", ["on", "default"] as const, "default") === "on"
  const tracer = choice("tracer", ["on", "off"] as const, "on") === "on"
  const runs = positiveInt("runs", "BENCH_RUNS", 3)
  const loads = positiveInt("loads", "BENCH_LOADS", 3)
  const w6Size = positiveInt("w6-size", undefined, 2_000_000)
  const w6Small = Math.min(10_000, w6Size)
  const w6Appends = positiveInt("w6-appends", undefined, 5_000)
  const w7Size = positiveInt("w7-size", undefined, 1_000_000)
  if (w7Size % 1000 !== 0) throw new Error(`--w7-size must be a multiple of 1,000, got ${w7Size}`)
  const w8Events = positiveInt("w8-events", undefined, 200_000)
  const jsonFile = argument("json")
  const explain = flag("explain")
  const only = selected()
  const collectBetween = choice("collect", ["on", "off"] as const, "off") === "on"
  const setUp = setUps(only)
  // Ctrl-C, SIGTERM: see Interrupt.ts. A process of `--isolate` also hears of it from its parent.
  Interrupt.install(process.send === undefined ? "bench" : `bench [${only.join(",")}]`)
  Interrupt.listenToParent()
  const sagas = () =>
    Sagas.run({
      databaseUrl,
      runs,
      sagas: positiveInt("sagas", "BENCH_SAGAS", 1000),
      samples: 200,
      warmUp: positiveInt("saga-warm-up", "BENCH_SAGA_WARM_UP", 200)
    })

  // A round of several workload groups: each group in a process of its own (see Isolate.ts).
  if (!explain && choice("isolate", ["on", "off"] as const, "on") === "on" && Isolate.plan(only).length > 1) {
    const results = await Isolate.run(fileURLToPath(import.meta.url), args, only, Report.read)
    console.log("")
    console.log(`bench: every group above ran in a process of its own (${results.options.isolate})`)
    for (const line of Report.print(results, runs)) console.log(line)
    if (jsonFile !== undefined) {
      fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`)
      console.log(`bench: results written to ${jsonFile}`)
    }
    if (only.includes("SG")) await sagas()
    return
  }
  // SG alone: the saga benchmarks run on a database of their own and print their own table (Sagas.ts); the
  // main schema, the commands' warm-up and an empty report would only cost time.
  if (!explain && only.every((workload) => workload === "SG")) {
    const admin = new pg.Client({ connectionString: databaseUrl })
    await admin.connect()
    try {
      for (const line of Environment.describe((await observed(admin)).environment)) console.log(`bench: ${line}`)
    } finally {
      await admin.end().catch(() => undefined)
    }
    if (jsonFile !== undefined)
      console.log(`bench: --json: SG's results are printed, not written (${jsonFile} is not written)`)
    await sagas()
    return
  }

  const runId = crypto.randomUUID().replaceAll("-", "").slice(0, 12)
  const schema = `chronicle_bench_${runId}`
  const applicationName = { chronicle: `cb-${runId}-chr`, raw: `cb-${runId}-raw` }
  const keepSchema = flag("keep-schema")
  // Interrupted (Ctrl-C, SIGTERM, the parent of `--isolate`): end this run's
  // own backends (every connection of the run, W8's included, is named
  // `cb-<run id>-…`) and drop its schema (see Interrupt.ts).
  const unregisterSchema = Interrupt.undo({
    done: keepSchema
      ? `ended the run's connections (schema ${schema} kept: --keep-schema)`
      : `dropped schema ${schema}`,
    left: keepSchema ? "the run's connections" : `schema ${schema} (DROP SCHEMA "${schema}" CASCADE)`,
    run: () => endRun(runId, keepSchema ? undefined : schema)
  })
  const admin = new pg.Client({ connectionString: databaseUrl, application_name: `cb-${runId}-admin` })
  await admin.connect()
  if (flag("gc")) watchGc()
  const { environment, adminPid } = await observed(admin)
  Interrupt.check()
  await admin.query(`CREATE SCHEMA "${schema}"`)
  const url = new URL(databaseUrl)
  url.searchParams.set("options", `-c search_path=${schema}`)
  const options = {
    runs,
    only: only.join(","),
    side,
    tracer: tracer ? "on" : "off",
    cache: cache ? "on (capacity 10,000)" : "library default",
    loads,
    w6Size,
    w6Appends,
    w7Size,
    w8Events,
    pools: poolSize,
    ...(setUp.length > only.length ? { setUp: setUp.join(",") } : {}),
    ...(collectBetween ? { collect: "full GC before each side's pass" } : {})
  }
  for (const line of Environment.describe(environment)) console.log(`bench: ${line}`)
  console.log(
    `bench: schema ${schema}, ${runs} run(s), pools of ${poolSize}, workloads ${only.join(" ")}, tracer ${options.tracer}, cache ${options.cache}` +
      (collectBetween ? ", a full GC before each side's pass (--collect on)" : "") +
      (setUp.length > only.length ? `, set-up of ${setUp.join(" ")}` : "")
  )
  console.log(
    `bench: PostgreSQL CPU per side from ${PgCpu.available() ? PgCpu.method() : "nothing: /proc is not readable, PG CPU is not measured"}`
  )
  const excluded = new Set<number>([adminPid])
  const snapshots: Array<Environment.Snapshot> = [Environment.snapshot()]
  const loadSeen: Array<number> = [environment.loadBefore[0] ?? Number.NaN]
  let chronicle: Chronicle.ChronicleBench | undefined
  let raw: Raw.RawBench | undefined
  try {
    chronicle = await Chronicle.make(url.toString(), poolSize, {
      tracer,
      cache,
      applicationName: applicationName.chronicle
    })
    raw = Raw.make(url.toString(), poolSize, applicationName.raw)
    const c = chronicle
    const r = raw
    const probes = {
      chronicle: PgCpu.makeProbe(admin, applicationName.chronicle),
      raw: PgCpu.makeProbe(admin, applicationName.raw)
    }
    if (explain) {
      await explainMode(url.toString(), c, r)
      return
    }

    console.log("bench: warming up (300 sequential commands and 16 × 20 concurrent ones, each side)")
    if (side !== "raw") await c.warmUp()
    if (side !== "chronicle") await r.warmUp()
    if (setUp.includes("W3")) {
      // One untimed pass per side: the 100-event append is not on the commands'
      // warm-up path, and in a process of its own (`--isolate`) W3's first timed
      // pass would otherwise pay the JIT's first compilation of it.
      console.log("bench: W3: warming up (one untimed pass of 100 appends × 100 events, each side)")
      if (side !== "raw") await c.w3(999)
      if (side !== "chronicle") await r.w3(999)
    }
    if (setUp.includes("P1")) {
      console.log("bench: writing P1's 100,000 events (1,000 streams) on each side")
      if (side !== "raw") await r.setupP1Events(Chronicle.prefix)
      if (side !== "chronicle") await r.setupP1Events(Raw.prefix)
    }
    if (setUp.includes("W4") || setUp.includes("S1")) {
      console.log("bench: writing the 10,000-event stream on each side (and Chronicle's snapshots every 100)")
      if (side !== "raw") await c.setupLongStream()
      if (side !== "chronicle") await r.setupLongStream()
      // One untimed load per side, as W7's warm-up: the first rehydration of
      // the process otherwise pays the JIT's first compilation of the read
      // path inside the first timed pass.
      console.log("bench: W4: warming up (one untimed load of the 10,000-event stream, each side)")
      if (side !== "raw") await c.w4(1)
      if (side !== "chronicle") await r.w4(1)
    }

    // Seeded stores: each side its own tables (same migrations), seeded in parallel.
    const seedStore = async (tablePrefix: string, layout: Seed.Layout, events: number) => {
      await c.migrate(tablePrefix)
      await Seed.events(r.pool, tablePrefix, layout, { first: 0, count: events })
      await Seed.finish(r.pool, tablePrefix)
    }
    const bothSides = async (name: string, f: (tablePrefix: string) => Promise<void>) => {
      await Promise.all([
        ...(side !== "raw" ? [f(`${name}_chr_`)] : []),
        ...(side !== "chronicle" ? [f(`${name}_raw_`)] : [])
      ])
    }
    const w6Streams = (size: number) => Math.max(1, Math.floor(size / 10))
    const w6Sizes = [{ name: "w6s", size: w6Small }, ...(w6Size > w6Small ? [{ name: "w6l", size: w6Size }] : [])]
    if (setUp.includes("W6")) {
      for (const { name, size } of w6Sizes) {
        const start = performance.now()
        console.log(`bench: W6: seeding ${count(size)} events (${count(w6Streams(size))} streams of 10) on each side`)
        await bothSides(name, (p) => seedStore(p, Seed.roundRobin("W6", w6Streams(size)), size - (size % 10)))
        console.log(`bench: W6: seeded in ${seconds(start)}`)
      }
    }
    const w7Stores = [
      { name: "w7l", size: w7Size },
      { name: "w7s", size: w7Size / 10 }
    ]
    const w7Layout = Seed.shares({ rare: "W7a", rareStreams: 100, tenth: "W7b", tenthStreams: 1000, rest: "W7z" })
    if (setUp.includes("W7")) {
      for (const { name, size } of w7Stores) {
        const start = performance.now()
        console.log(`bench: W7: seeding ${count(size)} events (1% W7a, 10% W7b, 89% W7z) on each side`)
        await bothSides(name, async (p) => {
          await seedStore(p, w7Layout, size)
          if (p.endsWith("_raw_")) await r.indexCategories(p)
        })
        console.log(`bench: W7: seeded in ${seconds(start)}`)
      }
      // One untimed catch-up of each store per side (as the commands' warm-up):
      // otherwise the first timed pass, W7a of the large store, also pays for
      // compiling the catch-up code and for the backends' first look at the
      // tables, and the proportionality check reads that as a cost of size.
      console.log("bench: W7: warming up (one catch-up of each store, each side)")
      for (const { name, size } of w7Stores) {
        if (side !== "raw") await c.w7(`${name}_chr_`, "W7b", size / 10, `w7_${name}_warm`)
        if (side !== "chronicle") await r.w7(`${name}_raw_`, "W7b", size / 10, `w7_${name}_warm`)
      }
    }
    const w8 = { prefix: "w8_", key: "w8-big", warmKey: "w8-warm", warmEvents: 1_000 }
    if (setUp.includes("W8")) {
      const start = performance.now()
      console.log(`bench: W8: seeding one stream of ${count(w8Events)} events (read by both sides)`)
      await c.migrate(w8.prefix)
      await Seed.events(r.pool, w8.prefix, Seed.oneStream(Domain.streamIdOf(w8.key)), {
        first: 0,
        count: w8Events
      })
      await Seed.events(r.pool, w8.prefix, Seed.oneStream(Domain.streamIdOf(w8.warmKey), w8Events), {
        first: w8Events,
        count: w8.warmEvents
      })
      await Seed.finish(r.pool, w8.prefix)
      console.log(`bench: W8: seeded in ${seconds(start)}`)
    }
    // The set-up above can write millions of rows: settle them before any
    // timed pass, so that no pass pays for them (the checkpointer flushing
    // their pages, the first readers setting their hint bits). The run's own
    // tables (those of its schema, nothing else of the database: with the
    // default `DATABASE_URL` it is shared) are vacuumed and analysed, then a
    // checkpoint is written: it has no per-table form, and it only writes out
    // the dirty pages (mostly the set-up's), which the checkpointer would
    // otherwise write during the timed passes.
    {
      const start = performance.now()
      const tables = (
        await r.pool.query<{ readonly name: string }>(
          "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
          [schema]
        )
      ).rows.map((row) => row.name)
      console.log(
        `bench: settling the run's ${tables.length} tables (VACUUM ANALYZE of schema ${schema}, then CHECKPOINT) before the timed passes`
      )
      if (tables.length > 0) await r.pool.query(`VACUUM ANALYZE ${tables.join(", ")}`)
      await r.pool.query("CHECKPOINT").catch((error: unknown) => {
        console.log(`bench: CHECKPOINT not run (${error instanceof Error ? error.message : String(error)})`)
      })
      console.log(`bench: settled in ${seconds(start)}`)
    }
    if (flag("gc")) {
      const m = process.memoryUsage()
      console.log(
        `bench: --gc: after the set-up: heap used ${(m.heapUsed / 2 ** 20).toFixed(1)} MB of ${(m.heapTotal / 2 ** 20).toFixed(1)}, RSS ${(m.rss / 2 ** 20).toFixed(1)} MB, CPU so far ${((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(1)} s`
      )
    }

    const row = (
      id: string,
      name: string,
      unit: string,
      op: string,
      target: number | null,
      baseline = "raw"
    ): Report.Row => ({ id, name, unit, op, baseline, target, pairs: [] })
    const rows = {
      W1: row("W1", "W1 sequential commands", "cmd/s", "command", 0.85),
      W2: row("W2", "W2 16 workers, distinct streams", "cmd/s", "command", 0.85),
      W3: row("W3", "W3 100 appends × 100 events", "appends/s", "append", 0.8),
      W4: row("W4", "W4 rehydrate 10,000 events", "loads/s", "load", 0.5),
      W5: row("W5", "W5 8 workers, one stream", "cmd/s", "successful command", 0.6),
      S1: row("S1", "S1 load at the end (snapshot at 10,000)", "loads/s", "load", null, "no snapshots"),
      S1w: row("S1w", "S1 loadAt v9,999 (snapshot at 9,900)", "loads/s", "load", null, "no snapshots"),
      P1: row("P1", "P1 projection catch-up, 100,000 events", "events/s", "event", 0.7),
      W6: w6Sizes.map(({ size }) =>
        row(`W6@${size}`, `W6 single-event append, ${count(size)} stored`, "appends/s", "append", null)
      ),
      W7: w7Stores.flatMap(({ name, size }) =>
        (["W7a", "W7b"] as const).map((category) => {
          const share = category === "W7a" ? 100 : 10
          return {
            store: name,
            category,
            expected: size / share,
            row: row(
              `W7 ${category}@${size}`,
              `W7 catch-up ${share === 100 ? "1%" : "10%"} of ${count(size)} (${count(size / share)} events)`,
              "events/s",
              "event",
              null
            )
          }
        })
      ),
      W8: row("W8", `W8 load ${count(w8Events)} events, no snapshots`, "loads/s", "load", null, "raw paged")
    }
    const memoryJob = (s: "chronicle" | "raw"): Memory.Job => ({
      side: s,
      url: url.toString(),
      tablePrefix: w8.prefix,
      key: w8.key,
      events: w8Events,
      warmKey: w8.warmKey,
      warmEvents: w8.warmEvents,
      applicationName: `${applicationName[s]}-w8`,
      adminApplicationName: `cb-${runId}-w8admin`
    })
    const passes = (run: number): ReadonlyArray<Pass> => [
      ...(only.includes("W1") ? [{ row: rows.W1, chronicle: () => c.w1(run), other: () => r.w1(run) }] : []),
      ...(only.includes("W2") ? [{ row: rows.W2, chronicle: () => c.w2(run), other: () => r.w2(run) }] : []),
      ...(only.includes("W3")
        ? [0, 1, 2].map((k) => ({
            row: rows.W3,
            chronicle: () => c.w3(run * 10 + k),
            other: () => r.w3(run * 10 + k)
          }))
        : []),
      ...(only.includes("W4") ? [{ row: rows.W4, chronicle: () => c.w4(loads), other: () => r.w4(loads) }] : []),
      ...(only.includes("W5")
        ? [
            {
              row: rows.W5,
              chronicle: async () => checkNoLoss("chronicle", await c.w5(run)),
              other: async () => checkNoLoss("raw", await r.w5(run))
            }
          ]
        : []),
      ...(only.includes("S1")
        ? [
            {
              row: rows.S1,
              chronicle: () => c.s1(20 * loads, "end"),
              other: () => c.w4(loads),
              otherIsChronicle: true
            },
            {
              row: rows.S1w,
              chronicle: () => c.s1(20 * loads, "worst"),
              other: () => c.s1Plain(loads),
              otherIsChronicle: true
            }
          ]
        : []),
      ...(only.includes("P1") ? [{ row: rows.P1, chronicle: () => c.p1(run), other: () => r.p1(run) }] : []),
      ...(only.includes("W6")
        ? w6Sizes.map(({ name, size }, i) => {
            const target = { category: "W6", streams: w6Streams(size), version: 10 }
            const w6Row = rows.W6[i]
            if (w6Row === undefined) throw new Error("W6: no row")
            return {
              row: w6Row,
              chronicle: () => c.w6(`${name}_chr_`, target, w6Appends, run * 10 + i),
              other: () => r.w6(`${name}_raw_`, target, w6Appends, run * 10 + i)
            }
          })
        : []),
      ...(only.includes("W7")
        ? rows.W7.map(({ store, category, expected, row: w7Row }) => ({
            row: w7Row,
            chronicle: () => c.w7(`${store}_chr_`, category, expected, `w7_${store}_${category}_r${run}`),
            other: () => r.w7(`${store}_raw_`, category, expected, `w7_${store}_${category}_r${run}`)
          }))
        : []),
      ...(only.includes("W8")
        ? [
            {
              row: rows.W8,
              chronicle: () => Memory.measure(memoryJob("chronicle")),
              other: () => Memory.measure(memoryJob("raw")),
              selfMeasured: true
            }
          ]
        : [])
    ]

    // `--collect on` (diagnosis): every side's pass starts from a collected
    // heap. Not the default: measured, it made the passes' own GC and helper
    // threads costlier (BENCHMARKS.md, "Issue 12, W1/W2 in the full round").
    const collect = collectBetween ? fullGc() : undefined
    const measureSide = async (probe: PgCpu.SideProbe | undefined, f: () => Promise<Measurement>) => {
      if (probe === undefined) return f()
      if (collect !== undefined) {
        collect()
        // V8 finishes sweeping and releases memory on its helper threads after gc() returns.
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await probe.refresh()
      for (const pid of probe.pids()) excluded.add(pid)
      const m = await withProbe(probe, f)
      const gc = await gcOf()
      return PgCpu.complete(gc === undefined ? m : { ...m, gc }, await probe.result())
    }

    for (let run = 1; run <= runs; run++) {
      for (const pass of passes(run)) {
        Interrupt.check()
        const chronicleFirst = run % 2 === 1
        const chronicleProbe = pass.selfMeasured ? undefined : probes.chronicle
        const otherProbe = pass.selfMeasured ? undefined : pass.otherIsChronicle ? probes.chronicle : probes.raw
        const chronicleSide =
          side === "raw" ? () => Promise.resolve(skipped) : () => measureSide(chronicleProbe, pass.chronicle)
        const otherSide =
          side === "chronicle" && !pass.otherIsChronicle
            ? () => Promise.resolve(skipped)
            : () => measureSide(otherProbe, pass.other)
        const first = chronicleFirst ? chronicleSide : otherSide
        const second = chronicleFirst ? otherSide : chronicleSide
        const a = await first()
        const b = await second()
        snapshots.push(Environment.snapshot())
        loadSeen.push(Environment.load1())
        const pair = chronicleFirst ? { chronicle: a, other: b } : { chronicle: b, other: a }
        pass.row.pairs.push(pair)
        console.log(
          `[run ${run}/${runs}] ${pass.row.name}: chronicle ${Report.describePass(pair.chronicle)} | ${pass.row.baseline} ${Report.describePass(pair.other)} | ratio ${(rate(pair.chronicle) / rate(pair.other)).toFixed(3)}`
        )
      }
    }

    const allRows: ReadonlyArray<Report.Row> = [
      rows.W1,
      rows.W2,
      rows.W3,
      rows.W4,
      rows.W5,
      rows.S1,
      rows.S1w,
      rows.P1,
      ...rows.W6,
      ...rows.W7.map((w) => w.row),
      rows.W8
    ].filter((x) => x.pairs.length > 0)
    const results: Report.Results = {
      format: "chronicle-bench/1",
      environment,
      options,
      finishedAt: new Date().toISOString(),
      loadAfter: Environment.loadAverage(),
      loadRange: {
        min: summarize(loadSeen.filter((l) => !Number.isNaN(l))).min,
        max: summarize(loadSeen.filter((l) => !Number.isNaN(l))).max
      },
      busyDuring: Environment.busiest(snapshots, excluded, 8),
      rows: allRows,
      checks: checks(rows, w6Sizes, w7Stores)
    }
    if (rows.W5.pairs.length > 0) {
      const conflicts = (s: "chronicle" | "other") =>
        `${Report.fmt(Report.median(rows.W5, s, (m) => m.conflicts ?? 0))} per run, ` +
        `${Report.fmt(Report.median(rows.W5, s, (m) => (m.conflicts ?? 0) / Math.max(1, m.ops)))} per successful command`
      const gaveUp = (s: "chronicle" | "other") => rows.W5.pairs.reduce((n, p) => n + (p[s].failed ?? 0), 0)
      console.log("")
      console.log(
        `W5 conflicts (wasted attempts): chronicle ${conflicts("chronicle")}; raw ${conflicts("other")}; ` +
          `commands that gave up: chronicle ${gaveUp("chronicle")}, raw ${gaveUp("other")}; lost writes: 0 (verified every run)`
      )
    }
    for (const line of Report.print(results, runs)) console.log(line)
    if (jsonFile !== undefined) {
      fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`)
      console.log(`bench: results written to ${jsonFile}`)
    }
    // SG1, SG2: the saga benchmarks (their own database and table lines; see Sagas.ts)
    if (only.includes("SG")) await sagas()
  } finally {
    await chronicle?.end().catch(() => undefined)
    await raw?.end().catch(() => undefined)
    if (keepSchema) console.log(`bench: --keep-schema: schema ${schema} left in place`)
    else await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await admin.end().catch(() => undefined)
    if (!Interrupt.interrupted()) unregisterSchema()
  }
}

/** The machine, PostgreSQL and the load before the run, read through `admin` (whose own backend is not counted as load). */
const observed = async (admin: pg.Client) => {
  const adminPid = Number((await admin.query("SELECT pg_backend_pid() AS pid")).rows[0]?.pid)
  return { environment: await Environment.collect(admin, new Set([adminPid])), adminPid }
}

/**
 * One attempt at undoing an interrupted run (`Interrupt.ts` retries it): ends
 * the run's backends (their locks would hold the `DROP` up), then drops its
 * schema, waiting at most 1 s for a lock (a pool may reconnect in between).
 */
const endRun = async (runId: string, schema: string | undefined): Promise<void> => {
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: `cb-${runId}-cleanup`,
    connectionTimeoutMillis: 2_000
  })
  client.on("error", () => undefined)
  await client.connect()
  try {
    await client.query("SET lock_timeout = '1s'")
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()",
      [`cb-${runId}-%`]
    )
    if (schema !== undefined) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** The derived targets: CPU per command, W2/W1, W5's waste, W6's p99 growth, W7's proportionality, W8's memory. */
const checks = (
  rows: {
    readonly W1: Report.Row
    readonly W2: Report.Row
    readonly W5: Report.Row
    readonly W6: ReadonlyArray<Report.Row>
    readonly W7: ReadonlyArray<{ readonly store: string; readonly category: string; readonly row: Report.Row }>
    readonly W8: Report.Row
  },
  w6Sizes: ReadonlyArray<{ readonly size: number }>,
  w7Stores: ReadonlyArray<{ readonly name: string; readonly size: number }>
): ReadonlyArray<Report.Check> => {
  const out: Array<Report.Check> = []
  const has = (row: Report.Row | undefined): row is Report.Row => row !== undefined && row.pairs.length > 0
  const perRun = (
    a: Report.Row,
    b: Report.Row,
    s: "chronicle" | "other",
    f: (x: Measurement, y: Measurement) => number
  ) =>
    summarize(
      a.pairs.flatMap((p, i) => {
        const q = b.pairs[i]
        return q === undefined ? [] : [f(p[s], q[s])]
      })
    ).median
  if (has(rows.W1)) {
    const client = Report.median(rows.W1, "chronicle", Report.cpuPerOp)
    const server = Report.median(rows.W1, "chronicle", Report.pgPerOp)
    out.push({
      name: "W1 client CPU per command",
      value: client,
      unit: "ms",
      target: "≤ 0.45",
      pass: client <= 0.45,
      note: `raw ${Report.fmt(Report.median(rows.W1, "other", Report.cpuPerOp))} ms`
    })
    out.push({
      name: "W1 PG CPU per command",
      value: server,
      unit: "ms",
      target: "≤ 0.35",
      pass: Number.isNaN(server) ? null : server <= 0.35,
      note: `raw ${Report.fmt(Report.median(rows.W1, "other", Report.pgPerOp))} ms`
    })
  }
  if (has(rows.W1) && has(rows.W2)) {
    const scale = perRun(rows.W2, rows.W1, "chronicle", (w2, w1) => rate(w2) / rate(w1))
    out.push({
      name: "W2 throughput / W1 throughput",
      value: scale,
      unit: "×",
      target: "≥ 2",
      pass: scale >= 2,
      note: `raw ${Report.fmt(perRun(rows.W2, rows.W1, "other", (w2, w1) => rate(w2) / rate(w1)))}×; same run, paired`
    })
  }
  if (has(rows.W5)) {
    const waste = (s: "chronicle" | "other") =>
      Report.median(rows.W5, s, (m) => (m.conflicts ?? 0) / Math.max(1, (m.conflicts ?? 0) + m.ops))
    out.push({
      name: "W5 wasted attempts (conflicts / attempts)",
      value: waste("chronicle"),
      unit: "",
      target: "< 0.5",
      pass: waste("chronicle") < 0.5,
      note: `raw ${Report.fmt(waste("other"))}; "not most of their attempts"; nothing lost (checked every run)`
    })
  }
  const [small, large] = rows.W6
  const [smallSize, largeSize] = w6Sizes
  if (has(small) && has(large) && smallSize !== undefined && largeSize !== undefined) {
    const growth = (s: "chronicle" | "other") =>
      perRun(large, small, s, (l, m) => (l.latency?.p99 ?? Number.NaN) / (m.latency?.p99 ?? Number.NaN))
    out.push({
      name: `W6 append p99 at ${count(largeSize.size)} / at ${count(smallSize.size)}`,
      value: growth("chronicle"),
      unit: "×",
      target: "≤ 1.5",
      pass: growth("chronicle") <= 1.5,
      note: `raw ${Report.fmt(growth("other"))}×; per run, paired`
    })
  }
  const [bigStore, smallStore] = w7Stores
  const w7 = (store: string | undefined, category: string) =>
    rows.W7.find((w) => w.store === store && w.category === category)?.row
  const rareInBig = w7(bigStore?.name, "W7a")
  const tenthInBig = w7(bigStore?.name, "W7b")
  const tenthInSmall = w7(smallStore?.name, "W7b")
  const timeRatio = (a: Report.Row, b: Report.Row, s: "chronicle" | "other") =>
    perRun(a, b, s, (x, y) => x.seconds / y.seconds)
  if (has(rareInBig) && has(tenthInSmall) && bigStore !== undefined && smallStore !== undefined) {
    out.push({
      name: `W7 catch-up time, ${count(bigStore.size / 100)} own events in a log of ${count(bigStore.size)} / of ${count(smallStore.size)}`,
      value: timeRatio(rareInBig, tenthInSmall, "chronicle"),
      unit: "×",
      target: "≤ 1.5 (≈ 1 when proportional to its own events)",
      pass: timeRatio(rareInBig, tenthInSmall, "chronicle") <= 1.5,
      note: `raw (with a category index) ${Report.fmt(timeRatio(rareInBig, tenthInSmall, "other"))}×`
    })
  }
  if (has(rareInBig) && has(tenthInBig) && bigStore !== undefined) {
    out.push({
      name: `W7 catch-up time, 10% / 1% of ${count(bigStore.size)} (10× its own events, same log)`,
      value: timeRatio(tenthInBig, rareInBig, "chronicle"),
      unit: "×",
      target: "≈ 10 when proportional to its own events",
      pass: null,
      note: `raw ${Report.fmt(timeRatio(tenthInBig, rareInBig, "other"))}×`
    })
  }
  if (has(rows.W8)) {
    const peak = Report.median(rows.W8, "chronicle", (m) => m.memory?.peakRssGrowthMb)
    out.push({
      name: "W8 peak RSS growth while loading",
      value: peak,
      unit: "MB",
      target: "< 100",
      pass: peak < 100,
      note: `raw (paged) ${Report.fmt(Report.median(rows.W8, "other", (m) => m.memory?.peakRssGrowthMb))} MB`
    })
  }
  return out
}

/**
 * `--explain`: explains every statement of 300 commands on each side (on
 * streams of 1–3 events), of one rehydration of the 10,000-event stream, and
 * of a filtered catch-up (1% of 100,000 events).
 */
const explainMode = async (url: string, c: Chronicle.ChronicleBench, r: Raw.RawBench) => {
  console.log("bench: --explain: preparing (warm-up commands, the 10,000-event stream, a 100,000-event store)")
  await c.warmUp()
  await r.warmUp()
  await c.setupLongStream()
  await r.setupLongStream()
  const layout = Seed.shares({ rare: "W7a", rareStreams: 100, tenth: "W7b", tenthStreams: 1000, rest: "W7z" })
  for (const p of ["x7_chr_", "x7_raw_"]) {
    await c.migrate(p)
    await Seed.events(r.pool, p, layout, { first: 0, count: 100_000 })
    await Seed.finish(r.pool, p)
  }
  await r.indexCategories("x7_raw_")
  // Statistics, as the timed passes have them after the settling step: without
  // them PostgreSQL guesses a row count and may plan a statement otherwise.
  await r.pool.query("VACUUM ANALYZE chr_events, chr_streams, raw_events, raw_streams")
  const explainer = await Explain.make(url)
  try {
    // The warm-up's streams again: every command now appends to an existing stream.
    await explainer.capture("chronicle: commands (Repository.execute)", () => c.warmUp({ concurrent: false }))
    await explainer.capture("raw: commands", () => r.warmUp({ concurrent: false }))
    await explainer.capture("chronicle: rehydrate 10,000 events (Repository.load)", () => c.w4(1))
    await explainer.capture("raw: rehydrate 10,000 events", () => r.w4(1))
    await explainer.capture("chronicle: catch-up of 1% of 100,000 (ProjectionAdmin.catchUp)", () =>
      c.w7("x7_chr_", "W7a", 1_000, "explain_w7")
    )
    await explainer.capture("raw: catch-up of 1% of 100,000 (category index)", () =>
      r.w7("x7_raw_", "W7a", 1_000, "explain_w7")
    )
  } finally {
    await explainer.end()
  }
  console.log("")
  console.log("## EXPLAIN (ANALYZE, BUFFERS) of every statement sent, by phase (statements captured at the pg driver)")
  for (const line of explainer.report()) console.log(line)
}

main().catch((error: unknown) => {
  // Interrupted: the work failed under the clean-up, which reports and exits (Interrupt.ts).
  if (Interrupt.interrupted()) return
  console.error("bench failed:", error)
  process.exitCode = 1
})
