/**
 * Where the CLI prints: a small service with the two streams (reports on
 * standard output, errors on standard error), a progress line, and whether
 * the output is a terminal.
 *
 * - On a terminal, a progress line is redrawn in place; otherwise it is
 *   printed as a line of its own (the caller prints few of them).
 * - Colour and other escape sequences are printed only when standard output
 *   is a terminal and `NO_COLOR` is unset (or empty, see no-color.org):
 *   otherwise every escape sequence is removed from what is printed, so
 *   `pnpm bank --help | cat` prints plain text. The help of `@effect/cli`
 *   goes through it too, via {@link console}.
 *
 * `layer` is the process's own output; `make` builds one over any writer
 * (tests capture what is printed with it).
 *
 * @since 0.5.0
 */
import { Config, Console, Context, Effect, Layer, Option } from "effect"

/**
 * What an {@link Output} writes to: text as it is, line breaks included.
 *
 * @example
 * ```ts
 * import { Output } from "@chronicle/example-bank"
 *
 * const lines: Array<string> = []
 * const captured: Output.Writer = { stdout: (text) => lines.push(text), stderr: (text) => lines.push(`! ${text}`) }
 * const output = Output.make({ interactive: false, colour: false, writer: captured })
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Writer {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

/**
 * The output service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Output } from "@chronicle/example-bank"
 *
 * const report = (output: Output.Service) =>
 *   Effect.zipRight(output.progress("seeding 10/20"), output.colour ? output.line("\u001b[32mdone\u001b[0m") : output.line("done"))
 * const program = Effect.flatMap(Output.Output, report)
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Service {
  /** Standard output is a terminal: progress is redrawn in place. */
  readonly interactive: boolean
  /** Colour and escape sequences are printed (a terminal, and no `NO_COLOR`). */
  readonly colour: boolean
  /** Prints a line (or several) on standard output. */
  readonly line: (text: string) => Effect.Effect<void>
  /** Prints a line (or several) on standard error. */
  readonly error: (text: string) => Effect.Effect<void>
  /** Shows a progress line: redrawn in place on a terminal, else printed as a line. */
  readonly progress: (text: string) => Effect.Effect<void>
  /** Ends a run of progress lines (on a terminal, moves to the next line). */
  readonly endProgress: Effect.Effect<void>
  /** The writer, for what prints synchronously (loggers); escapes removed as for every line. */
  readonly unsafe: Writer
}

/**
 * The CLI's output.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Output } from "@chronicle/example-bank"
 *
 * const hello = Effect.flatMap(Output.Output, (output) => output.line("hello"))
 * ```
 * @since 0.5.0
 * @category services
 */
export class Output extends Context.Tag("@chronicle/example-bank/Output")<Output, Service>() {}

// CSI (colours, cursor moves, erasing), OSC (titles, links) and any other ESC sequence.
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what this removes
const escapes = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]?/g

/**
 * Removes escape sequences (colours, cursor moves, titles) from text.
 *
 * @example
 * ```ts
 * import { Output } from "@chronicle/example-bank"
 *
 * Output.plain("\u001b[0;1mUSAGE\u001b[0m") // "USAGE"
 * ```
 * @since 0.5.0
 * @category escaping
 */
export const plain = (text: string): string => text.replace(escapes, "")

/**
 * An output over a writer.
 *
 * @example
 * ```ts
 * import { Output } from "@chronicle/example-bank"
 *
 * const printed: Array<string> = []
 * const output = Output.make({
 *   interactive: false,
 *   colour: false,
 *   writer: { stdout: (text) => printed.push(text), stderr: (text) => printed.push(text) }
 * })
 * ```
 * @since 0.5.0
 * @category constructors
 */
export const make = (options: {
  readonly interactive: boolean
  readonly colour: boolean
  readonly writer: Writer
}): Service => {
  const { interactive, writer } = options
  const colour = interactive && options.colour
  const clean = colour ? (text: string) => text : plain
  const unsafe: Writer = {
    stdout: (text) => writer.stdout(clean(text)),
    stderr: (text) => writer.stderr(clean(text))
  }
  return {
    interactive,
    colour,
    line: (text) => Effect.sync(() => unsafe.stdout(`${text}\n`)),
    error: (text) => Effect.sync(() => unsafe.stderr(`${text}\n`)),
    // On a terminal: back to the start of the line, the text, then erase what a longer line left.
    progress: (text) =>
      Effect.sync(() => (interactive ? writer.stdout(`\r${clean(text)}\u001b[K`) : unsafe.stdout(`${text}\n`))),
    endProgress: interactive ? Effect.sync(() => writer.stdout("\n")) : Effect.void,
    unsafe
  }
}

/**
 * Whether `NO_COLOR` asks for no colour: set, and not empty.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Output } from "@chronicle/example-bank"
 *
 * const off = Effect.runSync(Output.noColor)
 * ```
 * @since 0.5.0
 * @category configuration
 */
export const noColor: Effect.Effect<boolean> = Config.option(Config.string("NO_COLOR")).pipe(
  Effect.map(Option.exists((value) => value !== "")),
  Effect.orElseSucceed(() => false)
)

/**
 * The process's output: standard output and error, a terminal or not,
 * colour unless `NO_COLOR`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Output } from "@chronicle/example-bank"
 *
 * const program = Effect.flatMap(Output.Output, (output) => output.line("done")).pipe(Effect.provide(Output.layer))
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer: Layer.Layer<Output> = Layer.effect(
  Output,
  Effect.map(noColor, (off) =>
    make({
      interactive: process.stdout.isTTY === true,
      colour: !off,
      writer: { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) }
    })
  )
)

/**
 * A `Console` that prints through an output (`log` and `info` on standard
 * output, `error` and `warn` on standard error, escapes removed when colour
 * is off): for code that prints with `Console`, such as `@effect/cli`'s help
 * and error messages, and loggers.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { Output } from "@chronicle/example-bank"
 *
 * const help = Effect.flatMap(Output.Output, (output) =>
 *   Console.log("\u001b[1mUSAGE\u001b[0m").pipe(Effect.withConsole(Output.console(output)))
 * )
 * ```
 * @since 0.5.0
 * @category console
 */
export const console = (output: Service): Console.Console => {
  const text = (args: ReadonlyArray<unknown>) => args.map(String).join(" ")
  const ignore = () => Effect.void
  const out = (...args: ReadonlyArray<unknown>) => output.line(text(args))
  const err = (...args: ReadonlyArray<unknown>) => output.error(text(args))
  const unsafeOut = (...args: ReadonlyArray<unknown>) => output.unsafe.stdout(`${text(args)}\n`)
  const unsafeErr = (...args: ReadonlyArray<unknown>) => output.unsafe.stderr(`${text(args)}\n`)
  return {
    [Console.TypeId]: Console.TypeId,
    assert: ignore,
    clear: Effect.void,
    count: ignore,
    countReset: ignore,
    debug: ignore,
    dir: ignore,
    dirxml: ignore,
    error: err,
    group: ignore,
    groupEnd: Effect.void,
    info: out,
    log: out,
    table: ignore,
    time: ignore,
    timeEnd: ignore,
    timeLog: ignore,
    trace: ignore,
    warn: err,
    unsafe: { ...globalThis.console, log: unsafeOut, info: unsafeOut, error: unsafeErr, warn: unsafeErr }
  }
}

/**
 * Prints a line on standard output, through the {@link Output} in context.
 *
 * @example
 * ```ts
 * import { Output } from "@chronicle/example-bank"
 *
 * const done = Output.print("Rebuilt balances.")
 * ```
 * @since 0.5.0
 * @category printing
 */
export const print = (text: string): Effect.Effect<void, never, Output> =>
  Effect.flatMap(Output, (output) => output.line(text))

/**
 * Prints a line on standard error, through the {@link Output} in context.
 *
 * @example
 * ```ts
 * import { Output } from "@chronicle/example-bank"
 *
 * const failed = Output.printError("account alice: insufficient funds")
 * ```
 * @since 0.5.0
 * @category printing
 */
export const printError = (text: string): Effect.Effect<void, never, Output> =>
  Effect.flatMap(Output, (output) => output.error(text))
