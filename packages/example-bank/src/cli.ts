/**
 * Entry point of `pnpm bank`: runs `BankCli.main` on Node and exits with the
 * code it returns (0 ok, 1 rejected, 2 invalid input).
 *
 * @since 0.1.0
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import * as BankCli from "./BankCli.js"

NodeRuntime.runMain(BankCli.main(process.argv).pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: true,
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
