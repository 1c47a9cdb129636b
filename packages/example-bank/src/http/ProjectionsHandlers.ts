/**
 * The handlers of the `projections` group: each projection's status and lag
 * (`Projections.status`: every registered projection version, and a
 * `never run` line for a bank projection not registered yet), and rebuilds
 * through {@link BackgroundProjections.BackgroundProjections}.
 *
 * @since 0.5.0
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import * as Projections from "../Projections.js"
import * as ApiErrors from "./ApiErrors.js"
import * as ApiModels from "./ApiModels.js"
import * as BackgroundProjections from "./BackgroundProjections.js"
import { BankApi } from "./BankApi.js"

/**
 * The `projections` handlers.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { BankApi, ProjectionsHandlers } from "@chronicle/example-bank/http"
 *
 * const api = HttpApiBuilder.api(BankApi.BankApi).pipe(Layer.provide(ProjectionsHandlers.layer))
 * ```
 * @since 0.5.0
 * @category handlers
 */
export const layer = HttpApiBuilder.group(BankApi, "projections", (handlers) =>
  Effect.gen(function* () {
    const background = yield* BackgroundProjections.BackgroundProjections
    return handlers
      .handle("list", () =>
        Effect.gen(function* () {
          const lines = yield* Projections.status.pipe(Effect.mapError(ApiErrors.fromStoreError))
          const items = yield* Effect.forEach(lines, (line) =>
            Effect.map(
              line.version === background.definitions.find((d) => d.name === line.name)?.version
                ? background.lastRebuild(line.name)
                : Effect.succeedNone,
              (rebuild) => ApiModels.projectionView(line, rebuild)
            )
          )
          return { items }
        })
      )
      .handle("rebuild", ({ path }) => background.rebuild(path.name))
      .handle("rebuildStatus", ({ path }) =>
        Effect.flatMap(background.lastRebuild(path.name), (rebuild) =>
          Option.match(rebuild, {
            onNone: () =>
              Effect.fail(
                new ApiErrors.NotFound({
                  resource: "rebuild",
                  id: path.name,
                  message: `no rebuild of ${path.name} was started by this server`
                })
              ),
            onSome: Effect.succeed
          })
        )
      )
  })
)
