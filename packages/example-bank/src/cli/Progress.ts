/**
 * How the CLI shows a rebuild's progress, through the `Output`: on a
 * terminal, one line redrawn in place; otherwise about 20 lines in all, and
 * the last.
 *
 * Internal to the CLI (`BankCli`).
 *
 * @since 0.5.0
 */
import type { ProjectionAdmin } from "@chronicle/core"
import { Effect } from "effect"
import * as Output from "../Output.js"
import * as Render from "../Render.js"

/** On a terminal, one line redrawn in place; otherwise about 20 lines in all, and the last. */
export const progressPrinter = Effect.map(Output.Output, (output) => {
  let step = 0
  let every = 1
  let previous = ""
  return {
    print: (progress: ProjectionAdmin.Progress): Effect.Effect<void> => {
      const line = Render.progress(progress)
      // The end of the last batch and the end of the run can be the same point.
      if (line === previous) return Effect.void
      previous = line
      if (output.interactive) return output.progress(line)
      if (step === 0) every = Math.max(1, Math.ceil(progress.lag / 500 / 20))
      const print = step % every === 0 || progress.lag === 0
      step++
      return print ? output.progress(line) : Effect.void
    },
    done: output.endProgress
  }
})
