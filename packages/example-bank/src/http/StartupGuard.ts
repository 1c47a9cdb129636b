/**
 * The bank's Node HTTP server, answering while it starts.
 *
 * `NodeHttpServer.layer` listens as soon as its layer is built, but the
 * API's request handler is attached only when `HttpApiBuilder.serve` runs,
 * after every other layer of the server (the handlers, the repository, the
 * projections). Node accepts connections in between and emits their
 * requests to no listener, so a request that arrives then (a health check,
 * a client retrying during a restart) is never answered: it hangs until
 * the client gives up or Node's request timeout (5 minutes) ends it.
 *
 * {@link createServer} makes the server with a stand-in listener that
 * answers those requests with a 503 and `Retry-After: 1`, the body the API
 * gives when its store is unavailable (`ApiErrors.Unavailable`, operation
 * `start`), and echoes the correlation id as the API does. The stand-in
 * removes itself the moment the real handler is attached, so from then on
 * every request goes to the API alone.
 *
 * @since 0.7.0
 */
import * as Http from "node:http"
import { Either, Schema } from "effect"
import * as ApiErrors from "./ApiErrors.js"
import * as ApiModels from "./ApiModels.js"

/**
 * The body of a request answered while the server starts.
 *
 * @example
 * ```ts
 * import { StartupGuard } from "@chronicle/example-bank/http"
 *
 * JSON.parse(StartupGuard.startingBody) // { _tag: "Unavailable", operation: "start", message: "…" }
 * ```
 * @since 0.7.0
 * @category constants
 */
export const startingBody: string = JSON.stringify(
  Schema.encodeSync(ApiErrors.Unavailable)(
    new ApiErrors.Unavailable({ operation: "start", message: "the server is starting: retry in a moment" })
  )
)

const decodeCorrelationId = Schema.decodeUnknownEither(ApiModels.CorrelationId)

/** The request's correlation id when it is a valid one, else a new one (as `ApiMiddleware.correlationId` echoes). */
const correlationIdOf = (request: Http.IncomingMessage): string => {
  const given = request.headers["x-correlation-id"]
  const decoded = given === undefined ? undefined : decodeCorrelationId(given)
  return decoded !== undefined && Either.isRight(decoded) ? decoded.right : crypto.randomUUID()
}

const answerStarting = (request: Http.IncomingMessage, response: Http.ServerResponse): void => {
  // The body is not needed: let Node discard it rather than keep the connection's input paused.
  request.resume()
  response.writeHead(503, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(startingBody),
    "retry-after": "1",
    "x-correlation-id": correlationIdOf(request)
  })
  response.end(startingBody)
}

/**
 * Node's HTTP server for `NodeHttpServer.layer`, answering 503 with
 * `Retry-After: 1` until the API's handler is attached (see the module's
 * comment). Everything else is `node:http`'s `createServer()`.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { StartupGuard } from "@chronicle/example-bank/http"
 *
 * const server = NodeHttpServer.layer(StartupGuard.createServer, { port: 3000 })
 * ```
 * @since 0.7.0
 * @category constructors
 */
export const createServer = (): Http.Server => {
  const server = Http.createServer()
  server.on("request", answerStarting)
  // `newListener` is emitted before the new listener is added: the stand-in is gone by the time the
  // real handler can be called, and a request is never answered twice.
  const handOver = (event: string | symbol): void => {
    if (event !== "request") return
    server.off("request", answerStarting)
    server.off("newListener", handOver)
  }
  server.on("newListener", handOver)
  return server
}
