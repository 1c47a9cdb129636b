/**
 * `ResponseHeaders`: a header set in a handler lands on the response, with
 * or without a request's `collect` (one hook for all its headers), and the
 * headers `collect` (or `collectOn`, given the request) is given see the
 * response.
 */
import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ResponseHeaders } from "../src/http/index.js"

const respond = (app: HttpApp.Default) => HttpApp.toWebHandler(app)(new Request("http://localhost/"))

describe("ResponseHeaders", () => {
  it("set without collect: the header is on the response", async () => {
    const response = await respond(Effect.as(ResponseHeaders.set("x-a", "1"), HttpServerResponse.text("ok")))
    expect(response.headers.get("x-a")).toBe("1")
  })

  it("set under collect: its headers and the ones collect gives for the response, on success and on failure", async () => {
    const base = (response: HttpServerResponse.HttpServerResponse) => ({ "x-status": `${response.status}` })
    const ok = await respond(
      Effect.gen(function* () {
        yield* ResponseHeaders.collect(base)
        yield* ResponseHeaders.set("x-a", "1")
        yield* ResponseHeaders.etag(3)
        return HttpServerResponse.text("ok", { status: 201 })
      })
    )
    expect(ok.status).toBe(201)
    expect(ok.headers.get("x-a")).toBe("1")
    expect(ok.headers.get("etag")).toBe('"3"')
    expect(ok.headers.get("x-status")).toBe("201")
    const failed = await respond(
      Effect.gen(function* () {
        yield* ResponseHeaders.collect(base)
        yield* ResponseHeaders.set("x-a", "2")
        return yield* Effect.die("boom")
      })
    )
    expect(failed.status).toBe(500)
    expect(failed.headers.get("x-a")).toBe("2")
    expect(failed.headers.get("x-status")).toBe("500")
  })

  it("collectOn, given the request: the headers set later land on its response with the ones it gives", async () => {
    const response = await respond(
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        yield* ResponseHeaders.collectOn(request, (response) => ({ "x-status": `${response.status}` }))
        yield* ResponseHeaders.set("x-a", "1")
        yield* ResponseHeaders.etag(4)
        return yield* Effect.die("refused")
      })
    )
    expect(response.status).toBe(500)
    expect(response.headers.get("x-a")).toBe("1")
    expect(response.headers.get("etag")).toBe('"4"')
    expect(response.headers.get("x-status")).toBe("500")
  })
})
