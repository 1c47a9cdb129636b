/**
 * The bank's HTTP server for tests: started on a free port over the stores
 * given (SQLite in a temporary folder, PostgreSQL on a fresh schema), and a
 * small JSON client for it over real HTTP (`fetch`).
 */
import { AppendError, EventStore, StoreError } from "@chronicle/core"
import { Effect, Exit, Layer, Schema, Scope, Stream } from "effect"
import { BankServer } from "../../src/http/index.js"
import type { BankStore } from "../../src/index.js"

export interface Running {
  readonly url: string
  readonly close: () => Promise<void>
}

/** Starts a server over `stores`; `close` shuts it down and releases the stores. */
export const start = async (
  stores: Layer.Layer<BankStore.Stores, unknown>,
  options?: Partial<BankServer.Options>
): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const started = Effect.gen(function* () {
    const context = yield* Layer.build(stores)
    return yield* BankServer.start({ port: 0, ...options }).pipe(Effect.provide(context))
  }).pipe(Scope.extend(scope))
  const exit = await Effect.runPromiseExit(started)
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw new Error(`the server did not start: ${String(exit.cause)}`)
  }
  return { url: exit.value.url, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
}

/** The body of a reply, decoded with the Schema it should match (so the test checks the documented shape). */
export const bodyAs =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (reply: Reply): A =>
    Schema.decodeUnknownSync(schema)(reply.body)

/**
 * A JSON client for one server. With `timeoutMs`, a request that gets no
 * answer in time fails (the fetch is aborted) instead of waiting for ever.
 */
export const client = (url: string, options?: { readonly timeoutMs?: number }) => {
  const send = async (
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>
  ): Promise<Reply> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      ...(options?.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) })
    })
    const text = await response.text()
    const type = response.headers.get("content-type") ?? ""
    return { status: response.status, headers: response.headers, body: type.includes("json") ? JSON.parse(text) : text }
  }
  return {
    get: (path: string, headers?: Record<string, string>) => send("GET", path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => send("POST", path, body, headers),
    send
  }
}

/** Polls `check` until it returns true (every 50 ms, at most `timeoutMs`). */
export const eventually = async (check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * An `EventStore` that fails while `faults.down` is set (every operation, as
 * a store that does not answer), and reports an unknown outcome for appends
 * that did commit while `faults.lostAnswers` is set.
 */
export const faulty = (faults: { down: boolean; lostAnswers: boolean }) =>
  Layer.effect(
    EventStore.EventStore,
    Effect.map(EventStore.EventStore, (store): EventStore.EventStore["Type"] => {
      const unavailable = (operation: string) =>
        StoreError.make({ operation, reason: "unavailable", detail: "connection refused (injected by the test)" })
      const guard = <A, E, R>(
        operation: string,
        effect: Effect.Effect<A, E, R>
      ): Effect.Effect<A, E | StoreError.StoreError, R> =>
        Effect.suspend(
          (): Effect.Effect<A, E | StoreError.StoreError, R> =>
            faults.down ? Effect.fail(unavailable(operation)) : effect
        )
      return {
        ...store,
        append: (streamId, events, options) =>
          guard("append", store.append(streamId, events, options)).pipe(
            Effect.flatMap((result) =>
              faults.lostAnswers
                ? Effect.fail(
                    new AppendError.UnknownOutcomeError({
                      operation: "append",
                      streamId,
                      reason: "the connection was lost before the answer (injected by the test)",
                      cause: undefined
                    })
                  )
                : Effect.succeed(result)
            )
          ),
        readEvents: (streamId, options) => guard("read", store.readEvents(streamId, options)),
        readAll: (options) => Stream.unwrap(guard("readAll", Effect.succeed(store.readAll(options)))),
        streamVersion: (streamId) => guard("streamVersion", store.streamVersion(streamId)),
        head: guard("head", store.head),
        feedStatus: guard("feedStatus", store.feedStatus)
      }
    })
  )
