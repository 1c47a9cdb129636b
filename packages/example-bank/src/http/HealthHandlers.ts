/**
 * The handler of `GET /api/health`: whether the store answers (within
 * {@link storeTimeout}), whether the global feed is held back
 * (`EventStore.feedStatus`: committed events readers cannot see yet, and the
 * open transaction holding them back), each projection's state and lag, and
 * how many clients follow the live feed.
 *
 * `ok` when all is well; `degraded` when the feed is held back or a
 * projection failed, went stale or parked events; `down`, as a 503, when the
 * store does not answer.
 *
 * @since 0.5.0
 */
import { EventStore, FeedStatus, Position, ProjectionAdmin, StoreError } from "@chronicle/core"
import { HttpApiBuilder } from "@effect/platform"
import { DateTime, Duration, Effect, Either } from "effect"
import * as ApiErrors from "./ApiErrors.js"
import type * as ApiModels from "./ApiModels.js"
import { BankApi } from "./BankApi.js"
import * as LiveFeed from "./LiveFeed.js"

/**
 * How long the health check waits for the store.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { HealthHandlers } from "@chronicle/example-bank/http"
 *
 * Duration.format(HealthHandlers.storeTimeout) // "3s"
 * ```
 * @since 0.5.0
 * @category constants
 */
export const storeTimeout = Duration.seconds(3)

const timedOut = (operation: string) =>
  StoreError.make({ operation, reason: "timeout", detail: `no answer within ${Duration.format(storeTimeout)}` })

/**
 * The `health` handler.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { BankApi, HealthHandlers } from "@chronicle/example-bank/http"
 *
 * const api = HttpApiBuilder.api(BankApi.BankApi).pipe(Layer.provide(HealthHandlers.layer))
 * ```
 * @since 0.5.0
 * @category handlers
 */
export const layer = HttpApiBuilder.group(BankApi, "health", (handlers) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const feed = yield* LiveFeed.LiveFeed
    return handlers.handle("health", () =>
      Effect.gen(function* () {
        const checkedAt = yield* DateTime.now
        const liveClients = yield* feed.clients
        const bounded = <A, R>(operation: string, effect: Effect.Effect<A, StoreError.StoreError, R>) =>
          effect.pipe(
            Effect.timeoutFail({ duration: storeTimeout, onTimeout: () => timedOut(operation) }),
            Effect.either
          )
        const head = yield* bounded("head", store.head)
        if (Either.isLeft(head)) {
          const health: ApiModels.HealthView = {
            status: "down",
            store: { reachable: false, head: null, error: head.left.message },
            feed: null,
            projections: [],
            liveClients,
            checkedAt
          }
          return yield* new ApiErrors.Unhealthy({ health, message: `the store does not answer: ${head.left.message}` })
        }
        const feedStatus = yield* bounded("feedStatus", store.feedStatus)
        const statuses = yield* bounded("projection status", ProjectionAdmin.status(undefined, { lagLimit: 1000 }))
        const projections = Either.match(statuses, {
          onLeft: () => [],
          onRight: (lines) =>
            lines.map((line) => ({
              name: line.name,
              version: line.version,
              state: line.state,
              lag: line.lag,
              lagExact: line.lagExact ?? true,
              parked: line.parked
            }))
        })
        const heldBack = Either.match(feedStatus, { onLeft: () => false, onRight: (s) => s.hiddenEvents > 0 })
        const troubled = projections.some(
          (line) => line.state === "failed" || line.state === "stale" || line.parked > 0
        )
        const health: ApiModels.HealthView = {
          status: heldBack || troubled || Either.isLeft(statuses) ? "degraded" : "ok",
          store: { reachable: true, head: Position.encode(head.right), error: null },
          feed: Either.match(feedStatus, {
            onLeft: () => null,
            onRight: (status) => ({
              current: status.hiddenEvents === 0,
              hiddenEvents: status.hiddenEvents,
              heldBackForMillis: Duration.toMillis(status.heldBackFor),
              message: FeedStatus.format(status)
            })
          }),
          projections,
          liveClients,
          checkedAt
        }
        return health
      })
    )
  })
)
