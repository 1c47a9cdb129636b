/**
 * Response headers set from inside a handler of the bank's API (a handler
 * returns its body; the headers go through the response's pre-response
 * hook, so they also land on the response the API builder encodes).
 *
 * @since 0.5.0
 */
import { HttpApp, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"

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
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeader(response, name, value))
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
