/**
 * The bank's HTTP server: the API of `BankApi` with its handlers, the
 * OpenAPI document (`/openapi.json`) and its Swagger page (`/docs`), the
 * event explorer (`/`), and the bank's projections running in the
 * background and the Transfer saga moving the money of transfers (durably,
 * on the same store), over whatever stores are provided (`BankStore.layer`:
 * SQLite or PostgreSQL), on Node's HTTP server.
 *
 * It listens before the rest is built, and on shutdown detaches the API
 * before it closes: a request that arrives in either window is answered 503
 * with `Retry-After: 1` (`ReadinessGuard`), not left hanging.
 *
 * Shutting down (closing the layer's scope, as `pnpm bank serve` does on
 * SIGINT or SIGTERM) ends the live feeds, stops taking requests, waits for
 * those under way, then stops the projections (releasing their leases) and
 * the saga.
 *
 * A new group of the API adds its handlers layer to {@link ApiLive}.
 *
 * @since 0.5.0
 */
import * as Backend from "@chronicle/core/Backend"
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, type Scope } from "effect"
import type * as BankStore from "../BankStore.js"
import type * as TransferSaga from "../TransferSaga.js"
import * as AccountRepository from "./AccountRepository.js"
import * as AccountsHandlers from "./AccountsHandlers.js"
import * as ApiMiddleware from "./ApiMiddleware.js"
import * as BackgroundProjections from "./BackgroundProjections.js"
import { BankApi } from "./BankApi.js"
import * as HealthHandlers from "./HealthHandlers.js"
import * as LiveFeed from "./LiveFeed.js"
import * as ProjectionsHandlers from "./ProjectionsHandlers.js"
import * as ReadinessGuard from "./ReadinessGuard.js"
import * as StaticAssets from "./StaticAssets.js"
import * as StreamsHandlers from "./StreamsHandlers.js"
import * as TransfersHandlers from "./TransfersHandlers.js"

/**
 * How to serve the bank.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 * import { BankServer } from "@chronicle/example-bank/http"
 *
 * const options: BankServer.Options = { port: 8080, host: "0.0.0.0", transfers: false }
 * const server = BankServer.layer(options).pipe(Layer.provide(BankStore.layer({ _tag: "Memory" })))
 * ```
 * @since 0.5.0
 * @category models
 */
export interface Options {
  /** The TCP port; 0 picks a free one. */
  readonly port: number
  /** The interface to listen on. Default `127.0.0.1` (this machine only). */
  readonly host?: string | undefined
  /** Where the built explorer is. Default `StaticAssets.defaultRoot`. */
  readonly webRoot?: string | undefined
  /** The projections to run in the background. Default `BackgroundProjections.bank`. */
  readonly projections?: ReadonlyArray<BackgroundProjections.Definition> | undefined
  /**
   * How the Transfer saga runs in the server (`TransferSaga.Options`), or
   * `false` not to run it (transfers are then recorded, and move once a
   * process that runs the saga picks them up). Default `TransferSaga.defaults`.
   */
  readonly transfers?: TransferSaga.Options | false | undefined
}

/**
 * The API implemented: every group's handlers, and the services they use.
 *
 * @example
 * ```ts
 * import { HttpApiBuilder } from "@effect/platform"
 * import { Layer } from "effect"
 * import { BankServer } from "@chronicle/example-bank/http"
 *
 * const app = HttpApiBuilder.serve().pipe(Layer.provide(BankServer.ApiLive))
 * ```
 * @since 0.5.0
 * @category layers
 */
export const ApiLive = HttpApiBuilder.api(BankApi).pipe(
  Layer.provide([
    AccountsHandlers.layer,
    StreamsHandlers.layer,
    TransfersHandlers.layer,
    ProjectionsHandlers.layer,
    HealthHandlers.layer
  ])
)

/**
 * The Transfer saga, run durably in the server (see `TransferSaga.layer`),
 * or nothing for `false`. Its module, and the workflow engine with it, is
 * loaded only here, so that the CLI's other commands start without it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 * import { BankServer } from "@chronicle/example-bank/http"
 *
 * const saga = BankServer.transfersLayer({ approvalAbove: 50_000, approvalDeadline: "1 hour" }).pipe(
 *   Layer.provide(BankStore.layer({ _tag: "Memory" }))
 * )
 * ```
 * @since 0.5.0
 * @category layers
 */
export const transfersLayer = (
  options: TransferSaga.Options | false | undefined
): Layer.Layer<never, never, BankStore.Stores> =>
  options === false
    ? Layer.empty
    : Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("../TransferSaga.js")),
          (saga): Layer.Layer<never, never, BankStore.Stores> => saga.layer(options ?? saga.defaults)
        )
      )

/**
 * The API served, with a span per request (`http.server POST`, …, the parent
 * of the spans of what the request does) when a tracer is installed (for
 * example `@effect/opentelemetry`'s, with `Layer.setTracer` or
 * `Effect.withTracer`), and none with Effect's built-in tracer, which keeps
 * its spans nowhere: then the span, its attributes (the URL parsed, every
 * header copied) and its context are work without a reader.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { BankServer } from "@chronicle/example-bank/http"
 *
 * const api = BankServer.serve.pipe(Layer.provide(BankServer.ApiLive))
 * ```
 * @since 0.7.0
 * @category layers
 */
export const serve = Layer.unwrapEffect(
  Backend.whenTraced(
    () => Effect.succeed(HttpApiBuilder.serve()),
    () => Effect.succeed(HttpMiddleware.withTracerDisabledWhen(HttpApiBuilder.serve(), () => true))
  )
)

/**
 * The server, listening, with its address in `HttpServer.HttpServer`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 * import { BankServer } from "@chronicle/example-bank/http"
 *
 * const server = BankServer.layer({ port: 3000 }).pipe(Layer.provide(BankStore.layer({ _tag: "Memory" })))
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<HttpServer.HttpServer, ServeError, BankStore.Stores> =>
  Layer.mergeAll(serve, LiveFeed.closeOnShutdown).pipe(
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(StaticAssets.layer(options.webRoot)),
    Layer.provide(ApiMiddleware.layer),
    Layer.provide(ApiLive),
    Layer.provide(
      Layer.mergeAll(
        AccountRepository.layer,
        LiveFeed.layer,
        BackgroundProjections.layer(options.projections ?? BackgroundProjections.bank)
      )
    ),
    Layer.provideMerge(
      NodeHttpServer.layer(ReadinessGuard.createServer, { port: options.port, host: options.host ?? "127.0.0.1" })
    ),
    Layer.merge(transfersLayer(options.transfers))
  )

/**
 * The URL a server listens on (`localhost` for every interface).
 *
 * @example
 * ```ts
 * import { BankServer } from "@chronicle/example-bank/http"
 *
 * BankServer.urlOf({ _tag: "TcpAddress", hostname: "127.0.0.1", port: 3000 }) // "http://127.0.0.1:3000"
 * ```
 * @since 0.5.0
 * @category running
 */
export const urlOf = (address: HttpServer.Address): string => {
  if (address._tag === "UnixAddress") return `http+unix://${address.path}`
  const host =
    address.hostname === "0.0.0.0" || address.hostname === "::"
      ? "localhost"
      : address.hostname.includes(":")
        ? `[${address.hostname}]`
        : address.hostname
  return `http://${host}:${address.port}`
}

/**
 * Starts the server in the current scope and returns its URL: it serves
 * until the scope closes.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 * import { BankServer } from "@chronicle/example-bank/http"
 *
 * const main = BankServer.start({ port: 0 }).pipe(
 *   Effect.tap(({ url }) => Console.log(`listening on ${url}`)),
 *   Effect.zipRight(Effect.never),
 *   Effect.scoped,
 *   Effect.provide(BankStore.layer({ _tag: "Memory" }))
 * )
 * ```
 * @since 0.5.0
 * @category running
 */
export const start = (
  options: Options
): Effect.Effect<{ readonly url: string }, ServeError, BankStore.Stores | Scope.Scope> =>
  Effect.map(Layer.build(layer(options)), (context) => ({
    url: urlOf(Context.get(context, HttpServer.HttpServer).address)
  }))
