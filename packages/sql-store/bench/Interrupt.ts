/**
 * Ctrl-C (SIGINT) and SIGTERM in the benchmarks (`pnpm bench`, its
 * `--isolate` children, `pnpm bench:http`): what a run created is undone
 * before the process exits.
 *
 * A run registers what it creates as it creates it: its child processes
 * (`child`) and the undo actions (`undo`: drop the run's schema or
 * databases), which it unregisters once it undid them itself. On the first
 * SIGINT or SIGTERM the process
 * 1. stops every registered child and waits for it: a benchmark process
 *    (`--isolate`) is told over its IPC channel and cleans up after itself
 *    (it gets 9 s); any other child (the bank's server,
 *    wrk, W8's process) gets SIGTERM, then SIGKILL after 2 s;
 * 2. runs the undo actions, newest first, each retried until it succeeds,
 *    all within `undoMillis` (5 s);
 * 3. prints one line saying what it cleaned up and what it left behind, and
 *    exits with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
 *
 * A second signal (1 s or more after the first: a single Ctrl-C under
 * `pnpm` or the tsx CLI arrives as two or three signals within milliseconds)
 * exits at once: ordinary children are SIGKILLed, benchmark
 * children are sent the signal (their second too: they exit at once), and
 * the line names what is left behind. Once interrupted, the errors of the
 * interrupted work (its connections are terminated under it) are not
 * reported, and no new child starts (`check`).
 *
 * A benchmark child (`listenToParent`) takes its parent's message as its
 * first signal, never as its second: after Ctrl-C the terminal signals
 * every process of the group, so the child hears of it twice. Its IPC
 * channel closing (the parent is gone) interrupts it too, as SIGHUP.
 */
import type { ChildProcess } from "node:child_process"
import { constants } from "node:os"

/** How long the undo actions may take, in all, before the process exits anyway. */
const undoMillis = 5_000
/** How long an ordinary child has to exit after SIGTERM, before SIGKILL. */
const childMillis = 2_000
/** How long a benchmark child has to clean up after itself (its own children, then its undo actions) and exit. */
const benchChildMillis = childMillis + 1_000 + undoMillis + 1_000
const messageType = "chronicle-bench-interrupt"

/** Something a run created and must remove when it is interrupted. */
export interface Undo {
  /** Said once it is done ("dropped schema x"). */
  readonly done: string
  /** Said when it could not be done ("schema x"). */
  readonly left: string
  /** One attempt; retried until it succeeds or the time is up. */
  readonly run: () => Promise<void>
}

interface Child {
  readonly proc: ChildProcess
  readonly name: string
  /** A benchmark process told over IPC, which cleans up after itself. */
  readonly cleansItself: boolean
}

const undos = new Set<Undo>()
const children = new Set<Child>()
let label = "bench"
let installed = false
let signalled: NodeJS.Signals | undefined
let signalledAt = 0
/**
 * Signals this soon after the first are the same Ctrl-C heard twice, not a
 * second one: the terminal signals every process of the group, and `pnpm`
 * then sends its child SIGTERM, the tsx CLI relays it to its own 30 ms later.
 */
const sameSignalMillis = 1_000

const exitCode = (signal: NodeJS.Signals): number => 128 + (constants.signals[signal] ?? 0)

/** The error that stops the run's own work once it is interrupted. */
export class Interrupted extends Error {
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`)
  }
}

/** Whether the process has been interrupted (its clean-up is under way). */
export const interrupted = (): boolean => signalled !== undefined

/** Throws `Interrupted` once the process has been interrupted: call it before starting a child or a pass. */
export const check = (): void => {
  if (signalled !== undefined) throw new Interrupted(signalled)
}

/** Handles SIGINT and SIGTERM from now on; `name` starts the lines printed (`bench`, `bench:http`). */
export const install = (name: string): void => {
  label = name
  if (installed) return
  installed = true
  process.on("SIGINT", (signal) => interrupt(signal, false))
  process.on("SIGTERM", (signal) => interrupt(signal, false))
}

/**
 * In a benchmark child started with an IPC channel (`child(…, { cleansItself:
 * true })`): the parent's interrupt message, and the channel closing, interrupt
 * this process (as its first signal). The channel does not keep it alive.
 */
export const listenToParent = (): void => {
  if (process.send === undefined) return
  process.on("message", (message: unknown) => {
    if (typeof message !== "object" || message === null || Reflect.get(message, "type") !== messageType) return
    const signal: unknown = Reflect.get(message, "signal")
    interrupt(signal === "SIGTERM" ? "SIGTERM" : "SIGINT", true)
  })
  process.on("disconnect", () => interrupt("SIGHUP", true, " (the parent process is gone)"))
  process.channel?.unref()
}

/** Registers what to undo if the run is interrupted; returns its removal (call it once the run undid it itself). */
export const undo = (action: Undo): (() => void) => {
  undos.add(action)
  return () => {
    undos.delete(action)
  }
}

/**
 * Registers a child process, to be stopped if the run is interrupted (until
 * it exits). `cleansItself`: a benchmark process spawned with an IPC channel
 * and `listenToParent`, told over it, and given the time to clean up.
 */
export const child = (proc: ChildProcess, name: string, options?: { readonly cleansItself?: boolean }): void => {
  const entry: Child = { proc, name, cleansItself: options?.cleansItself === true }
  if (proc.exitCode !== null || proc.signalCode !== null) return
  children.add(entry)
  proc.once("exit", () => children.delete(entry))
  // A child that could not start has nothing to stop (and never emits "exit").
  proc.once("error", () => {
    if (proc.pid === undefined) children.delete(entry)
  })
}

const exited = (proc: ChildProcess): boolean => proc.exitCode !== null || proc.signalCode !== null

/** Waits for `proc` to exit, at most `millis`; whether it did. */
const waitExit = (proc: ChildProcess, millis: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (exited(proc)) return resolve(true)
    const timer = setTimeout(() => resolve(exited(proc)), millis)
    proc.once("exit", () => {
      clearTimeout(timer)
      resolve(true)
    })
  })

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** Stops one child; what was done. */
const stop = async (c: Child, signal: NodeJS.Signals): Promise<string> => {
  if (c.cleansItself && c.proc.connected) c.proc.send({ type: messageType, signal }, () => undefined)
  else if (!exited(c.proc)) c.proc.kill("SIGTERM")
  const limit = c.cleansItself ? benchChildMillis : childMillis
  if (await waitExit(c.proc, limit)) {
    return c.cleansItself
      ? `stopped ${c.name} (exit code ${c.proc.exitCode ?? c.proc.signalCode}; it cleaned up after itself, see its line)`
      : `stopped ${c.name}`
  }
  c.proc.kill("SIGKILL")
  await waitExit(c.proc, 1_000)
  return `killed ${c.name} (still running after ${limit / 1000} s)`
}

/** One undo action, retried until it succeeds or `deadline` passes; whether it succeeded. */
const attempt = async (action: Undo, deadline: number): Promise<boolean> => {
  for (;;) {
    const left = deadline - Date.now()
    if (left <= 0) return false
    const timedOut = sleep(left).then(() => false)
    const done = action.run().then(
      () => true,
      () => false
    )
    if (await Promise.race([done, timedOut])) return true
    if (deadline - Date.now() <= 250) return false
    await sleep(250)
  }
}

const leftBehind = (): string =>
  undos.size === 0 ? "" : `; LEFT BEHIND (remove by hand): ${[...undos].map((u) => u.left).join(", ")}`

const finish = (signal: NodeJS.Signals, cleaned: ReadonlyArray<string>, note: string): never => {
  const what = cleaned.length === 0 ? "nothing to clean up" : `cleaned up: ${cleaned.join("; ")}`
  const still = [...children].map((c) => c.name)
  console.error(
    `${label}: interrupted by ${signal}: ${what}${leftBehind()}${still.length > 0 ? `; still running: ${still.join(", ")}` : ""}${note}`
  )
  return process.exit(exitCode(signal))
}

const cleanUp = async (signal: NodeJS.Signals): Promise<void> => {
  const cleaned: Array<string> = []
  // The bound of the whole clean-up, whatever hangs.
  const waits = [...children].some((c) => c.cleansItself) ? benchChildMillis : childMillis
  setTimeout(() => finish(signal, cleaned, " (clean-up timed out)"), waits + 1_000 + undoMillis + 500)
  cleaned.push(...(await Promise.all([...children].map((c) => stop(c, signal)))))
  const deadline = Date.now() + undoMillis
  for (const action of [...undos].reverse()) {
    if (await attempt(action, deadline)) {
      undos.delete(action)
      cleaned.push(action.done)
    }
  }
  finish(signal, cleaned, "")
}

const interrupt = (signal: NodeJS.Signals, fromParent: boolean, why = ""): void => {
  if (signalled !== undefined) {
    if (fromParent || Date.now() - signalledAt < sameSignalMillis) return
    for (const c of children) c.proc.kill(c.cleansItself ? signal : "SIGKILL")
    console.error(`${label}: second ${signal}: exiting at once${leftBehind()}`)
    process.exit(exitCode(signal))
  }
  signalled = signal
  signalledAt = Date.now()
  // The interrupted work fails as its connections are terminated and its children stopped: not reported.
  process.on("uncaughtException", () => undefined)
  process.on("unhandledRejection", () => undefined)
  console.error(`${label}: ${signal}${why}: cleaning up (at most a few seconds; Ctrl-C again to exit at once)`)
  void cleanUp(signal)
}
