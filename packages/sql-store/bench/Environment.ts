/**
 * What a benchmark run was made on: the commit (and whether the worktree had
 * changes), the date, Node and PostgreSQL versions and settings, the machine,
 * its load average before and after, and what else used the CPU meanwhile
 * (from `/proc`), so that two rounds can be compared and a regression traced
 * to a commit.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type pg from "pg"
import * as MachineProbe from "./MachineProbe.js"

const benchDir = path.dirname(fileURLToPath(import.meta.url))

/** The git state of the code being measured. */
export interface Git {
  readonly commit: string
  readonly branch: string
  /** Tracked files with uncommitted changes (empty when clean). */
  readonly dirty: ReadonlyArray<string>
  readonly subject: string
}

/** Everything recorded about the machine and the code at the start of a run. */
export interface Environment {
  readonly date: string
  readonly git: Git | null
  readonly node: string
  readonly effect: string
  /**
   * Which build of the library was measured: its TypeScript sources through
   * tsx (`pnpm bench`), or its compiled `dist`, as published (`pnpm
   * bench:dist`). Absent in files written before 2026-11-28 (sources).
   */
  readonly code?: Code
  readonly postgres: string
  readonly postgresSettings: Readonly<Record<string, string>>
  readonly machine: {
    readonly cpus: number
    readonly model: string
    readonly memoryGb: number
    readonly kernel: string
  }
  /**
   * The machine's speed on two fixed pieces of work (see `MachineProbe`),
   * measured before the run. Absent in files written before 2026-11-28 16:00.
   */
  readonly probe?: MachineProbe.Probe
  readonly loadBefore: ReadonlyArray<number>
  /** The busiest processes other than this one, over one second before the run. */
  readonly busyBefore: ReadonlyArray<Busy>
}

/** CPU used by a group of processes over an interval. */
export interface Busy {
  readonly what: string
  /** CPU seconds used over the interval. */
  readonly cpuSeconds: number
  /** Average number of cores it kept busy. */
  readonly cores: number
  readonly example: string
}

const git = (args: ReadonlyArray<string>): string =>
  execFileSync("git", ["-C", benchDir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()

const gitState = (): Git | null => {
  try {
    return {
      commit: git(["rev-parse", "--short", "HEAD"]),
      branch: git(["rev-parse", "--abbrev-ref", "HEAD"]),
      // Porcelain lines are "XY path": the path starts at the fourth character.
      dirty: execFileSync("git", ["-C", benchDir, "status", "--porcelain", "--untracked-files=no"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"]
      })
        .split("\n")
        .filter((line) => line.length > 3)
        .map((line) => line.slice(3)),
      subject: git(["log", "-1", "--format=%s"])
    }
  } catch {
    return null
  }
}

const effectVersion = (): string => {
  for (let dir = benchDir; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "node_modules", "effect", "package.json")
    if (fs.existsSync(file)) {
      const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
      if (typeof parsed === "object" && parsed !== null && "version" in parsed && typeof parsed.version === "string")
        return parsed.version
    }
  }
  return "unknown"
}

const settingNames = [
  "server_version",
  "synchronous_commit",
  "fsync",
  "shared_buffers",
  "work_mem",
  "jit",
  "wal_level",
  "max_connections",
  "shared_preload_libraries"
]

/** See {@link Environment.code}. */
export type Code = "source" | "dist"

/**
 * The build of the library this process runs: `@chronicle/sql-store` resolves
 * to `src/*.ts` under the `@chronicle/source` condition, else to `dist/*.js`.
 */
const code = (): Code => (import.meta.resolve("@chronicle/sql-store").endsWith(".ts") ? "source" : "dist")

/** How {@link describe} names each build. */
const codeLabel: Readonly<Record<Code, string>> = {
  source: "the library's TypeScript sources through tsx (esbuild, keepNames)",
  dist: "the library's compiled dist (tsc's output, as published)"
}

/** Collects the environment (takes about two seconds: it samples what else is running, then probes the machine's speed). */
export const collect = async (admin: pg.Client, exclude: ReadonlySet<number>): Promise<Environment> => {
  const loadBefore = os.loadavg()
  const first = snapshot()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const busyBefore = busiest([first, snapshot()], exclude, 8)
  const version = await admin.query("SELECT version() AS v")
  const settings = await admin.query("SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])", [
    settingNames
  ])
  const postgresSettings: Record<string, string> = {}
  for (const row of settings.rows as ReadonlyArray<{ name: string; setting: string; unit: string | null }>) {
    postgresSettings[row.name] = row.unit === null ? row.setting : `${row.setting} × ${row.unit}`
  }
  const cpus = os.cpus()
  return {
    date: new Date().toISOString(),
    git: gitState(),
    node: process.version,
    effect: effectVersion(),
    code: code(),
    postgres: String((version.rows[0] as { v?: unknown } | undefined)?.v ?? "unknown"),
    postgresSettings,
    machine: {
      cpus: cpus.length,
      model: cpus[0]?.model ?? "unknown",
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release()
    },
    probe: MachineProbe.run(),
    loadBefore,
    busyBefore
  }
}

interface Proc {
  readonly cpuMillis: number
  /** Start time since boot, in clock ticks. */
  readonly start: number
  readonly ppid: number
  readonly comm: string
}

/** CPU time of every process, at one instant. */
export interface Snapshot {
  readonly at: number
  /** Clock ticks since boot when it was taken. */
  readonly ticks: number
  readonly procs: ReadonlyMap<number, Proc>
}

/** Clock ticks since boot now. */
const ticksSinceBoot = (): number => {
  try {
    return Math.floor(Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 100)
  } catch {
    return 0
  }
}

/** Reads every process's CPU time from `/proc` (empty off Linux). */
export const snapshot = (): Snapshot => {
  const procs = new Map<number, Proc>()
  const ticks = ticksSinceBoot()
  let entries: Array<string> = []
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return { at: Date.now(), ticks, procs }
  }
  for (const entry of entries) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const close = stat.lastIndexOf(")")
      const comm = stat.slice(stat.indexOf("(") + 1, close)
      const fields = stat.slice(close + 2).split(" ")
      // fields[0] is field 3: ppid is field 4, utime 14, stime 15, starttime 22.
      procs.set(pid, {
        ppid: Number(fields[1]),
        cpuMillis: (Number(fields[11]) + Number(fields[12])) * 10,
        start: Number(fields[19]),
        comm
      })
    } catch {
      // the process ended meanwhile
    }
  }
  return { at: Date.now(), ticks, procs }
}

const commandLine = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()
  } catch {
    return ""
  }
}

/** A short name for a group of processes: the command, and for node the script it runs. */
const groupOf = (comm: string, cmdline: string): string => {
  if (cmdline.startsWith("postgres:")) {
    // "postgres: 15/main: <user> <database> <client> <state>" or "postgres: 15/main: walwriter".
    const rest = cmdline.replace(/^postgres: [^:]+: /, "")
    const words = rest.split(" ")
    return /\(\d+\)|\[local\]/.test(rest) ? `postgres backends (database ${words[1] ?? "?"})` : `postgres ${rest}`
  }
  if (comm.startsWith("postgres")) return "postgres"
  if (!comm.startsWith("node")) return comm
  const script = cmdline
    .split(" ")
    .filter((arg) => /\.(m?[jt]s|cjs)$/.test(arg) && !arg.includes("node_modules"))
    .at(0)
  return script === undefined ? comm : `${comm} ${path.basename(script)}`
}

/** CPU used per group of processes between two snapshots (see {@link busiest}). */
const usage = (
  from: Snapshot,
  to: Snapshot,
  exclude: ReadonlySet<number>,
  groups: Map<string, { cpuMillis: number; example: string; biggest: number }>
): void => {
  const startedAfter = from.ticks
  for (const [pid, now] of to.procs) {
    if (pid === process.pid || now.ppid === process.pid || exclude.has(pid)) continue
    const before = from.procs.get(pid)
    const used =
      before !== undefined && before.start === now.start
        ? now.cpuMillis - before.cpuMillis
        : now.start >= startedAfter
          ? now.cpuMillis
          : 0
    if (used <= 0) continue
    const cmdline = commandLine(pid)
    const key = groupOf(now.comm, cmdline)
    const group = groups.get(key) ?? { cpuMillis: 0, example: "", biggest: 0 }
    group.cpuMillis += used
    if (used > group.biggest) {
      group.biggest = used
      group.example = cmdline.replace(/\S*node_modules\S*\s?/g, "").slice(0, 110)
    }
    groups.set(key, group)
  }
}

/**
 * The processes that used the most CPU over consecutive snapshots, grouped
 * by command, excluding `exclude` (this process's PostgreSQL backends) and
 * this process and its children. A process started between two snapshots
 * counts from its start; one that started and ended between two snapshots
 * is missed.
 */
export const busiest = (
  snapshots: ReadonlyArray<Snapshot>,
  exclude: ReadonlySet<number>,
  top: number
): ReadonlyArray<Busy> => {
  const first = snapshots[0]
  const last = snapshots[snapshots.length - 1]
  if (first === undefined || last === undefined) return []
  const seconds = Math.max(0.001, (last.at - first.at) / 1000)
  const groups = new Map<string, { cpuMillis: number; example: string; biggest: number }>()
  for (let i = 1; i < snapshots.length; i++) {
    const from = snapshots[i - 1]
    const to = snapshots[i]
    if (from !== undefined && to !== undefined) usage(from, to, exclude, groups)
  }
  return [...groups.entries()]
    .sort((a, b) => b[1].cpuMillis - a[1].cpuMillis)
    .slice(0, top)
    .map(([what, g]) => ({
      what,
      cpuSeconds: g.cpuMillis / 1000,
      cores: g.cpuMillis / 1000 / seconds,
      example: g.example
    }))
}

/** The header lines of the report. */
export const describe = (env: Environment): ReadonlyArray<string> => {
  const g = env.git
  const commit =
    g === null
      ? "unknown (not a git checkout)"
      : `${g.commit}${g.dirty.length > 0 ? "-dirty" : ""} (${g.branch}) "${g.subject}"` +
        (g.dirty.length > 0
          ? `; uncommitted changes in: ${g.dirty.slice(0, 8).join(", ")}${g.dirty.length > 8 ? ", …" : ""}`
          : "")
  const s = env.postgresSettings
  return [
    `commit: ${commit}`,
    `code: ${codeLabel[env.code ?? "source"]}`,
    `date: ${env.date}`,
    `node ${env.node}, effect ${env.effect}; ${env.postgres.split(" on ")[0]} (synchronous_commit=${s.synchronous_commit ?? "?"}, fsync=${s.fsync ?? "?"}, shared_buffers=${s.shared_buffers ?? "?"}, jit=${s.jit ?? "?"})`,
    `machine: ${env.machine.cpus} × ${env.machine.model}, ${env.machine.memoryGb} GiB, Linux ${env.machine.kernel}`,
    ...(env.probe === undefined ? [] : [MachineProbe.describe(env.probe)]),
    `load average before: ${env.loadBefore.map((l) => l.toFixed(2)).join(" ")}`,
    `busiest other processes over 1 s before the run: ${formatBusy(env.busyBefore)}`
  ]
}

/** One line: each group's cores (and CPU seconds). */
export const formatBusy = (busy: ReadonlyArray<Busy>): string =>
  busy.length === 0
    ? "none"
    : busy.map((b) => `${b.what} ${b.cores.toFixed(2)} cores (${b.cpuSeconds.toFixed(1)} s)`).join("; ")

/** The 1-, 5- and 15-minute load averages now. */
export const loadAverage = (): ReadonlyArray<number> => os.loadavg()

/** The 1-minute load average now. */
export const load1 = (): number => os.loadavg()[0] ?? Number.NaN
