/**
 * Entry point of `pnpm bank`: runs `BankCli.main` on Node and exits with the
 * code it returns (0 ok, 1 refused or failed, 2 invalid input, 3 outcome
 * unknown; 130 when interrupted).
 *
 * @since 0.1.0
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import * as BankCli from "./BankCli.js"
import * as Output from "./Output.js"

// Output piped into a reader that stops early (`pnpm bank events a | head -1`):
// stop quietly instead of crashing with a stack trace on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? BankCli.ExitCode.ok)
    throw error
  })
}

NodeRuntime.runMain(BankCli.main(process.argv).pipe(Effect.provide(Layer.merge(NodeContext.layer, Output.layer))), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  // The teardown is generic in the program's result, hence the runtime check.
  teardown: (exit, onExit) =>
    onExit(
      Exit.isSuccess(exit)
        ? typeof exit.value === "number"
          ? exit.value
          : BankCli.ExitCode.ok
        : Cause.isInterruptedOnly(exit.cause)
          ? 130
          : BankCli.ExitCode.rejected
    )
})
