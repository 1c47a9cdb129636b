/**
 * The benchmark's results: the tables printed at the end of a run, the JSON
 * file written with `--json FILE`, and `--compare A.json B.json`, which
 * prints two such files side by side (before/after per workload).
 */
import * as fs from "node:fs"
import * as Environment from "./Environment.js"
import { type Measurement, rate, type Summary, summarize } from "./Measure.js"

/** One row of the results table: paired measurements, one pair per run. */
export interface Row {
  /** A stable id, to match rows across rounds (`W1`, `W6@10000`, …). */
  readonly id: string
  readonly name: string
  readonly unit: string
  readonly baseline: string
  /** Minimum ratio Chronicle/baseline, or null when the ratio is only reported. */
  readonly target: number | null
  /** What one operation is, for the CPU columns ("command", "load", "event", …). */
  readonly op: string
  readonly pairs: Array<{ readonly chronicle: Measurement; readonly other: Measurement }>
}

/** A target checked on derived numbers (W2/W1, W6's p99 growth, W8's memory, CPU per command). */
export interface Check {
  readonly name: string
  readonly value: number
  readonly unit: string
  /** e.g. "≤ 1.5". */
  readonly target: string
  /** null when there is no target (reported only). */
  readonly pass: boolean | null
  readonly note?: string
}

/** The JSON written by `--json`. */
export interface Results {
  readonly format: "chronicle-bench/1"
  readonly environment: Environment.Environment
  readonly options: Readonly<Record<string, string | number>>
  readonly finishedAt: string
  readonly loadAfter: ReadonlyArray<number>
  /** Lowest and highest 1-minute load average seen between passes. */
  readonly loadRange: { readonly min: number; readonly max: number }
  readonly busyDuring: ReadonlyArray<Environment.Busy>
  readonly rows: ReadonlyArray<Row>
  readonly checks: ReadonlyArray<Check>
}

export const fmt = (n: number): string =>
  Number.isNaN(n)
    ? "n/a"
    : n >= 100
      ? Math.round(n).toLocaleString("en-US")
      : n > 0 && n < 0.1
        ? n.toPrecision(2)
        : n.toFixed(n >= 10 ? 1 : 2)

const cell = (s: Summary): string => `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`

/** Median over runs of a per-pass number of one side (NaN when absent). */
export const median = (row: Row, side: "chronicle" | "other", f: (m: Measurement) => number | undefined): number =>
  summarize(row.pairs.map((p) => f(p[side])).filter((v): v is number => v !== undefined && !Number.isNaN(v))).median

/** Client CPU per operation (ms). */
export const cpuPerOp = (m: Measurement): number => m.cpuMillis / Math.max(1, m.ops)
/** PostgreSQL CPU per operation (ms), when read. */
export const pgPerOp = (m: Measurement): number | undefined =>
  m.pgCpuMillis === undefined ? undefined : m.pgCpuMillis / Math.max(1, m.ops)

export const ratioSummary = (row: Row): Summary => summarize(row.pairs.map((p) => rate(p.chronicle) / rate(p.other)))

/** PASS, MISS or "report" for a row. */
export const verdict = (row: Row): string => {
  const ratio = ratioSummary(row)
  return row.target === null ? "report" : ratio.median >= row.target ? "PASS" : "**MISS**" // NaN misses
}

/** One line per pass, printed as the run goes. */
export const describePass = (m: Measurement): string => {
  const pg = pgPerOp(m)
  const other =
    m.otherCpuMillis === undefined ? "" : `, others ${(m.otherCpuMillis / 1000 / m.seconds).toFixed(2)} cores`
  return (
    `${m.ops} ops in ${m.seconds.toFixed(2)} s = ${fmt(rate(m))}/s (cpu ${fmt(cpuPerOp(m))}` +
    (pg === undefined ? "" : ` + pg ${fmt(pg)}`) +
    ` ms/op${other})` +
    (m.latency === undefined ? "" : `, p50 ${fmt(m.latency.p50)} p99 ${fmt(m.latency.p99)} ms`) +
    (m.memory === undefined
      ? ""
      : `, peak RSS +${fmt(m.memory.peakRssGrowthMb)} MB (heap +${fmt(m.memory.heapGrowthMb)} MB)`) +
    (m.conflicts === undefined ? "" : `, ${m.conflicts} conflicts, ${m.failed ?? 0} gave up`) +
    (m.gc === undefined
      ? ""
      : `, GC ${fmt(m.gc.pauseMillis)} ms (${m.gc.minors} minor, ${m.gc.majors} major ${fmt(m.gc.majorPauseMillis)} ms), heap ${fmt(m.gc.heapUsedMb)} MB` +
        (m.gc.helperThreadsMillis === undefined ? "" : `, helper threads ${fmt(m.gc.helperThreadsMillis)} ms`)) +
    (m.pgBackgroundMillis === undefined || m.pgBackgroundMillis === 0
      ? ""
      : `, PG background ${fmt(m.pgBackgroundMillis)} ms`) +
    (m.pgExitedMillis === undefined || m.pgExitedMillis === 0
      ? ""
      : `, exited PG processes (parallel workers, …) ${fmt(m.pgExitedMillis)} ms`) +
    (m.lostBackends === undefined ? "" : `, ${m.lostBackends} backend(s) exited: their CPU is missing`)
  )
}

const cpuCell = (row: Row, f: (m: Measurement) => number | undefined): string =>
  `${fmt(median(row, "chronicle", f))} / ${fmt(median(row, "other", f))}`

/** The report: markdown tables. */
export const print = (results: Results, runs: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  const rows = results.rows.filter((row) => row.pairs.length > 0)
  out.push("")
  out.push(
    `Results: median (min–max) of ${runs} run(s) (W3: 3 pairs per run); ratio = chronicle/baseline, paired per run;` +
      " CPU per operation: client = this Node process, PG = the side's PostgreSQL backends (medians over runs)"
  )
  out.push("")
  out.push(
    "| Workload | Unit | Chronicle | Baseline | Ratio | Target | Result | Client CPU ms/op (C / base) | PG CPU ms/op (C / base) |"
  )
  out.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
  for (const row of rows) {
    const ratio = ratioSummary(row)
    out.push(
      `| ${row.name} | ${row.unit} | ${cell(summarize(row.pairs.map((p) => rate(p.chronicle))))} | ${row.baseline}: ${cell(summarize(row.pairs.map((p) => rate(p.other))))} | ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${row.target === null ? "—" : `≥ ${row.target}`} | ${verdict(row)} | ${cpuCell(row, cpuPerOp)} | ${cpuCell(row, pgPerOp)} |`
    )
  }
  const latencyRows = rows.filter((row) => row.pairs.some((p) => p.chronicle.latency !== undefined))
  if (latencyRows.length > 0) {
    out.push("")
    out.push("| Append latency | Chronicle p50 / p90 / p99 / max ms | Baseline p50 / p90 / p99 / max ms |")
    out.push("| --- | --- | --- |")
    for (const row of latencyRows) {
      const l = (side: "chronicle" | "other") =>
        (["p50", "p90", "p99", "max"] as const).map((k) => fmt(median(row, side, (m) => m.latency?.[k]))).join(" / ")
      out.push(`| ${row.name} | ${l("chronicle")} | ${l("other")} |`)
    }
  }
  const memoryRows = rows.filter((row) => row.pairs.some((p) => p.chronicle.memory !== undefined))
  if (memoryRows.length > 0) {
    out.push("")
    out.push(
      "| Memory | Chronicle: peak RSS growth / sampled RSS growth / heap growth MB (baseline RSS) | Baseline: the same |"
    )
    out.push("| --- | --- | --- |")
    for (const row of memoryRows) {
      const m = (side: "chronicle" | "other") =>
        `${fmt(median(row, side, (x) => x.memory?.peakRssGrowthMb))} / ${fmt(median(row, side, (x) => x.memory?.sampledRssGrowthMb))} / ${fmt(median(row, side, (x) => x.memory?.heapGrowthMb))} (${fmt(median(row, side, (x) => x.memory?.baselineRssMb))})`
      out.push(`| ${row.name} | ${m("chronicle")} | ${m("other")} |`)
    }
  }
  if (results.checks.length > 0) {
    out.push("")
    out.push("| Check | Value | Target | Result | Note |")
    out.push("| --- | --- | --- | --- | --- |")
    for (const c of results.checks) {
      out.push(
        `| ${c.name} | ${fmt(c.value)} ${c.unit} | ${c.target} | ${c.pass === null ? "report" : c.pass ? "PASS" : "**MISS**"} | ${c.note ?? ""} |`
      )
    }
  }
  out.push("")
  out.push(
    `Noise: load average ${results.loadRange.min.toFixed(2)}–${results.loadRange.max.toFixed(2)} between passes, ` +
      `${results.loadAfter.map((l) => l.toFixed(2)).join(" ")} after; CPU used by other processes during the passes: ` +
      `${otherCores(rows)} (compare rounds only at similar values: CPU per operation rises with it)`
  )
  out.push(`busiest other processes during the run: ${Environment.formatBusy(results.busyDuring)}`)
  const missed = [
    ...rows.filter((row) => row.target !== null && verdict(row) !== "PASS").map((row) => row.id),
    ...results.checks.filter((c) => c.pass === false).map((c) => c.name)
  ]
  out.push("")
  out.push(missed.length === 0 ? "All targets met." : `MISS: ${missed.join(", ")}`)
  return out
}

/** Median (min–max) over passes of the cores kept busy by other processes. */
const otherCores = (rows: ReadonlyArray<Row>): string => {
  const values = rows.flatMap((row) =>
    row.pairs.flatMap((p) =>
      [p.chronicle, p.other].flatMap((m) =>
        m.otherCpuMillis === undefined || !(m.seconds > 0) ? [] : [m.otherCpuMillis / 1000 / m.seconds]
      )
    )
  )
  if (values.length === 0) return "not measured"
  const s = summarize(values)
  return `${s.median.toFixed(2)} cores median (${s.min.toFixed(2)}–${s.max.toFixed(2)})`
}

const isResults = (value: unknown): value is Results =>
  typeof value === "object" &&
  value !== null &&
  "format" in value &&
  value.format === "chronicle-bench/1" &&
  "rows" in value &&
  Array.isArray(value.rows)

/** Reads a `--json` file. */
export const read = (file: string): Results => {
  const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
  if (!isResults(parsed)) throw new Error(`${file} is not a chronicle-bench/1 results file`)
  return parsed
}

const change = (before: number, after: number): string =>
  Number.isNaN(before) || Number.isNaN(after) || before === 0
    ? "—"
    : `${after >= before ? "+" : ""}${(((after - before) / before) * 100).toFixed(0)}%`

const header = (label: string, r: Results): string => {
  const g = r.environment.git
  return (
    `${label}: ${g === null ? "unknown commit" : `${g.commit}${g.dirty.length > 0 ? "-dirty" : ""} "${g.subject}"`}, ` +
    `${r.environment.date}, code ${r.environment.code ?? "source"}, load ${r.environment.loadBefore[0]?.toFixed(2) ?? "?"} before / ` +
    `${r.loadRange.min.toFixed(2)}–${r.loadRange.max.toFixed(2)} during, options ${JSON.stringify(r.options)}`
  )
}

/** Median over a row's passes (both sides) of the cores other processes kept busy. */
const others = (row: Row): string =>
  fmt(
    summarize(
      row.pairs.flatMap((p) =>
        [p.chronicle, p.other].flatMap((m) =>
          m.otherCpuMillis === undefined || !(m.seconds > 0) ? [] : [m.otherCpuMillis / 1000 / m.seconds]
        )
      )
    ).median
  )

/** `--compare A.json B.json`: A is "before", B "after". */
export const compare = (a: Results, b: Results): ReadonlyArray<string> => {
  const out: Array<string> = [header("A (before)", a), header("B (after)", b), ""]
  out.push(
    "| Workload | Chronicle rate A → B | Ratio A → B | Client CPU ms/op A → B | PG CPU ms/op A → B | Baseline rate A → B | Baseline client + PG CPU ms/op A → B | Others' CPU (cores) A → B |"
  )
  out.push("| --- | --- | --- | --- | --- | --- | --- | --- |")
  for (const rb of b.rows) {
    const ra = a.rows.find((r) => r.id === rb.id)
    if (ra === undefined || ra.pairs.length === 0 || rb.pairs.length === 0) continue
    const pair = (f: (row: Row) => number) => `${fmt(f(ra))} → ${fmt(f(rb))} (${change(f(ra), f(rb))})`
    const both = (row: Row) => `${fmt(median(row, "other", cpuPerOp))} + ${fmt(median(row, "other", pgPerOp))}`
    out.push(
      `| ${rb.name} | ${pair((row) => median(row, "chronicle", rate))} | ${pair((row) => ratioSummary(row).median)} | ` +
        `${pair((row) => median(row, "chronicle", cpuPerOp))} | ${pair((row) => median(row, "chronicle", pgPerOp))} | ` +
        `${pair((row) => median(row, "other", rate))} | ${both(ra)} → ${both(rb)} | ${others(ra)} → ${others(rb)} |`
    )
  }
  const latencyRows = b.rows.filter((row) => row.pairs.some((p) => p.chronicle.latency !== undefined))
  const memoryRows = b.rows.filter((row) => row.pairs.some((p) => p.chronicle.memory !== undefined))
  const matched = (rb: Row) => {
    const ra = a.rows.find((r) => r.id === rb.id)
    return ra === undefined || ra.pairs.length === 0 || rb.pairs.length === 0 ? [] : [{ ra, rb }]
  }
  const arrow = (ra: Row, rb: Row, side: "chronicle" | "other", f: (m: Measurement) => number | undefined) => {
    const before = median(ra, side, f)
    const after = median(rb, side, f)
    return `${fmt(before)} → ${fmt(after)} (${change(before, after)})`
  }
  const latencies = latencyRows.flatMap(matched)
  if (latencies.length > 0) {
    out.push("", "| Latency | Chronicle p50 ms A → B | Chronicle p99 ms A → B | Baseline p99 ms A → B |")
    out.push("| --- | --- | --- | --- |")
    for (const { ra, rb } of latencies) {
      out.push(
        `| ${rb.name} | ${arrow(ra, rb, "chronicle", (m) => m.latency?.p50)} | ${arrow(ra, rb, "chronicle", (m) => m.latency?.p99)} | ${arrow(ra, rb, "other", (m) => m.latency?.p99)} |`
      )
    }
  }
  const memories = memoryRows.flatMap(matched)
  if (memories.length > 0) {
    out.push("", "| Memory | Chronicle peak RSS growth MB A → B | Baseline peak RSS growth MB A → B |")
    out.push("| --- | --- | --- |")
    for (const { ra, rb } of memories) {
      out.push(
        `| ${rb.name} | ${arrow(ra, rb, "chronicle", (m) => m.memory?.peakRssGrowthMb)} | ${arrow(ra, rb, "other", (m) => m.memory?.peakRssGrowthMb)} |`
      )
    }
  }
  const onlyOne = [
    ...a.rows.filter((r) => !b.rows.some((x) => x.id === r.id)).map((r) => `${r.id} (A only)`),
    ...b.rows.filter((r) => !a.rows.some((x) => x.id === r.id)).map((r) => `${r.id} (B only)`)
  ]
  if (onlyOne.length > 0) out.push("", `Not compared: ${onlyOne.join(", ")}`)
  const checks = [...new Set([...a.checks.map((c) => c.name), ...b.checks.map((c) => c.name)])]
  if (checks.length > 0) {
    out.push("", "| Check | A | B | Target |", "| --- | --- | --- | --- |")
    for (const name of checks) {
      const ca = a.checks.find((c) => c.name === name)
      const cb = b.checks.find((c) => c.name === name)
      const show = (c: Check | undefined) =>
        c === undefined ? "—" : `${fmt(c.value)} ${c.unit}${c.pass === null ? "" : c.pass ? " PASS" : " MISS"}`
      out.push(`| ${name} | ${show(ca)} | ${show(cb)} | ${(cb ?? ca)?.target ?? ""} |`)
    }
  }
  return out
}
