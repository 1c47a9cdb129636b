/**
 * `--isolate` (the default for a round of several workloads): every group of
 * workloads runs in a benchmark process of its own, one after the other, and
 * the parent merges their results into one report.
 *
 * Why: in one process, a workload's passes pay for the garbage, the heap size
 * and the JIT state that the workloads before it left (BENCHMARKS.md, "Issue
 * 12, W1/W2 in the full round": W1's first pass of each run paid a major GC of
 * the previous workloads' garbage, charged to whichever side went first). In a
 * process of its own a workload is measured as an application runs it, and as
 * `--only` measures it alone. Both sides still run in the same process, back
 * to back and alternating, so each pair stays paired.
 *
 * The groups keep together what shares a set-up or a derived target: W1 with
 * W2 (W2/W1 is a per-run ratio), W4 with S1 (the same 10,000-event stream).
 * Each child gets the parent's arguments with `--only <group>` and a JSON file
 * of its own; it prints its own report as it goes, and the parent prints the
 * merged one (and writes it with `--json`). On Ctrl-C or SIGTERM the parent
 * tells the running child over an IPC channel, waits for it to drop its own
 * schema and exit (bounded), and exits (`Interrupt.ts`).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as Environment from "./Environment.js"
import * as Interrupt from "./Interrupt.js"
import { summarize } from "./Measure.js"
import type * as Report from "./Report.js"

/** The groups, in the order a round runs them; a group runs when any of its workloads is selected. */
export const groups: ReadonlyArray<ReadonlyArray<string>> = [
  ["W1", "W2"],
  ["W3"],
  ["W4", "S1"],
  ["W5"],
  ["P1"],
  ["W6"],
  ["W7"],
  ["W8"]
]

/** The selected workloads, split into the groups that run in processes of their own. */
export const plan = (only: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> =>
  groups.map((group) => group.filter((w) => only.includes(w))).filter((group) => group.length > 0)

/** `args` without the options the parent decides for each child. */
const childArgs = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? ""
    if (a === "--only" || a === "--json" || a === "--isolate") {
      i++
      continue
    }
    if (a.startsWith("--only=") || a.startsWith("--json=") || a.startsWith("--isolate=")) continue
    out.push(a)
  }
  return out
}

/**
 * Runs one group's process. It has an IPC channel: on Ctrl-C or SIGTERM this
 * process tells it over the channel (`Interrupt.ts`), and it drops its own
 * schema before it exits; it also hears Ctrl-C from the terminal, and counts
 * the two as one signal.
 */
const runChild = (script: string, args: ReadonlyArray<string>, group: string): Promise<void> =>
  new Promise((resolve, reject) => {
    Interrupt.check()
    const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      env: { ...process.env, BENCH_ONLY: "" }
    })
    Interrupt.child(child, `the process of ${group}`, { cleansItself: true })
    child.once("error", reject)
    child.once("exit", (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`bench: the process of ${args.join(" ")} ended with ${signal ?? `exit code ${code}`}`))
    })
  })

/** One results file from several: the groups' rows and checks in order, the environment of the first. */
export const merge = (parts: ReadonlyArray<Report.Results>, isolated: string): Report.Results => {
  const [first] = parts
  if (first === undefined) throw new Error("bench: --isolate: no workload ran")
  const last = parts[parts.length - 1] ?? first
  const loads = parts.flatMap((p) => [p.loadRange.min, p.loadRange.max]).filter((l) => !Number.isNaN(l))
  const busy = new Map<string, Environment.Busy>()
  for (const entry of parts.flatMap((p) => p.busyDuring)) {
    const seen = busy.get(entry.what)
    if (seen === undefined || entry.cores > seen.cores) busy.set(entry.what, entry)
  }
  return {
    format: first.format,
    environment: first.environment,
    options: {
      ...first.options,
      only: parts.map((p) => String(p.options.only ?? "")).join(","),
      isolate: isolated
    },
    finishedAt: last.finishedAt,
    loadAfter: last.loadAfter,
    loadRange: { min: summarize(loads).min, max: summarize(loads).max },
    busyDuring: [...busy.values()].sort((a, b) => b.cores - a.cores).slice(0, 8),
    rows: parts.flatMap((p) => p.rows),
    checks: parts.flatMap((p) => p.checks)
  }
}

/**
 * Runs each group of `only` in a child process (this script, the same Node
 * options and arguments), and returns the merged results.
 */
export const run = async (
  script: string,
  args: ReadonlyArray<string>,
  only: ReadonlyArray<string>,
  read: (file: string) => Report.Results
): Promise<Report.Results> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chronicle-bench-"))
  try {
    const parts: Array<Report.Results> = []
    const todo = plan(only)
    for (const [i, group] of todo.entries()) {
      const file = path.join(dir, `${i}.json`)
      console.log(`\nbench: --isolate: process ${i + 1}/${todo.length}: ${group.join(", ")}`)
      await runChild(
        script,
        [...childArgs(args), "--isolate", "off", "--only", group.join(","), "--json", file],
        group.join("+")
      )
      parts.push(read(file))
    }
    return merge(parts, `one process per group: ${todo.map((g) => g.join("+")).join(", ")}`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
