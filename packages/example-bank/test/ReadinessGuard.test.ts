/**
 * `ReadinessGuard`: the server the bank listens with answers 503 with
 * `Retry-After: 1` while the API's handler is not attached yet (the window
 * between `NodeHttpServer.layer`'s listen and `HttpApiBuilder.serve`, which
 * `BankServer.layer` has), then hands every request to the API, and answers
 * again (closing the connection) once the handler is detached on shutdown.
 * Built here in the same steps, over real HTTP.
 */
import { HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { ApiErrors, ApiModels, ReadinessGuard } from "../src/http/index.js"
import { bodyAs, client } from "./support/server.js"

/** The guarded server, listening on a free port, with no handler yet; and its URL. */
const listening = Effect.gen(function* () {
  const context = yield* Layer.build(NodeHttpServer.layer(ReadinessGuard.createServer, { port: 0, host: "127.0.0.1" }))
  const address = Context.get(context, HttpServer.HttpServer).address
  const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  /** Attaches the app, as `HttpApiBuilder.serve` does once the rest of the server is built (detached when its scope closes). */
  const serve = Layer.build(
    HttpServer.serve(HttpServerResponse.text("served")).pipe(Layer.provide(Layer.succeedContext(context)))
  )
  // Without the guard a request sent before the handler is attached is never answered: the test must fail, not hang.
  const replies = client(url, { timeoutMs: 5_000 })
  const http = {
    get: (path: string, headers?: Record<string, string>) => Effect.promise(() => replies.get(path, headers)),
    post: (path: string, body: string) => Effect.promise(() => replies.post(path, body))
  }
  return { serve, http }
})

const unavailableBody = bodyAs(ApiErrors.Unavailable)

describe("ReadinessGuard", () => {
  it.scoped("answers 503 with Retry-After: 1 and the Unavailable body while the API is not attached", () =>
    Effect.gen(function* () {
      const { http } = yield* listening
      for (const reply of [
        yield* http.get("/api/health"),
        yield* http.post("/api/accounts/a/deposits", '{"amount":100}'),
        yield* http.post("/api/accounts/a/deposits", "{not json")
      ]) {
        expect(reply.status).toBe(503)
        expect(reply.headers.get("retry-after")).toBe("1")
        expect(unavailableBody(reply)).toEqual(
          new ApiErrors.Unavailable({ operation: "start", message: "the server is starting: retry in a moment" })
        )
      }
    })
  )

  it.scoped("echoes a valid correlation id, and gives a new one for a missing or malformed one", () =>
    Effect.gen(function* () {
      const { http } = yield* listening
      const given = yield* http.get("/api/health", { "x-correlation-id": "trace-42" })
      expect(given.headers.get("x-correlation-id")).toBe("trace-42")
      const missing = yield* http.get("/api/health")
      const malformed = yield* http.get("/api/health", { "x-correlation-id": "-not*valid" })
      for (const reply of [missing, malformed]) {
        const id = reply.headers.get("x-correlation-id") ?? ""
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        expect(Schema.is(ApiModels.CorrelationId)(id)).toBe(true)
      }
      expect(missing.headers.get("x-correlation-id")).not.toBe(malformed.headers.get("x-correlation-id"))
    })
  )

  it.scoped("hands every request to the app once it is attached, on the same connections", () =>
    Effect.gen(function* () {
      const { http, serve } = yield* listening
      const before = yield* http.post("/anything", '{"amount":1}')
      expect(before.status).toBe(503)
      yield* serve
      const after = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => (i % 2 === 0 ? http.get("/api/health") : http.post("/x", JSON.stringify({ amount: i }))),
        { concurrency: 4 }
      )
      expect(after.map((reply) => [reply.status, reply.body])).toEqual(after.map(() => [200, "served"]))
    })
  )

  it.scoped("answers again once the app is detached, closing the connection, and the server still closes", () =>
    Effect.gen(function* () {
      const { http, serve } = yield* listening
      const served = yield* Scope.make()
      yield* Scope.extend(serve, served)
      // Keep-alive connections to the app, as a client has them when the server starts to stop.
      const before = yield* Effect.forEach([1, 2, 3, 4], () => http.get("/api/health"), { concurrency: 4 })
      expect(before.map((reply) => reply.status)).toEqual([200, 200, 200, 200])
      yield* Scope.close(served, Exit.void)
      const after = yield* Effect.forEach([1, 2, 3, 4], (i) => http.post("/x", JSON.stringify({ amount: i })), {
        concurrency: 4
      })
      for (const reply of after) {
        expect(reply.status).toBe(503)
        expect(reply.headers.get("retry-after")).toBe("1")
        expect(reply.headers.get("connection")).toBe("close")
        expect(unavailableBody(reply)).toEqual(
          new ApiErrors.Unavailable({
            operation: "stop",
            message: "the server is stopping: nothing was done, retry (another instance may answer)"
          })
        )
      }
    })
  )
})
