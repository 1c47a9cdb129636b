/**
 * The bank's HTTP API through a real HTTP client (`fetch`) against a running
 * server (SQLite in a temporary folder, one server for the file): every
 * endpoint, every error status with its typed body, idempotency-key replay,
 * `If-Match` conflicts, correlation ids, pagination, read-your-writes, the
 * live feed (and its end when the client goes away), rebuilds, health, and
 * bad bodies and query parameters. A second server over a store with
 * injected faults covers the 503s. The OpenAPI document is checked: every
 * route of the definition is in it (transfers included; their behaviour is
 * tested in `HttpTransfers.test.ts`), and it validates as OpenAPI 3.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import SwaggerParser from "@apidevtools/swagger-parser"
import { Position } from "@chronicle/core"
import { HttpApiError } from "@effect/platform"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Array as Arr, Context, DefaultServices, Effect, Exit, Layer, Option, Schema, Scope, Tracer } from "effect"
import { ApiErrors, ApiModels, BankApi, BankServer } from "../src/http/index.js"
import { BankStore } from "../src/index.js"
import * as Server from "./support/server.js"

/** A position the API returned, read back (it fails the test on a malformed one). */
const parsePosition = (text: string): Position.Position => Schema.decodeSync(ApiModels.PositionParam)(text)

const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-http-"))
let server: Server.Running
let api: ReturnType<typeof Server.client>

beforeAll(async () => {
  server = await Server.start(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "bank.db") }))
  api = Server.client(server.url)
})

afterAll(async () => {
  await server?.close()
  rmSync(dir, { recursive: true, force: true })
})

const fresh = (prefix = "acc") => `${prefix}-${crypto.randomUUID().slice(0, 8)}`

const result = Server.bodyAs(ApiModels.CommandResult)
const decodeError = Server.bodyAs(HttpApiError.HttpApiDecodeError)
const refused = Server.bodyAs(ApiErrors.Refused)
const notFound = Server.bodyAs(ApiErrors.NotFound)

/** Opens an account and deposits, returning the last command's result. */
const openWith = async (accountId: string, deposits: ReadonlyArray<number> = [], overdraftLimit = 0) => {
  let last = result(await api.post("/api/accounts", { accountId, owner: "Ada Lovelace", overdraftLimit }))
  for (const amount of deposits) last = result(await api.post(`/api/accounts/${accountId}/deposits`, { amount }))
  return last
}

describe("commands", () => {
  it("open answers 201 with the state, the version as ETag, and a generated correlation id", async () => {
    const accountId = fresh()
    const reply = await api.post("/api/accounts", { accountId, owner: "Ada Lovelace", overdraftLimit: 5000 })
    expect(reply.status).toBe(201)
    const body = result(reply)
    expect(body).toMatchObject({ accountId, version: 1, balance: 0, duplicate: false })
    expect(body.state).toEqual({ _tag: "Open", owner: "Ada Lovelace", overdraftLimit: 5000, balance: 0 })
    expect(body.events.map((e) => e._tag)).toEqual(["AccountOpened"])
    expect(body.position).toMatch(/^(\d+\/)?\d+$/)
    expect(reply.headers.get("etag")).toBe('"1"')
    expect(reply.headers.get("x-correlation-id")).toMatch(/^[0-9a-f-]{36}$/)
    expect(body.correlationId).toBe(reply.headers.get("x-correlation-id"))
  })

  it("deposit, withdraw and close move the balance and the version", async () => {
    const accountId = fresh()
    await openWith(accountId, [], 1000)
    const deposited = await api.post(`/api/accounts/${accountId}/deposits`, { amount: 2500, currency: "EUR" })
    expect(deposited.status).toBe(200)
    expect(result(deposited)).toMatchObject({ version: 2, balance: 2500 })
    const withdrawn = await api.post(`/api/accounts/${accountId}/withdrawals`, { amount: 3000 })
    expect(result(withdrawn)).toMatchObject({ version: 3, balance: -500 })
    await api.post(`/api/accounts/${accountId}/deposits`, { amount: 500 })
    const closed = await api.post(`/api/accounts/${accountId}/close`)
    expect(closed.status).toBe(200)
    expect(result(closed).state._tag).toBe("Closed")
    const account = await api.get(`/api/accounts/${accountId}`)
    expect(Server.bodyAs(ApiModels.AccountView)(account)).toMatchObject({ status: "closed", balance: 0, version: 5 })
    expect(account.headers.get("etag")).toBe('"5"')
  })

  it("refusals are 422 with the domain error and its fields", async () => {
    const accountId = fresh()
    await openWith(accountId, [7000], 5000)
    const tooMuch = await api.post(`/api/accounts/${accountId}/withdrawals`, { amount: 20000 })
    expect(tooMuch.status).toBe(422)
    const body = refused(tooMuch)
    expect(body.error).toMatchObject({
      _tag: "InsufficientFunds",
      balance: 7000,
      requested: 20000,
      overdraftLimit: 5000
    })
    expect(body.message).toContain("at most 120.00 is available")

    const again = await api.post("/api/accounts", { accountId, owner: "Someone Else" })
    expect(again.status).toBe(422)
    expect(refused(again).error._tag).toBe("AccountAlreadyOpen")

    const notEmpty = await api.post(`/api/accounts/${accountId}/close`)
    expect(refused(notEmpty).error).toMatchObject({ _tag: "NonZeroBalance", balance: 7000 })

    const dollars = await api.post(`/api/accounts/${accountId}/deposits`, { amount: 100, currency: "USD" })
    expect(refused(dollars).error).toMatchObject({ _tag: "CurrencyMismatch", requested: "USD" })

    // nothing was written by any of them
    const account = Server.bodyAs(ApiModels.AccountView)(await api.get(`/api/accounts/${accountId}`))
    expect(account).toMatchObject({ version: 2, balance: 7000 })
  })

  it("a command on an account never opened is 404", async () => {
    const reply = await api.post(`/api/accounts/${fresh("ghost")}/deposits`, { amount: 100 })
    expect(reply.status).toBe(404)
    expect(notFound(reply).resource).toBe("account")
  })

  it("an Idempotency-Key replayed records once and answers with the first result", async () => {
    const accountId = fresh()
    await openWith(accountId)
    const key = `deposit-${crypto.randomUUID()}`
    const first = result(
      await api.post(`/api/accounts/${accountId}/deposits`, { amount: 1234 }, { "idempotency-key": key })
    )
    const replay = await api.post(`/api/accounts/${accountId}/deposits`, { amount: 1234 }, { "idempotency-key": key })
    expect(replay.status).toBe(200)
    const second = result(replay)
    expect(first).toMatchObject({ commandId: key, duplicate: false, version: 2, balance: 1234 })
    expect(second).toMatchObject({ commandId: key, duplicate: true, version: 2, balance: 1234 })
    expect(second.events.map((e) => e._tag)).toEqual(["MoneyDeposited"])
    expect(second.position).toBe(first.position)
    // reused for another amount: still the first command's outcome, nothing new
    const reused = result(
      await api.post(`/api/accounts/${accountId}/deposits`, { amount: 99 }, { "idempotency-key": key })
    )
    expect(reused).toMatchObject({ duplicate: true, balance: 1234 })
    const stream = Server.bodyAs(ApiModels.StreamPage)(await api.get(`/api/streams/Account-${accountId}`))
    expect(stream.items.map((e) => e.type)).toEqual(["AccountOpened", "MoneyDeposited"])
    // the same key on an open replays too (201 again, duplicate)
    const openKey = `open-${crypto.randomUUID()}`
    const other = fresh()
    await api.post("/api/accounts", { accountId: other, owner: "Bob" }, { "idempotency-key": openKey })
    const reopened = await api.post("/api/accounts", { accountId: other, owner: "Bob" }, { "idempotency-key": openKey })
    expect(reopened.status).toBe(201)
    expect(result(reopened).duplicate).toBe(true)
  })

  it("If-Match with another version is 409 with the actual version; the right one goes through", async () => {
    const accountId = fresh()
    await openWith(accountId, [500])
    const stale = await api.post(`/api/accounts/${accountId}/withdrawals`, { amount: 100 }, { "if-match": '"1"' })
    expect(stale.status).toBe(409)
    expect(Server.bodyAs(ApiErrors.VersionConflict)(stale)).toMatchObject({
      streamId: `Account-${accountId}`,
      expected: "1",
      actual: 2
    })
    const current = await api.get(`/api/accounts/${accountId}`)
    const etag = current.headers.get("etag") ?? ""
    const fresh_ = await api.post(`/api/accounts/${accountId}/withdrawals`, { amount: 100 }, { "if-match": etag })
    expect(fresh_.status).toBe(200)
    expect(result(fresh_)).toMatchObject({ version: 3, balance: 400 })
    expect(fresh_.headers.get("etag")).toBe('"3"')
    // a bare number and a weak tag are read too
    const bare = await api.post(`/api/accounts/${accountId}/deposits`, { amount: 1 }, { "if-match": "3" })
    expect(bare.status).toBe(200)
    const weak = await api.post(`/api/accounts/${accountId}/deposits`, { amount: 1 }, { "if-match": 'W/"3"' })
    expect(weak.status).toBe(409)
    // If-Match 0 on open: only if the account does not exist yet
    const taken = await api.post("/api/accounts", { accountId, owner: "Ada" }, { "if-match": "0" })
    expect(taken.status).toBe(409)
  })

  it("takes the correlation id from X-Correlation-Id, echoes it and records it on the events", async () => {
    const accountId = fresh()
    const reply = await api.post(
      "/api/accounts",
      { accountId, owner: "Ada" },
      { "x-correlation-id": "checkout-42/step-1" }
    )
    expect(reply.headers.get("x-correlation-id")).toBe("checkout-42/step-1")
    expect(result(reply).correlationId).toBe("checkout-42/step-1")
    const stream = Server.bodyAs(ApiModels.StreamPage)(await api.get(`/api/streams/Account-${accountId}`))
    expect(stream.items[0]?.correlationId).toBe("checkout-42/step-1")
    expect(stream.items[0]?.causationId).toBe(result(reply).commandId)
    // echoed on queries and errors as well
    const missing = await api.get(`/api/accounts/${fresh("ghost")}`, { "x-correlation-id": "trace-7" })
    expect(missing.status).toBe(404)
    expect(missing.headers.get("x-correlation-id")).toBe("trace-7")
    // a malformed one is a 400 (and a fresh one is echoed)
    const bad = await api.get("/api/health", { "x-correlation-id": "has spaces" })
    expect(bad.status).toBe(400)
    expect(decodeError(bad).message).toContain("X-Correlation-Id")
    expect(bad.headers.get("x-correlation-id")).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe("tracing", () => {
  it("with a tracer installed, each request has a server span, the parent of the command's spans", async () => {
    const native = Context.get(DefaultServices.liveServices, Tracer.Tracer)
    const spans: Array<{ readonly name: string; readonly parent: string | undefined }> = []
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const from = Option.getOrUndefined(parent)
        spans.push({ name, parent: from === undefined ? undefined : from._tag === "Span" ? from.name : "external" })
        return native.span(name, parent, context, links, startTime, kind, options)
      },
      context: (f) => f()
    })
    const scope = Effect.runSync(Scope.make())
    const started = await Effect.runPromise(
      Effect.gen(function* () {
        const stores = yield* Layer.build(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "traced.db") }))
        return yield* BankServer.start({ port: 0, projections: [], transfers: false }).pipe(Effect.provide(stores))
      }).pipe(Effect.withTracer(recording), Scope.extend(scope))
    )
    try {
      const traced = Server.client(started.url)
      expect((await traced.post("/api/accounts", { accountId: fresh(), owner: "Ada" })).status).toBe(201)
      expect(spans).toContainEqual({ name: "http.server POST", parent: undefined })
      expect(spans).toContainEqual({ name: "Chronicle.Repository.execute", parent: "http.server POST" })
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

describe("bad input is a 400 with the Schema's message, never a 500", () => {
  const cases: ReadonlyArray<{
    readonly name: string
    readonly path: string
    readonly body: unknown
    readonly headers?: Record<string, string>
    readonly says: string
  }> = [
    { name: "a body that is not JSON", path: "deposits", body: '{"amount": 5', says: "not valid JSON" },
    { name: "an amount as a string", path: "deposits", body: { amount: "500" }, says: "amount" },
    { name: "a negative amount", path: "withdrawals", body: { amount: -5 }, says: "positive whole number of cents" },
    { name: "a fractional amount", path: "deposits", body: { amount: 12.5 }, says: "amount" },
    { name: "a missing amount", path: "deposits", body: {}, says: "amount" },
    { name: "an unknown currency", path: "deposits", body: { amount: 5, currency: "XYZ" }, says: "currency" },
    { name: "a JSON array", path: "deposits", body: [1, 2], says: "Expected" },
    {
      name: "a malformed Idempotency-Key",
      path: "deposits",
      body: { amount: 5 },
      headers: { "idempotency-key": "two words" },
      says: "Idempotency-Key"
    },
    {
      name: "a malformed If-Match",
      path: "deposits",
      body: { amount: 5 },
      headers: { "if-match": "yesterday" },
      says: "If-Match"
    }
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const accountId = fresh()
      await openWith(accountId)
      const reply = await api.post(`/api/accounts/${accountId}/${c.path}`, c.body, c.headers)
      expect(reply.status).toBe(400)
      expect(decodeError(reply).message).toContain(c.says)
    })
  }

  it("an owner name the bank refuses, and an account id that is not one", async () => {
    const control = await api.post("/api/accounts", { accountId: fresh(), owner: "Ada\u001b[2J" })
    expect(control.status).toBe(400)
    expect(decodeError(control).message).toContain("control characters")
    const padded = await api.post("/api/accounts", { accountId: fresh(), owner: " Ada" })
    expect(decodeError(padded).message).toContain("spaces")
    const badId = await api.post("/api/accounts", { accountId: "no spaces allowed", owner: "Ada" })
    expect(decodeError(badId).message).toContain("account id")
    const badPath = await api.get("/api/accounts/-dash-first")
    expect(badPath.status).toBe(400)
  })

  it("query parameters out of range or malformed", async () => {
    const accountId = fresh()
    await openWith(accountId, [100])
    const paths = [
      ["/api/accounts?limit=0", "limit"],
      ["/api/accounts?limit=501", "limit"],
      ["/api/accounts?limit=abc", "limit"],
      ["/api/accounts?limit=1e2", "limit"],
      ["/api/accounts?waitFor=soon", "position"],
      ["/api/events?after=-1", "position"],
      ["/api/streams?category=has%20space", "category"],
      [`/api/accounts/${accountId}/balance?version=-1`, "version"],
      [`/api/accounts/${accountId}/balance?at=yesterday`, "ISO-8601"],
      [`/api/accounts/${accountId}/balance?at=2025-01-01T00:00:00Z&version=1`, "not both"],
      [`/api/accounts/${accountId}/balance?version=99`, "99"],
      [`/api/accounts/${accountId}/diff?from=1`, "to"],
      [`/api/accounts/${accountId}/history?after=x`, "version"]
    ] as const
    for (const [path, says] of paths) {
      const reply = await api.get(path)
      expect({ path, status: reply.status }).toEqual({ path, status: 400 })
      expect(decodeError(reply).message).toContain(says)
    }
  })

  it("an unknown route is 404", async () => {
    expect((await api.get("/api/nothing-here")).status).toBe(404)
  })
})

describe("queries", () => {
  it("get: the account now, or 404 with a typed body", async () => {
    const accountId = fresh()
    await openWith(accountId, [300, 200], 100)
    const account = Server.bodyAs(ApiModels.AccountView)(await api.get(`/api/accounts/${accountId}`))
    expect(account).toMatchObject({
      accountId,
      owner: "Ada Lovelace",
      status: "open",
      balance: 500,
      overdraftLimit: 100,
      currency: "EUR",
      version: 3
    })
    const missing = await api.get(`/api/accounts/${fresh("ghost")}`)
    expect(missing.status).toBe(404)
    expect(notFound(missing)).toMatchObject({ resource: "account" })
  })

  it("list: the balances read model, with read-your-writes and keyset pagination", async () => {
    const prefix = fresh("page")
    let position = ""
    for (const n of [1, 2, 3, 4, 5]) position = (await openWith(`${prefix}-${n}`, [n * 100])).position ?? ""
    const seen: Array<string> = []
    let after: string | null = null
    let pages = 0
    do {
      const query: string = after === null ? "" : `&after=${after}`
      const reply = await api.get(`/api/accounts?limit=2&waitFor=${position}${query}`)
      expect(reply.status).toBe(200)
      const page = Server.bodyAs(ApiModels.AccountsPage)(reply)
      expect(page.items.length).toBeLessThanOrEqual(2)
      seen.push(...page.items.map((row) => row.accountId))
      for (const row of page.items.filter((r) => r.accountId.startsWith(prefix))) {
        expect(row.balance).toBe(Number(row.accountId.slice(-1)) * 100)
      }
      after = page.next
      pages++
    } while (after !== null && pages < 1000)
    expect(seen).toEqual([...seen].sort())
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen.filter((id) => id.startsWith(prefix))).toEqual([1, 2, 3, 4, 5].map((n) => `${prefix}-${n}`))
  })

  it("list with waitFor a position not reached is 503 ReadModelBehind", async () => {
    const reply = await api.get("/api/accounts?waitFor=999999999")
    expect(reply.status).toBe(503)
    expect(reply.headers.get("retry-after")).toBe("1")
    expect(Server.bodyAs(ApiErrors.ReadModelBehind)(reply)).toMatchObject({ projection: "balances" })
  })

  it("waitFor reads a position in its text form and in the older <commit>:<sequence> form", async () => {
    const opened = await openWith(fresh("legacy"), [100])
    const position = opened.position ?? ""
    expect(position).toMatch(/^(\d+\/)?\d+$/)
    const sequence = position.split("/").at(-1) ?? ""
    const commit = position.includes("/") ? (position.split("/")[0] ?? "0") : "0"
    for (const text of [position, `${commit}:${sequence}`]) {
      expect((await api.get(`/api/accounts?limit=1&waitFor=${encodeURIComponent(text)}`)).status).toBe(200)
    }
    expect((await api.get("/api/accounts?waitFor=1/2/3")).status).toBe(400)
  })

  it("history: every event with its metadata, the state after it and what changed, by pages", async () => {
    const accountId = fresh()
    await openWith(accountId, [1000, 250], 0)
    await api.post(`/api/accounts/${accountId}/withdrawals`, { amount: 50 })
    const all = Server.bodyAs(ApiModels.HistoryPage)(await api.get(`/api/accounts/${accountId}/history`))
    expect(all.version).toBe(4)
    expect(all.items.map((e) => [e.version, e.type, e.balanceAfter])).toEqual([
      [1, "AccountOpened", 0],
      [2, "MoneyDeposited", 1000],
      [3, "MoneyDeposited", 1250],
      [4, "MoneyWithdrawn", 1200]
    ])
    expect(all.items[3]?.changes).toEqual([{ path: "balance", before: 1250, after: 1200 }])
    expect(all.items[0]?.changes).toContainEqual({ path: "_tag", before: "Unopened", after: "Open" })
    expect(all.items[1]?.schemaVersion).toBe(2)
    expect(all.next).toBeNull()
    const first = Server.bodyAs(ApiModels.HistoryPage)(await api.get(`/api/accounts/${accountId}/history?limit=3`))
    expect(first.items.map((e) => e.version)).toEqual([1, 2, 3])
    expect(first.next).toBe("3")
    const second = Server.bodyAs(ApiModels.HistoryPage)(
      await api.get(`/api/accounts/${accountId}/history?after=3&limit=3`)
    )
    expect(second.items.map((e) => e.version)).toEqual([4])
    expect(second.items[0]?.changes).toEqual([{ path: "balance", before: 1250, after: 1200 }])
    expect(second.next).toBeNull()
    expect((await api.get(`/api/accounts/${fresh("ghost")}/history`)).status).toBe(404)
  })

  it("balance at a version or an instant, and before the account existed", async () => {
    const accountId = fresh()
    const opened = await openWith(accountId, [700])
    const at1 = Server.bodyAs(ApiModels.PastBalanceView)(await api.get(`/api/accounts/${accountId}/balance?version=1`))
    expect(at1).toMatchObject({ version: 1, balance: 0 })
    const now = Server.bodyAs(ApiModels.PastBalanceView)(
      await api.get(`/api/accounts/${accountId}/balance?at=${new Date(Date.now() + 60_000).toISOString()}`)
    )
    expect(now).toMatchObject({ version: 2, balance: 700 })
    const before = Server.bodyAs(ApiModels.PastBalanceView)(
      await api.get(`/api/accounts/${accountId}/balance?at=2000-01-01T00:00:00Z`)
    )
    expect(before).toMatchObject({ version: 0, balance: 0, state: { _tag: "Unopened" } })
    const current = Server.bodyAs(ApiModels.PastBalanceView)(await api.get(`/api/accounts/${accountId}/balance`))
    expect(current).toMatchObject({ version: 2, balance: 700, position: opened.position })
    expect((await api.get(`/api/accounts/${fresh("ghost")}/balance?version=0`)).status).toBe(404)
  })

  it("diff between two versions", async () => {
    const accountId = fresh()
    await openWith(accountId, [100, 200, 300])
    const diff = Server.bodyAs(ApiModels.DiffView)(await api.get(`/api/accounts/${accountId}/diff?from=2&to=4`))
    expect(diff).toMatchObject({ from: 2, to: 4 })
    expect(diff.changes).toEqual([{ path: "balance", before: 100, after: 600 }])
    const same = Server.bodyAs(ApiModels.DiffView)(await api.get(`/api/accounts/${accountId}/diff?from=3&to=3`))
    expect(same.changes).toEqual([])
  })
})

describe("streams and the global feed", () => {
  it("categories and the stream catalog, by pages and by category", async () => {
    const prefix = fresh("cat")
    let position = ""
    for (const n of [1, 2, 3]) position = (await openWith(`${prefix}-${n}`, [10])).position ?? ""
    const categories = Server.bodyAs(ApiModels.CategoriesView)(await api.get(`/api/categories?waitFor=${position}`))
    const account = categories.items.find((c) => c.category === "Account")
    expect(account?.streams).toBeGreaterThanOrEqual(3)
    expect(account?.events).toBeGreaterThanOrEqual(6)
    const collected: Array<string> = []
    let after = `Account-${prefix}`
    for (;;) {
      const page = Server.bodyAs(ApiModels.StreamsPage)(
        await api.get(`/api/streams?category=Account&limit=2&after=${after}&waitFor=${position}`)
      )
      collected.push(...page.items.filter((s) => s.streamId.startsWith(`Account-${prefix}`)).map((s) => s.streamId))
      for (const item of page.items) expect(item.category).toBe("Account")
      if (page.next === null || !page.next.startsWith(`Account-${prefix}`)) break
      after = page.next
    }
    expect(collected).toEqual([1, 2, 3].map((n) => `Account-${prefix}-${n}`))
    const one = Server.bodyAs(ApiModels.StreamsPage)(
      await api.get(`/api/streams?after=Account-${prefix}-2&limit=1&waitFor=${position}`)
    )
    expect(one.items[0]).toMatchObject({ streamId: `Account-${prefix}-3`, version: 2, lastType: "MoneyDeposited" })
    const none = Server.bodyAs(ApiModels.StreamsPage)(await api.get("/api/streams?category=NoSuchCategory"))
    expect(none).toEqual({ items: [], next: null })
  })

  it("one stream, as stored, by pages; an unknown stream is 404", async () => {
    const accountId = fresh()
    await openWith(accountId, [1, 2, 3])
    const page = Server.bodyAs(ApiModels.StreamPage)(await api.get(`/api/streams/Account-${accountId}?limit=3`))
    expect(page.version).toBe(4)
    expect(page.items.map((e) => e.version)).toEqual([1, 2, 3])
    expect(page.items[1]).toMatchObject({
      type: "MoneyDeposited",
      schemaVersion: 2,
      data: { amount: 1, currency: "EUR" }
    })
    expect(page.next).toBe("3")
    const rest = Server.bodyAs(ApiModels.StreamPage)(await api.get(`/api/streams/Account-${accountId}?after=3`))
    expect(rest.items.map((e) => e.version)).toEqual([4])
    expect(rest.next).toBeNull()
    const missing = await api.get(`/api/streams/Account-${fresh("ghost")}`)
    expect(missing.status).toBe(404)
    expect(notFound(missing).resource).toBe("stream")
  })

  it("the global feed: pages in position order, by category, up to the head", async () => {
    const accountId = fresh()
    const last = await openWith(accountId, [5, 6])
    const head = Server.bodyAs(ApiModels.FeedPage)(await api.get("/api/events?limit=1"))
    expect(head.items).toHaveLength(1)
    expect(head.next).toBe(head.items[0]?.position)
    const positions: Array<string> = []
    let after: string | null = null
    for (let i = 0; i < 1000; i++) {
      const query: string = after === null ? "" : `&after=${after}`
      const page = Server.bodyAs(ApiModels.FeedPage)(await api.get(`/api/events?category=Account&limit=50${query}`))
      positions.push(...page.items.map((e) => e.position))
      if (page.next === null) break
      after = page.next
    }
    const decoded = positions.map(parsePosition)
    expect(decoded).toEqual(Arr.sort(decoded, Position.Order))
    expect(positions).toContain(last.position)
    const after_ = Server.bodyAs(ApiModels.FeedPage)(await api.get(`/api/events?after=${last.position}`))
    expect(after_.items.every((e) => e.position !== last.position)).toBe(true)
    const other = Server.bodyAs(ApiModels.FeedPage)(await api.get("/api/events?category=NoSuchCategory"))
    expect(other).toMatchObject({ items: [], next: null })
  })

  it("the live feed streams events as server-sent events, and ends when the client goes away", async () => {
    const accountId = fresh()
    const opened = await openWith(accountId)
    const controller = new AbortController()
    const response = await fetch(`${server.url}/api/events/live?from=${opened.position}&category=Account`, {
      signal: controller.signal
    })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/event-stream")
    const reader = response.body?.getReader()
    if (reader === undefined) throw new Error("no body")
    await Server.eventually(async () => {
      const health = Server.bodyAs(ApiModels.HealthView)(await api.get("/api/health"))
      return health.liveClients >= 1
    })
    const deposited = result(await api.post(`/api/accounts/${accountId}/deposits`, { amount: 4242 }))
    let text = ""
    const decoder = new TextDecoder()
    while (!text.includes(`id: ${deposited.position}`)) {
      const chunk = await reader.read()
      if (chunk.done) break
      text += decoder.decode(chunk.value, { stream: true })
    }
    const message = text.split("\n\n").find((m) => m.includes(`id: ${deposited.position}`)) ?? ""
    expect(message).toContain("event: chronicle-event")
    const data = JSON.parse(
      message
        .split("\n")
        .find((line) => line.startsWith("data: "))
        ?.slice(6) ?? "{}"
    )
    expect(Schema.decodeUnknownSync(ApiModels.StoredEventView)(data)).toMatchObject({
      streamId: `Account-${accountId}`,
      type: "MoneyDeposited",
      data: { amount: 4242, currency: "EUR" }
    })
    // the opening event is before `from`: not sent again
    expect(text).not.toContain(`id: ${opened.position}\n`)
    controller.abort()
    await reader.cancel().catch(() => undefined)
    await Server.eventually(async () => {
      const health = Server.bodyAs(ApiModels.HealthView)(await api.get("/api/health"))
      return health.liveClients === 0
    })
  })
})

describe("projections and health", () => {
  it("lists every projection with its state, checkpoint and lag, which returns to 0", async () => {
    const last = await openWith(fresh(), [1])
    await Server.eventually(async () => {
      const view = Server.bodyAs(ApiModels.ProjectionsView)(await api.get("/api/projections"))
      const names = view.items.map((p) => p.name)
      expect(names).toEqual(expect.arrayContaining(["balances", "statements", "daily-totals", "stream-catalog"]))
      // The bank's read models; the Transfer saga's trigger consumer (saga:Transfer) is listed too.
      expect(names).toContain("saga:Transfer")
      return view.items.every(
        (p) =>
          p.name === "saga:Transfer" ||
          (p.lag === 0 &&
            p.checkpoint !== null &&
            Position.isAtOrAfter(parsePosition(p.checkpoint), parsePosition(last.position ?? "")))
      )
    })
  })

  it("rebuild answers 202 at once, and its progress is readable until it is done", async () => {
    await openWith(fresh(), [1, 2])
    const started = await api.post("/api/projections/statements/rebuild")
    expect(started.status).toBe(202)
    expect(Server.bodyAs(ApiModels.RebuildView)(started)).toMatchObject({ projection: "statements", status: "running" })
    let done: ApiModels.RebuildView | undefined
    await Server.eventually(async () => {
      const progress = Server.bodyAs(ApiModels.RebuildView)(await api.get("/api/projections/statements/rebuild"))
      if (progress.status === "done") done = progress
      return progress.status !== "running"
    })
    expect(done).toMatchObject({ status: "done", lag: 0, error: null })
    expect(done?.processed).toBeGreaterThanOrEqual(3)
    expect(done?.finishedAt).not.toBeNull()
    // the runner is back: new events reach the read model
    const next = await openWith(fresh(), [9])
    await Server.eventually(async () => {
      const view = Server.bodyAs(ApiModels.ProjectionsView)(await api.get("/api/projections"))
      const statements = view.items.find((p) => p.name === "statements")
      expect(statements?.rebuild?.status).toBe("done")
      return statements?.lag === 0 && statements.checkpoint === next.position
    })
    const unknown = await api.post("/api/projections/nope/rebuild")
    expect(unknown.status).toBe(404)
    expect(notFound(unknown).resource).toBe("projection")
    const never = await api.get("/api/projections/daily-totals/rebuild")
    expect(never.status).toBe(404)
    expect(notFound(never).resource).toBe("rebuild")
  })

  it("health: the store answers, the feed is current, each projection's lag", async () => {
    const reply = await api.get("/api/health")
    expect(reply.status).toBe(200)
    const health = Server.bodyAs(ApiModels.HealthView)(reply)
    expect(health.status).toBe("ok")
    expect(health.store).toMatchObject({ reachable: true, error: null })
    expect(health.feed).toMatchObject({ current: true, hiddenEvents: 0 })
    expect(health.projections.map((p) => p.name)).toContain("balances")
  })
})

describe("the store failing", () => {
  const faults = { down: false, lostAnswers: false }
  let broken: Server.Running
  let brokenApi: ReturnType<typeof Server.client>

  beforeAll(async () => {
    const stores = Server.faulty(faults).pipe(
      Layer.provideMerge(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "faulty.db") }))
    )
    broken = await Server.start(stores, { projections: [], transfers: false })
    brokenApi = Server.client(broken.url)
  })
  afterAll(() => broken?.close())

  it("is 503 Unavailable for commands and queries, 503 Unhealthy for health, with Retry-After", async () => {
    const accountId = fresh()
    expect((await brokenApi.post("/api/accounts", { accountId, owner: "Ada" })).status).toBe(201)
    faults.down = true
    try {
      const command = await brokenApi.post(`/api/accounts/${accountId}/deposits`, { amount: 5 })
      expect(command.status).toBe(503)
      expect(command.headers.get("retry-after")).toBe("1")
      expect(Server.bodyAs(ApiErrors.Unavailable)(command).message).toContain("connection refused")
      const query = await brokenApi.get(`/api/streams/Account-${accountId}`)
      expect(query.status).toBe(503)
      const health = await brokenApi.get("/api/health")
      expect(health.status).toBe(503)
      expect(Server.bodyAs(ApiErrors.Unhealthy)(health).health).toMatchObject({
        status: "down",
        store: { reachable: false }
      })
    } finally {
      faults.down = false
    }
    expect((await brokenApi.get("/api/health")).status).toBe(200)
  })

  it("a lost answer is 503 OutcomeUnknown; retried with the same key, it is recorded once", async () => {
    const accountId = fresh()
    await brokenApi.post("/api/accounts", { accountId, owner: "Ada" })
    faults.lostAnswers = true
    let lost: Server.Reply
    try {
      lost = await brokenApi.post(
        `/api/accounts/${accountId}/deposits`,
        { amount: 300 },
        { "idempotency-key": "pay-1" }
      )
    } finally {
      faults.lostAnswers = false
    }
    expect(lost.status).toBe(503)
    expect(Server.bodyAs(ApiErrors.OutcomeUnknown)(lost)).toMatchObject({ commandId: "pay-1" })
    const retried = await brokenApi.post(
      `/api/accounts/${accountId}/deposits`,
      { amount: 300 },
      { "idempotency-key": "pay-1" }
    )
    expect(result(retried)).toMatchObject({ duplicate: true, balance: 300, version: 2 })
  })
})

describe("the OpenAPI document and the docs page", () => {
  it("has every route of the definition and validates as OpenAPI 3.1", async () => {
    const reply = await api.get("/openapi.json")
    expect(reply.status).toBe(200)
    const document = Server.bodyAs(
      Schema.Struct({
        openapi: Schema.String,
        paths: Schema.Record({
          key: Schema.String,
          value: Schema.Record({ key: Schema.String, value: Schema.Unknown })
        })
      })
    )(reply)
    expect(document.openapi).toMatch(/^3\.1\./)
    const expected = Object.values(BankApi.BankApi.groups).flatMap((group) =>
      Object.values(group.endpoints).map(
        (endpoint) => `${endpoint.method.toLowerCase()} ${endpoint.path.replace(/:(\w+)/g, "{$1}")}`
      )
    )
    expect(expected.length).toBe(22)
    const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`)
    )
    expect(documented.sort()).toEqual(expected.sort())
    // statuses of the errors are documented
    const deposit = JSON.stringify(document.paths["/api/accounts/{accountId}/withdrawals"])
    for (const status of ["200", "400", "404", "409", "422", "503"]) expect(deposit).toContain(`"${status}"`)
    const transfer = JSON.stringify(document.paths["/api/transfers"]?.post)
    for (const status of ["202", "400", "404", "409", "422", "503"]) expect(transfer).toContain(`"${status}"`)
    const approve = JSON.stringify(document.paths["/api/transfers/{transferId}/approve"])
    for (const status of ["200", "400", "404", "422", "503"]) expect(approve).toContain(`"${status}"`)
    for (const route of ["/api/transfers", "/api/transfers/{transferId}"]) {
      expect(Object.keys(document.paths[route] ?? {})).toContain("get")
    }
    // validates, as served
    const file = join(dir, "openapi.json")
    writeFileSync(file, JSON.stringify(reply.body))
    await expect(SwaggerParser.validate(file)).resolves.toBeDefined()
  })

  it("serves the Swagger page at /docs", async () => {
    const docs = await api.get("/docs")
    expect(docs.status).toBe(200)
    expect(String(docs.body)).toContain("swagger-ui")
  })
})
