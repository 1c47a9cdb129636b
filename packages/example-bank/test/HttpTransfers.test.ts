/**
 * The transfer routes of the bank's HTTP API on SQLite (a temporary file,
 * one server running the Transfer saga), through a real HTTP client: the
 * shared suite (`support/transfers.ts`), and the 503s of a store that fails
 * or loses the answer to a write (a second server, without the saga).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Layer } from "effect"
import { ApiErrors, BackgroundProjections, TransferModels } from "../src/http/index.js"
import { BankStore, Projections } from "../src/index.js"
import * as Server from "./support/server.js"
import { sagaOptions, transferSuite } from "./support/transfers.js"

const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-transfers-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

transferSuite("transfers over HTTP on SQLite", async () => {
  const server = await Server.start(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "bank.db") }), {
    transfers: sagaOptions
  })
  return { server, stop: server.close }
})

describe("transfers over HTTP, the store failing", () => {
  const faults = { down: false, lostAnswers: false }
  let broken: Server.Running
  let api: ReturnType<typeof Server.client>

  beforeAll(async () => {
    const stores = Server.faulty(faults).pipe(
      Layer.provideMerge(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "faulty.db") }))
    )
    broken = await Server.start(stores, {
      projections: [BackgroundProjections.define(Projections.Transfers, { onFailure: "stop" })],
      transfers: false
    })
    api = Server.client(broken.url)
  })
  afterAll(() => broken?.close())

  const open = async (accountId: string) =>
    expect((await api.post("/api/accounts", { accountId, owner: "Ada" })).status).toBe(201)

  it("is 503 Unavailable with Retry-After for every transfer route while the store is down", async () => {
    await open("down-a")
    await open("down-b")
    const transferId = "down-t1"
    const requested = await api.post("/api/transfers", { transferId, from: "down-a", to: "down-b", amount: 5 })
    expect(requested.status).toBe(202)
    const position = Server.bodyAs(TransferModels.TransferCommandResult)(requested).position ?? ""
    // listed from the read model, once it has the transfer: the list then reads its saga's journal from the store
    const listed = await api.get(`/api/transfers?waitFor=${encodeURIComponent(position)}`)
    expect(Server.bodyAs(TransferModels.TransfersPage)(listed).items.map((t) => t.transferId)).toEqual([transferId])
    faults.down = true
    try {
      const replies = [
        await api.post("/api/transfers", { from: "down-a", to: "down-b", amount: 5 }),
        await api.post(`/api/transfers/${transferId}/approve`),
        await api.get(`/api/transfers/${transferId}`),
        await api.get("/api/transfers")
      ]
      for (const reply of replies) {
        expect(reply.status).toBe(503)
        expect(reply.headers.get("retry-after")).toBe("1")
        expect(Server.bodyAs(ApiErrors.Unavailable)(reply).message).toContain("connection refused")
      }
    } finally {
      faults.down = false
    }
    // without the saga in this server, the transfer stays requested
    const view = Server.bodyAs(TransferModels.TransferView)(await api.get(`/api/transfers/${transferId}`))
    expect(view).toMatchObject({ status: "requested", saga: null, journal: [] })
  })

  it("a lost answer is 503 OutcomeUnknown; retried with the same key, the transfer is recorded once", async () => {
    await open("lost-a")
    await open("lost-b")
    const body = { from: "lost-a", to: "lost-b", amount: 300 }
    faults.lostAnswers = true
    let lost: Server.Reply
    try {
      lost = await api.post("/api/transfers", body, { "idempotency-key": "transfer-lost-1" })
    } finally {
      faults.lostAnswers = false
    }
    expect(lost.status).toBe(503)
    expect(Server.bodyAs(ApiErrors.OutcomeUnknown)(lost)).toMatchObject({ commandId: "transfer-lost-1" })
    const retried = Server.bodyAs(TransferModels.TransferCommandResult)(
      await api.post("/api/transfers", body, { "idempotency-key": "transfer-lost-1" })
    )
    expect(retried).toMatchObject({ duplicate: true, version: 1 })
    const view = Server.bodyAs(TransferModels.TransferView)(await api.get(`/api/transfers/${retried.transferId}`))
    expect(view.events.map((e) => e.type)).toEqual(["TransferRequested"])
  })
})
