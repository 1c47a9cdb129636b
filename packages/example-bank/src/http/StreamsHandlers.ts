/**
 * The handlers of the `streams` group: the stream catalog (categories and
 * streams, a read model), one stream and the global feed (read from the
 * `EventStore` as stored, every metadata field included), and the live feed
 * (server-sent events, see `LiveFeed`).
 *
 * @since 0.5.0
 */
import { EventStore, StreamId } from "@chronicle/core"
import { HttpApiBuilder } from "@effect/platform"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import * as AccountsHandlers from "./AccountsHandlers.js"
import * as ApiErrors from "./ApiErrors.js"
import * as ApiModels from "./ApiModels.js"
import { BankApi } from "./BankApi.js"
import * as LiveFeed from "./LiveFeed.js"
import * as StreamCatalog from "./StreamCatalog.js"

/**
 * The `streams` handlers.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { BankApi, StreamsHandlers } from "@chronicle/example-bank/http"
 *
 * const api = HttpApiBuilder.api(BankApi.BankApi).pipe(Layer.provide(StreamsHandlers.layer))
 * ```
 * @since 0.5.0
 * @category handlers
 */
export const layer = HttpApiBuilder.group(BankApi, "streams", (handlers) =>
  Effect.gen(function* () {
    const store = yield* EventStore.EventStore
    const feed = yield* LiveFeed.LiveFeed
    const storeFailure = Effect.mapError(ApiErrors.fromStoreError)
    return handlers
      .handle("categories", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* AccountsHandlers.waitFor(StreamCatalog.StreamCatalog.name, Option.fromNullable(urlParams.waitFor))
          const items = yield* StreamCatalog.categories.pipe(ApiErrors.fromReadModel("list categories"))
          return { items }
        })
      )
      .handle("list", ({ urlParams }) =>
        Effect.gen(function* () {
          yield* AccountsHandlers.waitFor(StreamCatalog.StreamCatalog.name, Option.fromNullable(urlParams.waitFor))
          const page = yield* StreamCatalog.streams({
            category: urlParams.category,
            after: urlParams.after,
            limit: urlParams.limit ?? AccountsHandlers.defaultLimit
          }).pipe(ApiErrors.fromReadModel("list streams"))
          return { items: page.items, next: Option.getOrNull(page.next) }
        })
      )
      .handle("read", ({ path, urlParams }) =>
        Effect.gen(function* () {
          const streamId = yield* Either.match(StreamId.parse(path.streamId), {
            onLeft: (reason) => Effect.fail(ApiErrors.badRequest(reason)),
            onRight: Effect.succeed
          })
          const version = yield* storeFailure(store.streamVersion(streamId))
          if (version === 0) {
            return yield* new ApiErrors.NotFound({
              resource: "stream",
              id: path.streamId,
              message: `no stream ${path.streamId}`
            })
          }
          const limit = urlParams.limit ?? AccountsHandlers.defaultLimit
          const events = yield* storeFailure(
            store.readEvents(streamId, { from: (urlParams.after ?? 0) + 1, limit: limit + 1 })
          )
          const items = events.slice(0, limit)
          const last = items[items.length - 1]
          return {
            streamId: path.streamId,
            version,
            items: items.map(ApiModels.storedEvent),
            next: events.length > limit && last !== undefined ? `${last.version}` : null
          }
        })
      )
      .handle("feed", ({ urlParams }) =>
        Effect.gen(function* () {
          const limit = urlParams.limit ?? AccountsHandlers.defaultLimit
          const head = yield* storeFailure(store.head)
          const events = Chunk.toReadonlyArray(
            yield* storeFailure(
              Stream.runCollect(
                store.readAll({
                  from: urlParams.after,
                  categories: urlParams.category === undefined ? undefined : [urlParams.category],
                  limit: limit + 1,
                  batchSize: limit + 1
                })
              )
            )
          )
          const items = events.slice(0, limit)
          const last = items[items.length - 1]
          return {
            items: items.map(ApiModels.storedEvent),
            next: events.length > limit && last !== undefined ? ApiModels.positionText(last.position) : null,
            head: ApiModels.positionText(head)
          }
        })
      )
      .handle("live", ({ urlParams, headers }) =>
        Effect.gen(function* () {
          // A reconnecting EventSource sends the id of the last message it saw: resume after it.
          const from = headers["last-event-id"] ?? urlParams.from ?? (yield* storeFailure(store.head))
          return yield* feed.response({
            from,
            categories: urlParams.category === undefined ? undefined : [urlParams.category]
          })
        })
      )
  })
)
