/**
 * Captures log lines, to assert what a store reports (a warning once per
 * outage, an info when it is over).
 */
import { Effect, Logger, type LogLevel, Schedule } from "effect"

export interface Line {
  readonly level: LogLevel.LogLevel["label"]
  readonly message: string
}

/** A logger that keeps every line (instead of printing it), and the lines. */
export const capture = Effect.sync(() => {
  const lines: Array<Line> = []
  const logger = Logger.make(({ logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push({ level: logLevel.label, message: text })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
})

const render = (lines: ReadonlyArray<Line>) => lines.map((l) => `${l.level} ${l.message}`).join("\n")

/** Waits (polling, for at most a minute) until a line matches, and returns it. */
export const waitFor = (lines: ReadonlyArray<Line>, matches: (line: Line) => boolean, what: string) =>
  Effect.suspend(() => {
    const found = lines.find(matches)
    return found !== undefined
      ? Effect.succeed(found)
      : Effect.fail(new Error(`no log line ${what} among:\n${render(lines)}`))
  }).pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("60 seconds"))))
