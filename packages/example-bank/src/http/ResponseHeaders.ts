/**
 * Response headers set from inside a handler of the bank's API (a handler
 * returns its body; the headers go through the response's pre-response
 * hook, so they also land on the response the API builder encodes, errors
 * included).
 *
 * A request handled under {@link collect} (every request of the API:
 * `ApiMiddleware.correlationId` starts it) has one hook for all its headers:
 * {@link set} adds to the request's headers rather than adding a hook each.
 *
 * @since 0.5.0
 */
import { type Headers, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"

/** The headers set so far for each request handled under `collect`. */
const collected = new WeakMap<HttpServerRequest.HttpServerRequest, Record<string, string>>()

/**
 * Sets a header on the response of the current request.
 *
 * @example
 * ```ts
 * import { ResponseHeaders } from "@chronicle/example-bank/http"
 *
 * const noStore = ResponseHeaders.set("cache-control", "no-store")
 * ```
 * @since 0.5.0
 * @category headers
 */
export const set = (name: string, value: string): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(HttpServerRequest.HttpServerRequest), (request) => {
    const headers = Option.isSome(request) ? collected.get(request.value) : undefined
    if (headers === undefined) {
      return HttpApp.appendPreResponseHandler((_request, response) =>
        Effect.succeed(HttpServerResponse.setHeader(response, name, value))
      )
    }
    headers[name] = value
    return Effect.void
  })

/**
 * Puts on the current request's response, in one pre-response hook, the
 * headers `base` gives for it (it sees the response: its status, say) and
 * every header {@link set} adds while the request is handled.
 *
 * @example
 * ```ts
 * import { ResponseHeaders } from "@chronicle/example-bank/http"
 *
 * const tagged = ResponseHeaders.collect(() => ({ "x-served-by": "bank-1" }))
 * ```
 * @since 0.7.0
 * @category headers
 */
export const collect = (
  base: (response: HttpServerResponse.HttpServerResponse) => Headers.Input
): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(HttpServerRequest.HttpServerRequest), (request) =>
    Option.isSome(request) ? collectOn(request.value, base) : hook(base, {})
  )

/**
 * {@link collect} for a request at hand (a middleware has it): one step
 * shorter on every request.
 *
 * @example
 * ```ts
 * import { HttpServerRequest } from "@effect/platform"
 * import { Effect } from "effect"
 * import { ResponseHeaders } from "@chronicle/example-bank/http"
 *
 * const tagged = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
 *   ResponseHeaders.collectOn(request, () => ({ "x-served-by": "bank-1" }))
 * )
 * ```
 * @since 0.7.0
 * @category headers
 */
export const collectOn = (
  request: HttpServerRequest.HttpServerRequest,
  base: (response: HttpServerResponse.HttpServerResponse) => Headers.Input
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const headers: Record<string, string> = {}
    collected.set(request, headers)
    return hook(base, headers)
  })

const hook = (base: (response: HttpServerResponse.HttpServerResponse) => Headers.Input, headers: Headers.Input) =>
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeaders(response, { ...base(response), ...headers }))
  )

/**
 * Sets `ETag` to an account's version (what `If-Match` takes back).
 *
 * @example
 * ```ts
 * import { ResponseHeaders } from "@chronicle/example-bank/http"
 *
 * const tagged = ResponseHeaders.etag(3) // ETag: "3"
 * ```
 * @since 0.5.0
 * @category headers
 */
export const etag = (version: number): Effect.Effect<void> => set("etag", `"${version}"`)
