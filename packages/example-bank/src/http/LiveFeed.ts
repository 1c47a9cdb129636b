/**
 * The live feed: the store's global feed as server-sent events
 * (`GET /api/events/live`), through `EventStore.subscribe`, which catches up
 * from a position and then follows new events without a gap or a duplicate.
 *
 * - each event is one message: `id: <position>`, `event: chronicle-event`,
 *   `data: <the stored event as JSON>`, so a reconnecting `EventSource`
 *   resumes after the last event it saw (`Last-Event-ID`);
 * - a comment line every 15 s keeps proxies from closing an idle connection;
 * - a store failure while following ends the stream with an
 *   `event: chronicle-error` message (the browser reconnects by itself);
 * - a client that goes away interrupts its request: the subscription ends
 *   with it, and {@link LiveFeed}'s client count goes down;
 * - when the server shuts down, every open feed ends first
 *   ({@link closeOnShutdown}), since an HTTP server waits for open responses
 *   before it closes.
 *
 * @since 0.5.0
 */
import { EventStore, type Position } from "@chronicle/core"
import { HttpServer, HttpServerResponse } from "@effect/platform"
import { Context, Deferred, Effect, Layer, Ref, Schedule, Schema, Stream } from "effect"
import * as ApiModels from "./ApiModels.js"

/**
 * How often an idle feed sends a comment line.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { LiveFeed } from "@chronicle/example-bank/http"
 *
 * Duration.toMillis(LiveFeed.heartbeat) // 15000
 * ```
 * @since 0.5.0
 * @category constants
 */
export const heartbeat = "15 seconds"

/**
 * The live feed's state: how many clients follow it, and the signal that
 * ends every feed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LiveFeed } from "@chronicle/example-bank/http"
 *
 * const clients = Effect.flatMap(LiveFeed.LiveFeed, (feed) => feed.clients)
 * ```
 * @since 0.5.0
 * @category services
 */
export class LiveFeed extends Context.Tag("@chronicle/example-bank/http/LiveFeed")<
  LiveFeed,
  {
    /** Clients following the feed now. */
    readonly clients: Effect.Effect<number>
    /** Ends every open feed (and every feed opened later). */
    readonly closeAll: Effect.Effect<void>
    /** The response that streams the feed from `from` (exclusive), optionally of some categories. */
    readonly response: (options: {
      readonly from: Position.Position
      readonly categories?: ReadonlyArray<string> | undefined
    }) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, EventStore.EventStore>
  }
>() {}

const encodeEvent = Schema.encodeSync(ApiModels.StoredEventView)

/** One server-sent event; `data` must hold no newline (JSON.stringify escapes them). */
const message = (fields: { readonly id?: string; readonly event: string; readonly data: string }): string =>
  `${fields.id === undefined ? "" : `id: ${fields.id}\n`}event: ${fields.event}\ndata: ${fields.data}\n\n`

const make = Effect.gen(function* () {
  const clients = yield* Ref.make(0)
  const closing = yield* Deferred.make<void>()
  const response = (options: {
    readonly from: Position.Position
    readonly categories?: ReadonlyArray<string> | undefined
  }) =>
    Effect.map(EventStore.EventStore, (store) => {
      const events = store.subscribe({ from: options.from, categories: options.categories }).pipe(
        Stream.map((event) =>
          message({
            id: ApiModels.positionText(event.position),
            event: "chronicle-event",
            data: JSON.stringify(encodeEvent(ApiModels.storedEvent(event)))
          })
        ),
        Stream.catchAll((error) =>
          Stream.make(
            message({ event: "chronicle-error", data: JSON.stringify({ _tag: error._tag, message: error.message }) })
          )
        )
      )
      const body = Stream.scoped(
        Effect.acquireRelease(
          Ref.update(clients, (n) => n + 1),
          () => Ref.update(clients, (n) => n - 1)
        )
      ).pipe(
        Stream.flatMap(() =>
          Stream.concat(
            // The reconnection delay, and a first line so the client sees the connection open at once.
            Stream.make("retry: 2000\n: connected\n\n"),
            Stream.merge(
              events,
              Stream.fromSchedule(Schedule.spaced(heartbeat)).pipe(Stream.map(() => ": keep-alive\n\n")),
              { haltStrategy: "left" }
            )
          )
        ),
        Stream.interruptWhen(Deferred.await(closing)),
        Stream.encodeText
      )
      return HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        // Not kept alive once the feed ends: a server shutting down does not wait for an idle reconnection.
        headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "close" }
      })
    })
  return LiveFeed.of({
    clients: Ref.get(clients),
    closeAll: Deferred.succeed(closing, undefined),
    response
  })
})

/**
 * The live feed service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LiveFeed } from "@chronicle/example-bank/http"
 *
 * const clients = Effect.flatMap(LiveFeed.LiveFeed, (feed) => feed.clients).pipe(Effect.provide(LiveFeed.layer))
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer: Layer.Layer<LiveFeed> = Layer.effect(LiveFeed, make)

/**
 * Ends every open feed when the layer is released. It needs the running
 * `HttpServer`, so it is built after the server starts and released before
 * the server closes, which it could not do while feeds are open.
 *
 * @example
 * ```ts
 * import { HttpApiBuilder } from "@effect/platform"
 * import { Layer } from "effect"
 * import { LiveFeed } from "@chronicle/example-bank/http"
 *
 * const serving = Layer.mergeAll(HttpApiBuilder.serve(), LiveFeed.closeOnShutdown)
 * ```
 * @since 0.5.0
 * @category layers
 */
export const closeOnShutdown: Layer.Layer<never, never, LiveFeed | HttpServer.HttpServer> = Layer.scopedDiscard(
  Effect.gen(function* () {
    yield* HttpServer.HttpServer
    const feed = yield* LiveFeed
    yield* Effect.addFinalizer(() => feed.closeAll)
  })
)
