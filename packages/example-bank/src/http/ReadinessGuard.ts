/**
 * The bank's Node HTTP server, answering while its API is not attached:
 * as it starts, and as it stops.
 *
 * `NodeHttpServer.layer` listens as soon as its layer is built, but the
 * API's request handler is attached only when `HttpApiBuilder.serve` runs,
 * after every other layer of the server (the handlers, the repository, the
 * projections). Node accepts connections in between and emits their
 * requests to no listener, so a request that arrives then (a health check,
 * a client retrying during a restart) is never answered: it hangs until
 * the client gives up or Node's request timeout (5 minutes) ends it. On
 * shutdown the same happens in reverse: the handler is detached first, the
 * projections stop, and only then does the server close; a request that
 * came in between is never answered, and the close waits for its
 * connection until the client gives up (for a command, the client cannot
 * tell whether it was recorded).
 *
 * {@link createServer} makes the server with a stand-in listener that
 * answers those requests with a 503 and `Retry-After: 1`, the body the API
 * gives when its store is unavailable (`ApiErrors.Unavailable`, operation
 * `start` or `stop`; nothing was done), and echoes the correlation id as
 * the API does; while stopping it also closes the connection. The stand-in
 * removes itself the moment the real handler is attached, and comes back
 * when it is detached, so every request is answered, by the API whenever it
 * is there.
 *
 * @since 0.7.0
 */
import * as Http from "node:http"
import { Either, Schema } from "effect"
import * as ApiErrors from "./ApiErrors.js"
import { correlationHeader, retryAfterSeconds } from "./ApiMiddleware.js"
import * as ApiModels from "./ApiModels.js"

/** The API's `Unavailable` error, as its JSON body. */
const unavailableBody = (operation: string, message: string): string =>
  JSON.stringify(Schema.encodeSync(ApiErrors.Unavailable)(new ApiErrors.Unavailable({ operation, message })))

/**
 * The body of a request answered while the server starts.
 *
 * @example
 * ```ts
 * import { ReadinessGuard } from "@chronicle/example-bank/http"
 *
 * JSON.parse(ReadinessGuard.startingBody) // { _tag: "Unavailable", operation: "start", message: "…" }
 * ```
 * @since 0.7.0
 * @category constants
 */
export const startingBody: string = unavailableBody("start", "the server is starting: retry in a moment")

/**
 * The body of a request answered while the server stops.
 *
 * @example
 * ```ts
 * import { ReadinessGuard } from "@chronicle/example-bank/http"
 *
 * JSON.parse(ReadinessGuard.stoppingBody) // { _tag: "Unavailable", operation: "stop", message: "…" }
 * ```
 * @since 0.7.0
 * @category constants
 */
export const stoppingBody: string = unavailableBody(
  "stop",
  "the server is stopping: nothing was done, retry (another instance may answer)"
)

const decodeCorrelationId = Schema.decodeUnknownEither(ApiModels.CorrelationId)

/** The request's correlation id when it is a valid one, else a new one (as `ApiMiddleware.correlationId` echoes). */
const correlationIdOf = (request: Http.IncomingMessage): string => {
  const given = request.headers[correlationHeader]
  const decoded = given === undefined ? undefined : decodeCorrelationId(given)
  return decoded !== undefined && Either.isRight(decoded) ? decoded.right : crypto.randomUUID()
}

/** Answers 503 with `body`; `close`: and closes the connection (so that the closing server need not wait for it). */
const unavailable =
  (body: string, close: boolean) =>
  (request: Http.IncomingMessage, response: Http.ServerResponse): void => {
    // The body is not needed: let Node discard it rather than keep the connection's input paused.
    request.resume()
    response.writeHead(503, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "retry-after": retryAfterSeconds,
      [correlationHeader]: correlationIdOf(request),
      ...(close ? { connection: "close" } : {})
    })
    response.end(body)
  }

const answerStarting = unavailable(startingBody, false)
const answerStopping = unavailable(stoppingBody, true)

/**
 * Node's HTTP server for `NodeHttpServer.layer`, answering 503 with
 * `Retry-After: 1` until the API's handler is attached and once it is
 * detached (see the module's comment). Everything else is `node:http`'s
 * `createServer()`.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { ReadinessGuard } from "@chronicle/example-bank/http"
 *
 * const server = NodeHttpServer.layer(ReadinessGuard.createServer, { port: 3000 })
 * ```
 * @since 0.7.0
 * @category constructors
 */
export const createServer = (): Http.Server => {
  const server = Http.createServer()
  const isStandIn = (listener: unknown) => listener === answerStarting || listener === answerStopping
  server.on("request", answerStarting)
  // `newListener` is emitted before the new listener is added: the stand-in is gone by the time the
  // API's handler can be called, and a request is never answered twice.
  server.on("newListener", (event: string | symbol, listener: unknown) => {
    if (event !== "request" || isStandIn(listener)) return
    server.off("request", answerStarting)
    server.off("request", answerStopping)
  })
  // `removeListener` is emitted after the removal: once the API's last handler is gone, the stand-in
  // answers again.
  server.on("removeListener", (event: string | symbol, listener: unknown) => {
    if (event === "request" && !isStandIn(listener) && server.listenerCount("request") === 0) {
      server.on("request", answerStopping)
    }
  })
  return server
}
