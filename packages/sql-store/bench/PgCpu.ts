/**
 * CPU time on the database side, read from Linux's `/proc` (PostgreSQL runs
 * on the same host as the benchmark).
 *
 * Method: each side's pools connect with their own `application_name`
 * (`<run id>-chr…` or `<run id>-raw`). Before a pass, `pg_stat_activity`
 * gives the pids of the backends with that name, and of PostgreSQL's
 * background processes (`backend_type` other than `client backend`: WAL
 * writer, checkpointer, background writer, autovacuum, …) plus the
 * postmaster. When the pass's timed region starts and stops, the CPU time of
 * each of these processes is read (`/proc/<pid>/schedstat`: time on CPU in
 * nanoseconds, user + system; `/proc/<pid>/stat` utime + stime in clock ticks
 * when schedstat is missing), and so is the whole machine's busy time
 * (`/proc/stat`). After the pass, backends of the side that appeared during
 * it are counted with their whole CPU time, and backends that exited during
 * it are reported as lost (their CPU is missing).
 *
 * Parallel workers are processes of their own that live for one query: they
 * are not in the side's number. The CPU of every PostgreSQL process that
 * exited during the pass (parallel workers, but also other clients'
 * backends that disconnected) is reported beside, as `pgExitedMillis`, from
 * the postmaster's reaped-children time (10 ms ticks).
 *
 * Limits: the side's number covers its own backends only: parsing, planning,
 * executing, WAL insertion and the commit's WAL flush done by the backend
 * (the CPU part; waiting for the disk is not CPU). The background processes
 * serve every client of the server, including other people's tests on a
 * shared machine, so their number is reported beside, not added. The
 * per-pass machine busy time minus this process's and the backends' CPU is
 * the CPU used by everything else during the pass (the noise).
 */
import * as fs from "node:fs"
import type pg from "pg"
import type { Measurement, Probe, ProbeReading } from "./Measure.js"

/** Clock ticks per second of `/proc/<pid>/stat` and `/proc/stat` (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100

/** Whether `/proc` can be read at all (Linux, and PostgreSQL on this host). */
export const available = (): boolean => {
  try {
    fs.readFileSync("/proc/stat", "utf8")
    return true
  } catch {
    return false
  }
}

/** Whether `/proc/<pid>/schedstat` exists (time on CPU in nanoseconds); else ticks from `/proc/<pid>/stat`. */
const schedstat = fs.existsSync("/proc/self/schedstat")

/** The CPU time a process has used, in milliseconds; undefined when it is gone or unreadable. */
export const processCpuMillis = (pid: number): number | undefined => {
  try {
    if (schedstat) {
      const nanos = Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0])
      return Number.isFinite(nanos) ? nanos / 1e6 : undefined
    }
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? (ticks * 1000) / ticksPerSecond : undefined
  } catch {
    return undefined
  }
}

/** How process CPU time is read, for the report. */
export const method = (): string =>
  schedstat ? "/proc/<pid>/schedstat (ns on CPU)" : "/proc/<pid>/stat utime+stime (10 ms ticks)"

/** The parent pid of a process (from `/proc/<pid>/stat`), or undefined. */
export const parentPid = (pid: number): number | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    return Number.isInteger(ppid) ? ppid : undefined
  } catch {
    return undefined
  }
}

/**
 * CPU time of the children a process has reaped (`cutime + cstime` of
 * `/proc/<pid>/stat`), in milliseconds: for the postmaster, the CPU of every
 * PostgreSQL process that has exited (backends, parallel workers,
 * autovacuum workers).
 */
export const reapedChildrenCpuMillis = (pid: number): number | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const ticks = Number(fields[13]) + Number(fields[14])
    return Number.isFinite(ticks) ? (ticks * 1000) / ticksPerSecond : undefined
  } catch {
    return undefined
  }
}

/** Busy CPU time of the whole machine since boot, in milliseconds (all cores; idle and iowait excluded). */
export const machineBusyMillis = (): number | undefined => {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
    const [label, ...values] = line.trim().split(/\s+/)
    if (label !== "cpu") return undefined
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const n = values.slice(0, 8).map(Number)
    const busy = (n[0] ?? 0) + (n[1] ?? 0) + (n[2] ?? 0) + (n[5] ?? 0) + (n[6] ?? 0) + (n[7] ?? 0)
    return (busy * 1000) / ticksPerSecond
  } catch {
    return undefined
  }
}

interface Activity {
  readonly pid: number
  readonly application_name: string | null
  readonly backend_type: string | null
}

const activity = async (admin: pg.Client): Promise<ReadonlyArray<Activity>> => {
  const result = await admin.query("SELECT pid, application_name, backend_type FROM pg_stat_activity")
  // Decoding a driver row: pg_stat_activity's columns, as pg returns them.
  return result.rows as ReadonlyArray<Activity>
}

const readAll = (pids: Iterable<number>): Map<number, number> => {
  const out = new Map<number, number>()
  for (const pid of pids) {
    const millis = processCpuMillis(pid)
    if (millis !== undefined) out.set(pid, millis)
  }
  return out
}

const sumDeltas = (before: Map<number, number>, after: Map<number, number>) => {
  let total = 0
  let lost = 0
  for (const [pid, start] of before) {
    const stop = after.get(pid)
    if (stop === undefined) lost++
    else total += stop - start
  }
  return { total, lost }
}

/** A probe for one side's pools, to be refreshed before and completed after each pass. */
export interface SideProbe extends Probe {
  /** Before a pass: list the side's backends and the server's background processes. */
  readonly refresh: () => Promise<void>
  /** After a pass: count backends that appeared during it, and return the readings. */
  readonly result: () => Promise<ProbeReading>
  /** The pids of the side's backends at the last refresh. */
  readonly pids: () => ReadonlyArray<number>
}

/**
 * A probe of the backends whose `application_name` starts with
 * `applicationPrefix`, read through `admin` (a connection of its own, not
 * counted). Returns a probe that measures nothing when `/proc` is unreadable.
 */
export const makeProbe = (admin: pg.Client, applicationPrefix: string): SideProbe => {
  const enabled = available()
  let side: ReadonlyArray<number> = []
  let background: ReadonlyArray<number> = []
  let sideBefore = new Map<number, number>()
  let sideAfter = new Map<number, number>()
  let backgroundBefore = new Map<number, number>()
  let backgroundAfter = new Map<number, number>()
  let busyBefore: number | undefined
  let busyAfter: number | undefined
  let postmaster: number | undefined
  let reapedBefore: number | undefined
  let reapedAfter: number | undefined
  const mine = (a: Activity) =>
    a.backend_type === "client backend" && (a.application_name ?? "").startsWith(applicationPrefix)
  return {
    pids: () => side,
    refresh: async () => {
      if (!enabled) return
      const rows = await activity(admin)
      side = rows.filter(mine).map((a) => a.pid)
      const others = rows
        .filter((a) => a.backend_type !== null && a.backend_type !== "client backend")
        .map((a) => a.pid)
      postmaster = others.length > 0 && others[0] !== undefined ? parentPid(others[0]) : undefined
      background = postmaster === undefined ? others : [...others, postmaster]
    },
    begin: () => {
      if (!enabled) return
      sideBefore = readAll(side)
      backgroundBefore = readAll(background)
      busyBefore = machineBusyMillis()
      reapedBefore = postmaster === undefined ? undefined : reapedChildrenCpuMillis(postmaster)
      sideAfter = new Map()
      backgroundAfter = new Map()
      busyAfter = undefined
    },
    end: () => {
      if (!enabled) return
      sideAfter = readAll(side)
      backgroundAfter = readAll(background)
      busyAfter = machineBusyMillis()
      reapedAfter = postmaster === undefined ? undefined : reapedChildrenCpuMillis(postmaster)
    },
    result: async () => {
      if (!enabled || busyBefore === undefined || busyAfter === undefined) return {}
      const rows = await activity(admin)
      const appeared = rows.filter(mine).filter((a) => !sideBefore.has(a.pid))
      const sideCpu = sumDeltas(sideBefore, sideAfter)
      const newCpu = [...readAll(appeared.map((a) => a.pid)).values()].reduce((a, b) => a + b, 0)
      const backgroundCpu = sumDeltas(backgroundBefore, backgroundAfter)
      return {
        pgCpuMillis: sideCpu.total + newCpu,
        pgBackgroundMillis: backgroundCpu.total,
        machineBusyMillis: busyAfter - busyBefore,
        lostBackends: sideCpu.lost,
        ...(reapedBefore !== undefined && reapedAfter !== undefined
          ? { pgExitedMillis: reapedAfter - reapedBefore }
          : {})
      }
    }
  }
}

/**
 * A measurement with a probe's readings: the side's PostgreSQL CPU, the
 * background processes' CPU, and the CPU everything else used meanwhile
 * (machine busy time minus this process, the side's backends and the
 * background processes).
 */
export const complete = (m: Measurement, r: ProbeReading): Measurement => {
  if (r.pgCpuMillis === undefined || r.machineBusyMillis === undefined) return m
  const background = r.pgBackgroundMillis ?? 0
  const exited = r.pgExitedMillis ?? 0
  return {
    ...m,
    pgCpuMillis: r.pgCpuMillis,
    pgBackgroundMillis: background,
    ...(r.pgExitedMillis === undefined ? {} : { pgExitedMillis: r.pgExitedMillis }),
    otherCpuMillis: Math.max(0, r.machineBusyMillis - m.cpuMillis - r.pgCpuMillis - background - exited),
    ...(r.lostBackends !== undefined && r.lostBackends > 0 ? { lostBackends: r.lostBackends } : {})
  }
}
