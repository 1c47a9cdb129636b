/**
 * `pnpm bench`: Chronicle against a raw `pg` baseline on PostgreSQL
 * (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
 *
 * Both sides live in one fresh schema (dropped at the end), in tables made by
 * the same migrations (`chr_` and `raw_` prefixes). Every run executes each
 * workload on both sides back to back, alternating which side goes first, so
 * that machine noise and table growth hit both alike. The table reports the
 * median, min and max over runs of each side's throughput and of the paired
 * per-run ratio Chronicle/raw. A missed target prints MISS; the exit code is
 * non-zero only on a real error (including a lost write in W5).
 *
 * Options (arguments or environment):
 * - `--runs N` / `BENCH_RUNS` (default 3);
 * - `--only W1,W4,S1` / `BENCH_ONLY` (default: every workload);
 * - `--loads N` / `BENCH_LOADS`: rehydrations per run in W4 (default 3);
 * - `--side chronicle|raw`: run one side only (for profiling, e.g. with
 *   `node --cpu-prof --import tsx packages/sql-store/bench/run.ts`); ratios
 *   are then not computed;
 * - `--tracer off`: run Chronicle with Effect's tracer disabled, as an
 *   application that exports no traces may (default `on`: every span is
 *   created, as in a default Effect application);
 * - `--cache on`: give W1, W2 and W5's repositories Repository's opt-in state
 *   cache (default `off`: every command reads its stream first).
 */
import pg from "pg"
import * as Chronicle from "./Chronicle.js"
import { type Measurement, rate, type Summary, summarize } from "./Measure.js"
import * as Raw from "./Raw.js"
import * as Sagas from "./Sagas.js"

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const poolSize = 20

const argument = (name: string): string | undefined => {
  const args = process.argv.slice(2)
  const index = args.indexOf(`--${name}`)
  if (index >= 0) return args[index + 1]
  const inline = args.find((a) => a.startsWith(`--${name}=`))
  return inline?.slice(name.length + 3)
}

const positiveInt = (name: string, env: string, fallback: number): number => {
  const text = argument(name) ?? process.env[env]
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`)
  return n
}

type WorkloadId = "W1" | "W2" | "W3" | "W4" | "W5" | "S1" | "P1" | "SG"
const allWorkloads: ReadonlyArray<WorkloadId> = ["W1", "W2", "W3", "W4", "W5", "S1", "P1", "SG"]
const isWorkload = (s: string): s is WorkloadId => allWorkloads.some((w) => w === s)

const selected = (): ReadonlyArray<WorkloadId> => {
  const text = argument("only") ?? process.env.BENCH_ONLY
  if (text === undefined) return allWorkloads
  const names = text.split(",").map((s) => s.trim().toUpperCase())
  const unknown = names.filter((n) => !isWorkload(n))
  if (unknown.length > 0) throw new Error(`--only: unknown workload(s) ${unknown.join(", ")}`)
  return names.filter(isWorkload)
}

/** One row of the results table: paired measurements, one pair per run. */
interface Row {
  readonly name: string
  readonly unit: string
  readonly baseline: string
  /** Minimum ratio, or null when the ratio is only reported. */
  readonly target: number | null
  readonly pairs: Array<{ readonly chronicle: Measurement; readonly other: Measurement }>
}

interface Pass {
  readonly row: Row
  readonly chronicle: () => Promise<Measurement>
  readonly other: () => Promise<Measurement>
}

const fmt = (n: number): string =>
  Number.isNaN(n)
    ? "n/a"
    : n >= 100
      ? Math.round(n).toLocaleString("en-US")
      : n > 0 && n < 0.1
        ? n.toPrecision(2)
        : n.toFixed(n >= 10 ? 1 : 2)

const cell = (s: Summary): string => `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`

const cpu = (row: Row, side: "chronicle" | "other"): string =>
  fmt(summarize(row.pairs.map((p) => p[side].cpuMillis / Math.max(1, p[side].ops))).median)

const describe = (m: Measurement): string =>
  `${m.ops} ops in ${m.seconds.toFixed(2)} s = ${fmt(rate(m))}/s (cpu ${fmt(m.cpuMillis / Math.max(1, m.ops))} ms/op)` +
  (m.conflicts === undefined ? "" : `, ${m.conflicts} conflicts, ${m.failed ?? 0} gave up`)

const checkNoLoss = (side: string, m: Measurement & { readonly stored: number; readonly version: number }) => {
  if (m.stored !== m.ops || m.version !== m.ops) {
    throw new Error(`W5 ${side}: ${m.ops} commands succeeded but ${m.stored} events are stored (version ${m.version})`)
  }
  return m
}

const sideOption = (): "chronicle" | "raw" | "both" => {
  const side = argument("side") ?? "both"
  if (side === "chronicle" || side === "raw" || side === "both") return side
  throw new Error(`--side must be chronicle, raw or both, got "${side}"`)
}

const cacheOption = (): boolean => {
  const cache = argument("cache") ?? "off"
  if (cache === "on" || cache === "off") return cache === "on"
  throw new Error(`--cache must be on or off, got "${cache}"`)
}

const tracerOption = (): boolean => {
  const tracer = argument("tracer") ?? "on"
  if (tracer === "on" || tracer === "off") return tracer === "on"
  throw new Error(`--tracer must be on or off, got "${tracer}"`)
}

const skipped: Measurement = { ops: 0, seconds: Number.NaN, cpuMillis: 0 }

const main = async () => {
  const side = sideOption()
  const runs = positiveInt("runs", "BENCH_RUNS", 3)
  const loads = positiveInt("loads", "BENCH_LOADS", 3)
  const only = selected()
  const schema = `chronicle_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  await admin.query(`CREATE SCHEMA "${schema}"`)
  const url = new URL(databaseUrl)
  url.searchParams.set("options", `-c search_path=${schema}`)
  console.log(
    `bench: schema ${schema}, ${runs} run(s), pools of ${poolSize}, workloads ${only.join(" ")}, tracer ${tracerOption() ? "on" : "off"}, cache ${cacheOption() ? "on" : "off"}`
  )
  let chronicle: Chronicle.ChronicleBench | undefined
  let raw: Raw.RawBench | undefined
  try {
    chronicle = await Chronicle.make(url.toString(), poolSize, { tracer: tracerOption(), cache: cacheOption() })
    raw = Raw.make(url.toString(), poolSize)
    const c = chronicle
    const r = raw
    console.log("bench: warming up (300 commands each side)")
    if (side !== "raw") await c.warmUp()
    if (side !== "chronicle") await r.warmUp()
    if (only.includes("P1")) {
      console.log("bench: writing P1's 100,000 events (1,000 streams) on each side")
      if (side !== "raw") await r.setupP1Events(Chronicle.prefix)
      if (side !== "chronicle") await r.setupP1Events(Raw.prefix)
    }
    if (only.includes("W4") || only.includes("S1")) {
      console.log("bench: writing the 10,000-event stream on each side (and Chronicle's snapshots every 100)")
      if (side !== "raw") await c.setupLongStream()
      if (side !== "chronicle") await r.setupLongStream()
    }

    const row = (name: string, unit: string, target: number | null, baseline = "raw"): Row => ({
      name,
      unit,
      baseline,
      target,
      pairs: []
    })
    const rows = {
      W1: row("W1 sequential commands", "cmd/s", 0.85),
      W2: row("W2 16 workers, distinct streams", "cmd/s", 0.85),
      W3: row("W3 100 appends × 100 events", "appends/s", 0.8),
      W4: row("W4 rehydrate 10,000 events", "loads/s", 0.5),
      W5: row("W5 8 workers, one stream", "cmd/s", 0.6),
      S1: row("S1 load at the end (snapshot at 10,000)", "loads/s", null, "no snapshots"),
      S1w: row("S1 loadAt v9,999 (snapshot at 9,900)", "loads/s", null, "no snapshots"),
      P1: row("P1 projection catch-up, 100,000 events", "events/s", 0.7)
    }
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
            { row: rows.S1, chronicle: () => c.s1(20 * loads, "end"), other: () => c.w4(loads) },
            { row: rows.S1w, chronicle: () => c.s1(20 * loads, "worst"), other: () => c.s1Plain(loads) }
          ]
        : []),
      ...(only.includes("P1") ? [{ row: rows.P1, chronicle: () => c.p1(run), other: () => r.p1(run) }] : [])
    ]

    for (let run = 1; run <= runs; run++) {
      for (const pass of passes(run)) {
        const chronicleFirst = run % 2 === 1
        const chronicleSide = side === "raw" ? () => Promise.resolve(skipped) : pass.chronicle
        const otherSide = side === "chronicle" ? () => Promise.resolve(skipped) : pass.other
        const first = chronicleFirst ? chronicleSide : otherSide
        const second = chronicleFirst ? otherSide : chronicleSide
        const a = await first()
        const b = await second()
        const pair = chronicleFirst ? { chronicle: a, other: b } : { chronicle: b, other: a }
        pass.row.pairs.push(pair)
        console.log(
          `[run ${run}/${runs}] ${pass.row.name}: chronicle ${describe(pair.chronicle)} | ${pass.row.baseline} ${describe(pair.other)} | ratio ${(rate(pair.chronicle) / rate(pair.other)).toFixed(3)}`
        )
      }
    }

    const table = Object.values(rows).filter((row) => row.pairs.length > 0)
    console.log("")
    console.log(
      `Results: median (min–max) of ${runs} run(s) (W3: 3 pairs per run); ratio = chronicle/baseline, paired per run`
    )
    console.log("")
    console.log(
      "| Workload | Unit | Chronicle | Baseline | Ratio | Target | Result | CPU ms/op (Chronicle / baseline) |"
    )
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (const row of table) {
      const ratio = summarize(row.pairs.map((p) => rate(p.chronicle) / rate(p.other)))
      const result = row.target === null ? "report" : ratio.median >= row.target ? "PASS" : "**MISS**" // NaN misses
      console.log(
        `| ${row.name} | ${row.unit} | ${cell(summarize(row.pairs.map((p) => rate(p.chronicle))))} | ${row.baseline}: ${cell(summarize(row.pairs.map((p) => rate(p.other))))} | ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${row.target === null ? "—" : `≥ ${row.target}`} | ${result} | ${cpu(row, "chronicle")} / ${cpu(row, "other")} |`
      )
    }
    if (rows.W5.pairs.length > 0) {
      const conflicts = (side: "chronicle" | "other") =>
        cell(summarize(rows.W5.pairs.map((p) => p[side].conflicts ?? 0)))
      const gaveUp = (side: "chronicle" | "other") => rows.W5.pairs.reduce((n, p) => n + (p[side].failed ?? 0), 0)
      console.log("")
      console.log(
        `W5 conflicts per run: chronicle ${conflicts("chronicle")}, raw ${conflicts("other")}; ` +
          `commands that gave up: chronicle ${gaveUp("chronicle")}, raw ${gaveUp("other")}; lost writes: 0 (verified)`
      )
    }
    // SG1, SG2: the saga benchmarks (their own database and table lines; see Sagas.ts)
    if (only.includes("SG"))
      await Sagas.run({ databaseUrl, runs, sagas: positiveInt("sagas", "BENCH_SAGAS", 1000), samples: 200 })
    const missed = table.filter((row) => {
      const ratio = summarize(row.pairs.map((p) => rate(p.chronicle) / rate(p.other)))
      return row.target !== null && !(ratio.median >= row.target)
    })
    console.log("")
    console.log(
      missed.length === 0 ? "All targets met." : `MISS: ${missed.map((row) => row.name.split(" ")[0]).join(", ")}`
    )
  } finally {
    await chronicle?.end().catch(() => undefined)
    await raw?.end().catch(() => undefined)
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await admin.end().catch(() => undefined)
  }
}

main().catch((error: unknown) => {
  console.error("bench failed:", error)
  process.exitCode = 1
})
