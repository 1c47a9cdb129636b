/**
 * The CLI's output service: escape sequences only on a terminal without
 * `NO_COLOR`, progress redrawn in place only on a terminal, `@effect/cli`'s
 * help through it; and the real `pnpm bank --help` piped (no escape codes),
 * and on a pseudo-terminal (`script`), with and without `NO_COLOR`.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Console, Effect, FastCheck, Layer, Logger } from "effect"
import { ensureFresh, programs } from "../../../scripts/bundle.mjs"
import { BankCli, Output } from "../src/index.js"

const esc = "\u001b"

const recording = (options: { readonly interactive: boolean; readonly colour: boolean }) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const output = Output.make({
    ...options,
    writer: {
      stdout: (text) => {
        out.push(text)
      },
      stderr: (text) => {
        err.push(text)
      }
    }
  })
  return { output, out, err }
}

describe("Output", () => {
  it("plain removes colours, cursor moves and titles, and nothing else", () => {
    expect(Output.plain(`${esc}[0;1m${esc}[0;37;1mChronicle bank${esc}[0;1m${esc}[0m`)).toBe("Chronicle bank")
    expect(Output.plain(`50%${esc}[K\r`)).toBe("50%\r")
    expect(Output.plain(`${esc}]0;title\u0007text`)).toBe("text")
    expect(Output.plain("balance 12.50 € — Ada")).toBe("balance 12.50 € — Ada")
  })

  it.prop(
    "plain leaves no ESC behind, and text without one as it is",
    [
      FastCheck.oneof(
        FastCheck.string({ unit: "binary", maxLength: 100 }),
        // dense in the pieces of escape sequences
        FastCheck.array(FastCheck.constantFrom(esc, "[", "]", "\\", "0", ";", "m", "K", "?", " ", "\u0007", "a"), {
          maxLength: 40
        }).map((pieces) => pieces.join(""))
      )
    ],
    ([text]) => {
      expect(Output.plain(text)).not.toContain(esc)
      if (!text.includes(esc)) expect(Output.plain(text)).toBe(text)
    }
  )

  it.effect("not a terminal: lines without escapes, progress as plain lines, nothing to end", () =>
    Effect.gen(function* () {
      const { output, out, err } = recording({ interactive: false, colour: true })
      expect(output.colour).toBe(false)
      yield* output.line(`${esc}[1mUSAGE${esc}[0m`)
      yield* output.progress("balances: 10/20")
      yield* output.progress("balances: 20/20")
      yield* output.endProgress
      yield* output.error(`${esc}[31mrefused${esc}[0m`)
      expect(out).toEqual(["USAGE\n", "balances: 10/20\n", "balances: 20/20\n"])
      expect(err).toEqual(["refused\n"])
    })
  )

  it.effect("a terminal: progress redrawn in place, then a line break; colour kept unless off", () =>
    Effect.gen(function* () {
      const { output, out } = recording({ interactive: true, colour: true })
      yield* output.progress("10/20")
      yield* output.progress("20/20")
      yield* output.endProgress
      yield* output.line(`${esc}[1mUSAGE${esc}[0m`)
      expect(out).toEqual([`\r10/20${esc}[K`, `\r20/20${esc}[K`, "\n", `${esc}[1mUSAGE${esc}[0m\n`])

      const noColour = recording({ interactive: true, colour: false })
      yield* noColour.output.line(`${esc}[1mUSAGE${esc}[0m`)
      expect(noColour.out).toEqual(["USAGE\n"])
    })
  )

  it.effect("NO_COLOR set and not empty turns colour off; empty or unset does not", () =>
    Effect.gen(function* () {
      const withEnv = (env: ReadonlyArray<readonly [string, string]>) =>
        Output.noColor.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env))))
      expect(yield* withEnv([["NO_COLOR", "1"]])).toBe(true)
      expect(yield* withEnv([["NO_COLOR", ""]])).toBe(false)
      expect(yield* withEnv([])).toBe(false)
    })
  )

  it.effect("Console through an output: log and error, loggers' synchronous writes, escapes removed", () =>
    Effect.gen(function* () {
      const { output, out, err } = recording({ interactive: false, colour: false })
      const console = Output.console(output)
      yield* Console.log(`${esc}[1mhelp${esc}[0m`, "text").pipe(Effect.withConsole(console))
      yield* Console.error("bad").pipe(Effect.withConsole(console))
      console.unsafe.error(`${esc}[33mwarning${esc}[0m: x`)
      expect(out).toEqual(["help text\n"])
      expect(err).toEqual(["bad\n", "warning: x\n"])
    })
  )

  it.effect("the CLI's logger prints warnings on stderr, one line each, but not the saga engine's housekeeping", () =>
    Effect.gen(function* () {
      const { output, out, err } = recording({ interactive: false, colour: false })
      yield* Effect.gen(function* () {
        yield* Effect.logWarning("ignoring snapshot\nof Account-1")
        yield* Effect.logWarning("No healthy runners available").pipe(
          Effect.annotateLogs({ package: "@effect/cluster", module: "Sharding" })
        )
        yield* Effect.logError("store unreachable").pipe(Effect.annotateLogs({ package: "@chronicle/sql-store" }))
      }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, BankCli.warnings)),
        Effect.withConsole(Output.console(output))
      )
      expect(out).toEqual([])
      expect(err).toEqual(["warning: ignoring snapshot of Account-1\n", "error: store unreachable\n"])
    })
  )

  it.effect("the CLI's help and its errors go through the output: no escape codes when piped", () =>
    Effect.gen(function* () {
      const { output, out, err } = recording({ interactive: false, colour: true })
      const help = yield* BankCli.main(["node", "bank", "--help"]).pipe(
        Effect.provide(Layer.merge(NodeContext.layer, Layer.succeed(Output.Output, output)))
      )
      expect(help).toBe(BankCli.ExitCode.ok)
      expect(out.join("")).toContain("USAGE")
      expect(out.join("")).toContain("transfers")
      const wrong = yield* BankCli.main(["node", "bank", "deposit", "alice", "12.5"]).pipe(
        Effect.provide(Layer.merge(NodeContext.layer, Layer.succeed(Output.Output, output)))
      )
      expect(wrong).toBe(BankCli.ExitCode.usage)
      expect(err.join("")).toContain("<cents> must be a positive whole number")
      expect(`${out.join("")}${err.join("")}`).not.toContain(esc)
    })
  )
})

// ---------------------------------------------------------------------------
// The real CLI, as a user runs it
// ---------------------------------------------------------------------------

const root = join(import.meta.dirname, "..", "..", "..")
// The bundled CLI, as `pnpm bank` runs it (rebuilt first when a source changed).
let cli = ""
beforeAll(async () => {
  cli = await ensureFresh(programs.bank)
})

const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  new Promise<{ readonly code: number | null; readonly stdout: string }>((resolve, reject) => {
    const environment: NodeJS.ProcessEnv = { ...process.env }
    delete environment.NO_COLOR
    delete environment.FORCE_COLOR
    for (const [key, value] of Object.entries(env)) if (value !== undefined) environment[key] = value
    const child = spawn(command, args, { cwd: root, env: environment, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    child.stdout.on("data", (chunk) => {
      stdout += chunk
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout }))
  })

/** `script` runs a command on a pseudo-terminal: the CLI's standard output is then a terminal. */
const onTerminal = (env: Record<string, string | undefined>) =>
  run("script", ["-qec", `${process.execPath} ${cli} --help`, "/dev/null"], { ...env, TERM: "xterm" })

describe("pnpm bank --help, really", () => {
  it("piped (not a terminal): plain text, no escape codes, even without NO_COLOR", { timeout: 120_000 }, async () => {
    const piped = await run(process.execPath, [cli, "--help"], {})
    expect(piped.code).toBe(0)
    expect(piped.stdout).toContain("USAGE")
    expect(piped.stdout).not.toContain(esc)
  })

  it.skipIf(!existsSync("/usr/bin/script"))(
    "on a terminal: colour, unless NO_COLOR is set",
    { timeout: 120_000 },
    async () => {
      const [coloured, noColour] = await Promise.all([onTerminal({}), onTerminal({ NO_COLOR: "1" })])
      expect(coloured.stdout).toContain("USAGE")
      expect(coloured.stdout).toContain(`${esc}[`)
      expect(noColour.stdout).toContain("USAGE")
      expect(noColour.stdout).not.toContain(esc)
    }
  )
})
