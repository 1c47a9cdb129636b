/**
 * The bank CLI run in process (`BankCli.main`), its output captured: shared
 * by the in-process CLI tests (`BankCli.test.ts`, `TransferCli.test.ts`).
 */
import { NodeContext } from "@effect/platform-node"
import { ConfigProvider, Effect } from "effect"
import { BankCli, Output } from "../../src/index.js"

/** What one run of the CLI gave: its exit code and what it printed. */
export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** What the CLI prints, captured: not a terminal, no colour (as when piped). */
export const capturing = (out: Array<string>, err: Array<string>): Output.Service =>
  Output.make({
    interactive: false,
    colour: false,
    writer: {
      stdout: (text) => {
        out.push(text)
      },
      stderr: (text) => {
        err.push(text)
      }
    }
  })

/**
 * Runs `bank <args>` with this configuration (as environment variables would
 * give it), and with the CLI's stores built by `stores` when given.
 */
export const run = (
  args: ReadonlyArray<string>,
  config: ReadonlyArray<readonly [string, string]>,
  stores?: BankCli.StoreLayer["Type"]
): Effect.Effect<Run> =>
  Effect.gen(function* () {
    const out: Array<string> = []
    const err: Array<string> = []
    const code = yield* BankCli.main(["node", "bank", ...args]).pipe(
      Effect.provideService(Output.Output, capturing(out, err)),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(config))),
      stores === undefined ? (effect) => effect : Effect.provideService(BankCli.StoreLayer, stores),
      Effect.provide(NodeContext.layer)
    )
    return { code, stdout: out.join(""), stderr: err.join("") }
  })
