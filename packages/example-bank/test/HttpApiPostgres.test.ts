/**
 * The essentials of the bank's HTTP API on PostgreSQL (a fresh schema, one
 * server for the file), through a real HTTP client: commands and their
 * statuses, idempotency and If-Match, read-your-writes on the balances read
 * model, the live feed, concurrent writers on one account over HTTP (no
 * update lost), and a rebuild refused while another process holds the
 * projection's lease. Skipped with a notice when PostgreSQL is unreachable
 * and CI is unset (see `support/postgres.ts`).
 */
import { Projection, ProjectionStore } from "@chronicle/core"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, type Redacted, Scope } from "effect"
import { ApiErrors, ApiModels } from "../src/http/index.js"
import { BankStore, Projections } from "../src/index.js"
import * as Postgres from "./support/postgres.js"
import * as Server from "./support/server.js"

const fresh = (prefix = "acc") => `${prefix}-${crypto.randomUUID().slice(0, 8)}`
const result = Server.bodyAs(ApiModels.CommandResult)

describe.skipIf(!Postgres.available)("the HTTP API on PostgreSQL", () => {
  const scope = Effect.runSync(Scope.make())
  let server: Server.Running
  let api: ReturnType<typeof Server.client>
  /** The projection runner of "another process", holding the daily-totals lease. */
  let other: Fiber.RuntimeFiber<void, unknown>

  beforeAll(async () => {
    const url: Redacted.Redacted<string> = await Effect.runPromise(Scope.extend(Postgres.freshSchema, scope))
    // Another process runs daily-totals before the server starts: it holds the lease.
    const elsewhere = await Effect.runPromise(
      Scope.extend(Layer.build(BankStore.layer({ _tag: "Postgres", url })), scope)
    )
    other = Effect.runFork(
      Projection.run(Projections.DailyTotals, { owner: "other-process" }).pipe(Effect.provide(elsewhere))
    )
    await Server.eventually(async () => {
      const record = await Effect.runPromise(
        Effect.flatMap(ProjectionStore.ProjectionStore, (store) =>
          store.get({ name: "daily-totals", version: 1 })
        ).pipe(Effect.provide(elsewhere))
      )
      return Option.isSome(Option.flatMap(record, (r) => r.lease))
    })
    // No Transfer saga here: its engine's locks are per database (transfers: HttpTransfersPostgres.test.ts).
    server = await Server.start(BankStore.layer({ _tag: "Postgres", url }), { transfers: false })
    api = Server.client(server.url)
  })

  afterAll(async () => {
    await server?.close()
    if (other !== undefined) await Effect.runPromise(Fiber.interrupt(other))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("commands, refusals, If-Match and idempotency", async () => {
    const accountId = fresh()
    const opened = await api.post("/api/accounts", { accountId, owner: "Grace Hopper", overdraftLimit: 1000 })
    expect(opened.status).toBe(201)
    const deposited = result(
      await api.post(`/api/accounts/${accountId}/deposits`, { amount: 5000 }, { "idempotency-key": "pg-dep-1" })
    )
    expect(deposited).toMatchObject({ version: 2, balance: 5000, duplicate: false })
    const replay = result(
      await api.post(`/api/accounts/${accountId}/deposits`, { amount: 5000 }, { "idempotency-key": "pg-dep-1" })
    )
    expect(replay).toMatchObject({ version: 2, balance: 5000, duplicate: true })
    const refused = await api.post(`/api/accounts/${accountId}/withdrawals`, { amount: 7000 })
    expect(refused.status).toBe(422)
    expect(Server.bodyAs(ApiErrors.Refused)(refused).error).toMatchObject({ _tag: "InsufficientFunds", balance: 5000 })
    const stale = await api.post(`/api/accounts/${accountId}/withdrawals`, { amount: 10 }, { "if-match": '"1"' })
    expect(stale.status).toBe(409)
    expect(Server.bodyAs(ApiErrors.VersionConflict)(stale).actual).toBe(2)
    const account = await api.get(`/api/accounts/${accountId}`)
    expect(account.headers.get("etag")).toBe('"2"')
    expect(Server.bodyAs(ApiModels.AccountView)(account)).toMatchObject({ balance: 5000, version: 2 })
    const history = Server.bodyAs(ApiModels.HistoryPage)(await api.get(`/api/accounts/${accountId}/history`))
    expect(history.items.map((e) => e.balanceAfter)).toEqual([0, 5000])
  })

  it("read-your-writes on the balances read model", async () => {
    const accountId = fresh()
    await api.post("/api/accounts", { accountId, owner: "Grace" })
    const last = result(await api.post(`/api/accounts/${accountId}/deposits`, { amount: 77 }))
    const page = Server.bodyAs(ApiModels.AccountsPage)(
      await api.get(`/api/accounts?waitFor=${last.position}&after=${accountId.slice(0, -1)}&limit=500`)
    )
    expect(page.items.find((row) => row.accountId === accountId)).toMatchObject({ balance: 77, lastVersion: 2 })
  })

  it("16 clients depositing concurrently on one account: every deposit lands once", async () => {
    const accountId = fresh("busy")
    await api.post("/api/accounts", { accountId, owner: "Many Hands" })
    const clients = Array.from({ length: 16 }, (_, client) =>
      (async () => {
        for (let n = 0; n < 5; n++) {
          // Under heavy contention the server's conflict retries can run out: a 409 that wrote
          // nothing. A client then sends the same request again with its key, as a real one would.
          const send = () =>
            api.post(
              `/api/accounts/${accountId}/deposits`,
              { amount: 1 + client },
              { "idempotency-key": `${accountId}-${client}-${n}` }
            )
          let reply = await send()
          for (let attempt = 0; reply.status === 409 && attempt < 20; attempt++) {
            await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30))
            reply = await send()
          }
          expect(reply.status).toBe(200)
        }
      })()
    )
    await Promise.all(clients)
    const account = Server.bodyAs(ApiModels.AccountView)(await api.get(`/api/accounts/${accountId}`))
    const expected = Array.from({ length: 16 }, (_, client) => 5 * (1 + client)).reduce((a, b) => a + b, 0)
    expect(account).toMatchObject({ version: 81, balance: expected })
  })

  it("the live feed delivers a new event", async () => {
    const accountId = fresh()
    const opened = result(await api.post("/api/accounts", { accountId, owner: "Grace" }))
    const controller = new AbortController()
    const response = await fetch(`${server.url}/api/events/live?from=${opened.position}`, {
      signal: controller.signal
    })
    const reader = response.body?.getReader()
    if (reader === undefined) throw new Error("no body")
    const deposited = result(await api.post(`/api/accounts/${accountId}/deposits`, { amount: 9 }))
    let text = ""
    const decoder = new TextDecoder()
    while (!text.includes(`id: ${deposited.position}`)) {
      const chunk = await reader.read()
      if (chunk.done) break
      text += decoder.decode(chunk.value, { stream: true })
    }
    expect(text).toContain(`id: ${deposited.position}\nevent: chronicle-event`)
    controller.abort()
  })

  it("a rebuild is refused (409) while another process holds the projection's lease", async () => {
    const busy = await api.post("/api/projections/daily-totals/rebuild")
    expect(busy.status).toBe(409)
    expect(Server.bodyAs(ApiErrors.ProjectionBusy)(busy).message).toContain("other-process")
    // the server's own projections rebuild
    const ours = await api.post("/api/projections/balances/rebuild")
    expect(ours.status).toBe(202)
    await Server.eventually(async () => {
      const progress = Server.bodyAs(ApiModels.RebuildView)(await api.get("/api/projections/balances/rebuild"))
      expect(progress.status).not.toBe("failed")
      return progress.status === "done"
    })
  })

  it("health on PostgreSQL", async () => {
    const health = Server.bodyAs(ApiModels.HealthView)(await api.get("/api/health"))
    expect(health.store.reachable).toBe(true)
    expect(health.feed).toMatchObject({ current: true })
  })
})
