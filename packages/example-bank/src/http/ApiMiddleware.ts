/**
 * What every request of the bank's API goes through, before its handler and
 * around it:
 *
 * - {@link correlationId}: the request's `X-Correlation-Id` (or a new UUID
 *   when it has none) becomes the correlation id of everything the request
 *   does (`Correlation.withCorrelationId`: every event a command records
 *   carries it), and every response echoes it, errors included. A malformed
 *   one is a 400. A 503 also says `Retry-After: 1`;
 * - {@link badInput}: a body that is not valid JSON is a 400 with a typed
 *   body, like any input that does not match its Schema (the API builder
 *   would otherwise treat it as a defect, a 500); and the `message` of every
 *   400 lists each problem on one line as `<where>: <what>` (the Schema's
 *   own message), rather than the Schema's whole tree.
 *
 * @since 0.5.0
 */
import { Correlation } from "@chronicle/core"
import { HttpApiBuilder, HttpApiError, HttpServerError, HttpServerRequest } from "@effect/platform"
import { Effect, Either, FiberRef, Layer, Option, Schema } from "effect"
import * as ApiErrors from "./ApiErrors.js"
import * as ApiModels from "./ApiModels.js"
import { BankApi } from "./BankApi.js"
import * as ResponseHeaders from "./ResponseHeaders.js"

/**
 * The header of the correlation id, in requests and responses.
 *
 * @example
 * ```ts
 * import { HttpClientRequest } from "@effect/platform"
 * import { ApiMiddleware } from "@chronicle/example-bank/http"
 *
 * const request = HttpClientRequest.get("http://127.0.0.1:3000/api/accounts").pipe(
 *   HttpClientRequest.setHeader(ApiMiddleware.correlationHeader, "checkout-42") // echoed on the response
 * )
 * ```
 * @since 0.5.0
 * @category constants
 */
export const correlationHeader = "x-correlation-id"

/**
 * The `Retry-After` every 503 of the server carries, in seconds: the API's
 * (a store failure, a read model behind) and `ReadinessGuard`'s (starting,
 * stopping).
 *
 * @example
 * ```ts
 * import { ApiMiddleware } from "@chronicle/example-bank/http"
 *
 * const headers = { "retry-after": ApiMiddleware.retryAfterSeconds } // { "retry-after": "1" }
 * ```
 * @since 0.7.0
 * @category constants
 */
export const retryAfterSeconds = "1"

const decodeCorrelationId = Schema.decodeUnknownEither(ApiModels.CorrelationId)

/** The correlation id on the response (and `Retry-After` on a 503), with the headers the handler sets, in one hook. */
const echo = (request: HttpServerRequest.HttpServerRequest, id: string) =>
  ResponseHeaders.collectOn(request, (response) =>
    response.status === 503
      ? { [correlationHeader]: id, "retry-after": retryAfterSeconds }
      : { [correlationHeader]: id }
  )

const withId =
  (id: string) =>
  (context: Correlation.MessageContext): Correlation.MessageContext => ({ ...context, correlationId: Option.some(id) })

/**
 * Takes the correlation id from `X-Correlation-Id` (or makes one), runs the
 * request with it, and echoes it in the response.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { ApiMiddleware } from "@chronicle/example-bank/http"
 *
 * const served = HttpApiBuilder.serve().pipe(Layer.provide(ApiMiddleware.correlationId))
 * ```
 * @since 0.5.0
 * @category middleware
 */
export const correlationId: Layer.Layer<never> = HttpApiBuilder.middleware(BankApi, (app) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const given = request.headers[correlationHeader]
    const decoded = given === undefined ? Either.right(crypto.randomUUID()) : decodeCorrelationId(given)
    if (Either.isLeft(decoded)) {
      return Effect.zipRight(
        echo(request, crypto.randomUUID()),
        Effect.fail(ApiErrors.badRequest(decoded.left.message))
      )
    }
    // Set for the rest of the request's fiber rather than for `app` only (`Correlation.withCorrelationId`, whose
    // restore is a region of its own): the fiber ends with the request, and what runs after `app` in it (the
    // error encoding, the response's hooks) reads no correlation id.
    return echo(request, decoded.right).pipe(
      Effect.zipRight(FiberRef.update(Correlation.currentContext, withId(decoded.right))),
      Effect.zipRight(app)
    )
  })
)

const isMalformedBody = (defect: unknown): defect is HttpServerError.RequestError =>
  HttpServerError.isServerError(defect) && defect._tag === "RequestError" && defect.reason === "Decode"

/** Each issue as `<where>: <what>`, where is the path in the input ("body", "query", "headers", "path" first). */
const readable = (error: HttpApiError.HttpApiDecodeError): HttpApiError.HttpApiDecodeError => {
  if (error.issues.length === 0) return error
  const lines = error.issues.map((issue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`
  )
  return new HttpApiError.HttpApiDecodeError({ issues: error.issues, message: [...new Set(lines)].join("; ") })
}

/**
 * Answers a body that cannot be read as JSON with a 400, and words every 400
 * one problem per line.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { ApiMiddleware } from "@chronicle/example-bank/http"
 *
 * const served = HttpApiBuilder.serve().pipe(Layer.provide(ApiMiddleware.badInput))
 * ```
 * @since 0.5.0
 * @category middleware
 */
export const badInput: Layer.Layer<never> = HttpApiBuilder.middleware(BankApi, (app) =>
  app.pipe(
    Effect.catchAllDefect((defect) =>
      isMalformedBody(defect)
        ? Effect.fail(
            ApiErrors.badRequest(
              `the request body is not valid JSON: ${defect.cause instanceof Error ? defect.cause.message : (defect.description ?? "unreadable")}`
            )
          )
        : Effect.die(defect)
    ),
    Effect.mapError((error) => (error instanceof HttpApiError.HttpApiDecodeError ? readable(error) : error))
  )
)

/**
 * Both middlewares.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpApiBuilder } from "@effect/platform"
 * import { ApiMiddleware } from "@chronicle/example-bank/http"
 *
 * const served = HttpApiBuilder.serve().pipe(Layer.provide(ApiMiddleware.layer))
 * ```
 * @since 0.5.0
 * @category middleware
 */
export const layer: Layer.Layer<never> = Layer.mergeAll(badInput, correlationId)
