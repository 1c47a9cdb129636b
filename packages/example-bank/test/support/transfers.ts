/**
 * The transfer routes of the bank's HTTP API, as one suite run on SQLite and
 * on PostgreSQL (`HttpTransfers.test.ts`, `HttpTransfersPostgres.test.ts`),
 * through a real HTTP client against a running server that runs the
 * Transfer saga (approval above 500.00 here): start, its steps as they
 * happen, approval, failure with its reason, idempotent replays, every
 * error status, and the list by status and by pages (from the transfers
 * read model, read after `waitFor` the position a command or an event
 * returned: read-your-writes).
 */
import { HttpApiError } from "@effect/platform"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ApiErrors, ApiModels, type BankServer, TransferModels } from "../../src/http/index.js"
import * as Server from "./server.js"

/** The server's Transfer saga: approval above 500.00, a deadline far away. */
export const sagaOptions: BankServer.Options["transfers"] = { approvalAbove: 50_000, approvalDeadline: "1 hour" }

const fresh = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`
const started = Server.bodyAs(TransferModels.TransferCommandResult)
const transferOf = Server.bodyAs(TransferModels.TransferView)
const pageOf = Server.bodyAs(TransferModels.TransfersPage)
const accountOf = Server.bodyAs(ApiModels.AccountView)

export const transferSuite = (
  label: string,
  start: () => Promise<{ readonly server: Server.Running; readonly stop: () => Promise<void> }>
) =>
  describe(label, () => {
    let running: { readonly server: Server.Running; readonly stop: () => Promise<void> } | undefined
    let api: ReturnType<typeof Server.client>

    beforeAll(async () => {
      running = await start()
      api = Server.client(running.server.url)
    })
    afterAll(() => running?.stop())

    const open = async (balance: number) => {
      const accountId = fresh("acc")
      expect((await api.post("/api/accounts", { accountId, owner: "Ada Lovelace" })).status).toBe(201)
      if (balance > 0) await api.post(`/api/accounts/${accountId}/deposits`, { amount: balance })
      return accountId
    }

    /** A page of the list, once the transfers read model has applied `position`. */
    const list = async (query: string, position: string | null | undefined) => {
      const wait = position === null || position === undefined ? "" : `&waitFor=${encodeURIComponent(position)}`
      const reply = await api.get(`/api/transfers?${query}${wait}`)
      expect(reply.status, JSON.stringify(reply.body)).toBe(200)
      return pageOf(reply)
    }

    /** The position of a transfer's last event. */
    const lastPosition = (view: TransferModels.TransferView) => view.events[view.events.length - 1]?.position

    const balanceOf = async (accountId: string) => accountOf(await api.get(`/api/accounts/${accountId}`)).balance

    /** Polls the transfer until its status is one of `statuses`. */
    const until = async (transferId: string, ...statuses: ReadonlyArray<TransferModels.TransferStatus>) => {
      let last: TransferModels.TransferView | undefined
      await Server.eventually(async () => {
        last = transferOf(await api.get(`/api/transfers/${transferId}`))
        return statuses.includes(last.status)
      }, 60_000)
      if (last === undefined) throw new Error("unreachable")
      return last
    }

    it("a transfer starts at once (202) and completes: its steps, journal and events, and the balances", async () => {
      const from = await open(10_000)
      const to = await open(0)
      const transferId = fresh("t")
      const reply = await api.post(
        "/api/transfers",
        { transferId, from, to, amount: 2_500 },
        { "x-correlation-id": `corr-${transferId}` }
      )
      expect(reply.status).toBe(202)
      expect(reply.headers.get("x-correlation-id")).toBe(`corr-${transferId}`)
      const body = started(reply)
      expect(body).toMatchObject({ transferId, duplicate: false, version: 1, correlationId: `corr-${transferId}` })
      expect(body.events.map((e) => e._tag)).toEqual(["TransferRequested"])
      expect(body.position).toMatch(/^(\d+\/)?\d+$/)

      const done = await until(transferId, "completed", "failed")
      expect(done).toMatchObject({ transferId, from, to, amount: 2_500, status: "completed", reason: null })
      expect(done.saga).toMatchObject({ state: "completed", steps: ["assess", "withdraw", "deposit", "complete"] })
      expect(done.events.map((e) => e.type)).toEqual(["TransferRequested", "TransferCompleted"])
      expect(done.events.every((e) => e.streamId === `Transfer-${transferId}`)).toBe(true)
      const journal = done.journal.map((e) => e.type)
      expect(journal[0]).toBe("SagaStarted")
      expect(journal.filter((t) => t === "SagaStepCompleted")).toHaveLength(4)
      expect(journal[journal.length - 1]).toBe("SagaCompleted")
      expect(done.journal.every((e) => e.streamId === `saga:Transfer-${transferId}`)).toBe(true)
      // the saga's commands carry the request's correlation id
      expect(done.events.every((e) => e.correlationId === `corr-${transferId}`)).toBe(true)
      expect(await balanceOf(from)).toBe(7_500)
      expect(await balanceOf(to)).toBe(2_500)
    })

    it("an Idempotency-Key replayed names the same transfer and records nothing new", async () => {
      const from = await open(5_000)
      const to = await open(0)
      const key = fresh("pay")
      const first = started(await api.post("/api/transfers", { from, to, amount: 700 }, { "idempotency-key": key }))
      expect(first).toMatchObject({ commandId: key, duplicate: false, version: 1 })
      expect(first.transferId).toMatch(/^t-[0-9a-f]{24}$/)
      const replay = await api.post("/api/transfers", { from, to, amount: 700 }, { "idempotency-key": key })
      expect(replay.status).toBe(202)
      expect(started(replay)).toMatchObject({
        transferId: first.transferId,
        commandId: key,
        duplicate: true,
        position: first.position
      })
      await until(first.transferId, "completed")
      // replayed after the end: still the first outcome, money moved once
      const late = started(await api.post("/api/transfers", { from, to, amount: 700 }, { "idempotency-key": key }))
      expect(late).toMatchObject({ transferId: first.transferId, duplicate: true })
      expect(await balanceOf(from)).toBe(4_300)
      expect(await balanceOf(to)).toBe(700)
      // the same request with its id and no key is no new transfer either
      const again = started(await api.post("/api/transfers", { transferId: first.transferId, from, to, amount: 700 }))
      expect(again).toMatchObject({ transferId: first.transferId, duplicate: true })
      const events = transferOf(await api.get(`/api/transfers/${first.transferId}`)).events
      expect(events.map((e) => e.type)).toEqual(["TransferRequested", "TransferCompleted"])
    })

    it("above the threshold it awaits approval; approved, it completes; approving again after the end is 422", async () => {
      const from = await open(100_000)
      const to = await open(0)
      const transferId = fresh("big")
      const big = await api.post("/api/transfers", { transferId, from, to, amount: 60_000 })
      expect(big.status).toBe(202)
      const waiting = await until(transferId, "awaiting-approval")
      expect(waiting.saga).toMatchObject({ state: "waiting", steps: ["assess", "withdraw"] })
      expect(waiting.saga?.waitingFor?.for).toContain("approved")
      expect(await balanceOf(from)).toBe(40_000)
      const listed = await list("status=awaiting-approval&limit=500", started(big).position)
      expect(listed.items.map((t) => t.transferId)).toContain(transferId)
      expect(listed.items.every((t) => t.status === "awaiting-approval")).toBe(true)

      const approved = await api.post(`/api/transfers/${transferId}/approve`, undefined, {
        "idempotency-key": `approve-${transferId}`
      })
      expect(approved.status).toBe(200)
      expect(started(approved)).toMatchObject({ transferId, duplicate: false, version: 2 })
      expect(started(approved).events.map((e) => e._tag)).toEqual(["TransferApproved"])
      const replayed = started(
        await api.post(`/api/transfers/${transferId}/approve`, undefined, {
          "idempotency-key": `approve-${transferId}`
        })
      )
      // the saga may have completed it meanwhile: the replay records nothing, and says the approval it was
      expect(replayed).toMatchObject({ duplicate: true, commandId: `approve-${transferId}` })
      expect(replayed.events.map((e) => e._tag)).toEqual(["TransferApproved"])

      const done = await until(transferId, "completed", "failed")
      expect(done.status).toBe("completed")
      expect(done.events.map((e) => e.type)).toEqual(["TransferRequested", "TransferApproved", "TransferCompleted"])
      expect(done.journal.map((e) => e.type)).toContain("SagaSignalReceived")
      expect(await balanceOf(to)).toBe(60_000)

      const late = await api.post(`/api/transfers/${transferId}/approve`)
      expect(late.status).toBe(422)
      expect(Server.bodyAs(ApiErrors.TransferRefused)(late).error).toMatchObject({
        _tag: "TransferSettled",
        outcome: "completed"
      })
    })

    it("a transfer the source cannot afford fails, with its reason, and nothing moves", async () => {
      const from = await open(1_000)
      const to = await open(0)
      const transferId = fresh("poor")
      expect((await api.post("/api/transfers", { transferId, from, to, amount: 5_000 })).status).toBe(202)
      const failed = await until(transferId, "failed", "completed")
      expect(failed.status).toBe("failed")
      expect(failed.reason).toContain("cannot withdraw 50.00")
      expect(failed.saga).toMatchObject({ state: "failed" })
      expect(failed.events.map((e) => e.type)).toEqual(["TransferRequested", "TransferFailed"])
      expect(await balanceOf(from)).toBe(1_000)
      expect(await balanceOf(to)).toBe(0)
      const failedOnes = await list("status=failed&limit=500", lastPosition(failed))
      expect(failedOnes.items.find((t) => t.transferId === transferId)).toMatchObject({ status: "failed" })
    })

    it("errors: 400 bad input, 404 unknown account or transfer, 409 an id taken, 422 the same account", async () => {
      const from = await open(1_000)
      const to = await open(0)
      const bad = [
        { from, to, amount: -5 },
        { from, to, amount: 1.5 },
        { from, to, amount: "12" },
        { from, amount: 100 },
        { transferId: "no spaces", from, to, amount: 100 },
        { from: "", to, amount: 100 }
      ]
      for (const body of bad) {
        const reply = await api.post("/api/transfers", body)
        expect(reply.status, JSON.stringify(body)).toBe(400)
        expect(Server.bodyAs(HttpApiError.HttpApiDecodeError)(reply).message.length).toBeGreaterThan(0)
      }
      const notJson = await api.post("/api/transfers", "{ nope")
      expect(notJson.status).toBe(400)
      expect((await api.post("/api/transfers", { from, to, amount: 5 }, { "idempotency-key": "-bad" })).status).toBe(
        400
      )
      expect((await api.get("/api/transfers?status=lost")).status).toBe(400)
      expect((await api.get("/api/transfers?limit=0")).status).toBe(400)
      const cursor = await api.get(`/api/transfers?after=${fresh("nobody")}`)
      expect(cursor.status).toBe(400)
      expect(Server.bodyAs(HttpApiError.HttpApiDecodeError)(cursor).message).toContain("no transfer")

      const ghost = fresh("ghost")
      for (const body of [
        { from: ghost, to, amount: 100 },
        { from, to: ghost, amount: 100 }
      ]) {
        const reply = await api.post("/api/transfers", body)
        expect(reply.status).toBe(404)
        expect(Server.bodyAs(ApiErrors.NotFound)(reply)).toMatchObject({ resource: "account", id: ghost })
      }
      const unknown = fresh("t")
      for (const reply of [
        await api.get(`/api/transfers/${unknown}`),
        await api.post(`/api/transfers/${unknown}/approve`)
      ]) {
        expect(reply.status).toBe(404)
        expect(Server.bodyAs(ApiErrors.NotFound)(reply)).toMatchObject({ resource: "transfer", id: unknown })
      }
      expect((await api.get("/api/transfers/not%20an%20id")).status).toBe(400)

      const self = await api.post("/api/transfers", { from, to: from, amount: 100 })
      expect(self.status).toBe(422)
      expect(Server.bodyAs(ApiErrors.TransferRefused)(self).error).toMatchObject({ _tag: "SameAccount" })

      const transferId = fresh("t")
      const recorded = await api.post("/api/transfers", { transferId, from, to, amount: 100 })
      expect(recorded.status).toBe(202)
      const taken = await api.post("/api/transfers", { transferId, from, to, amount: 999 })
      expect(taken.status).toBe(409)
      expect(Server.bodyAs(ApiErrors.TransferConflict)(taken)).toMatchObject({ transferId })
      // none of the refused requests recorded a transfer
      const all = (await list("limit=500", started(recorded).position)).items
      expect(all.filter((t) => t.from === ghost || t.to === ghost || t.from === t.to)).toEqual([])
      expect(all.find((t) => t.transferId === transferId)).toMatchObject({ amount: 100 })
    })

    it("lists transfers in the order requested, by pages", async () => {
      const from = await open(10_000)
      const to = await open(0)
      const mine: Array<string> = []
      let position: string | null = null
      for (let n = 0; n < 3; n++) {
        const transferId = fresh(`page${n}`)
        mine.push(transferId)
        const reply = await api.post("/api/transfers", { transferId, from, to, amount: 10 + n })
        expect(reply.status).toBe(202)
        position = started(reply).position
      }
      const seen: Array<string> = []
      let after: string | null = null
      let pages = 0
      do {
        const query: string = after === null ? "" : `&after=${after}`
        const page = await list(`limit=2${query}`, position)
        expect(page.items.length).toBeLessThanOrEqual(2)
        seen.push(...page.items.map((t) => t.transferId))
        after = page.next
        pages++
      } while (after !== null && pages < 1000)
      expect(new Set(seen).size).toBe(seen.length)
      expect(seen.filter((id) => mine.includes(id))).toEqual(mine)
      let last: string | undefined
      for (const transferId of mine) last = lastPosition(await until(transferId, "completed"))
      const completed = (await list("status=completed&limit=500", last)).items
      expect(completed.filter((t) => mine.includes(t.transferId)).map((t) => t.amount)).toEqual([10, 11, 12])
    })

    it("a transfer whose status changes between pages moves no other: the cursor is a place in the order requested", async () => {
      const from = await open(1_000_000)
      const to = await open(0)
      const mine: Array<string> = []
      for (let n = 0; n < 3; n++) {
        const transferId = fresh(`turn${n}`)
        mine.push(transferId)
        expect((await api.post("/api/transfers", { transferId, from, to, amount: 60_000 + n })).status).toBe(202)
      }
      let position: string | undefined
      for (const transferId of mine) position = lastPosition(await until(transferId, "awaiting-approval"))
      const [first, second, third] = mine
      if (first === undefined || second === undefined || third === undefined) throw new Error("unreachable")

      const one = await list(`status=awaiting-approval&limit=1&after=${first}`, position)
      expect(one.items.map((t) => t.transferId)).toEqual([second])
      expect(one.items[0]).toMatchObject({ status: "awaiting-approval", saga: { state: "waiting" } })
      expect(one.next).toBe(second)
      const unfiltered = await list(`limit=1&after=${first}`, position)
      expect(unfiltered.items.map((t) => t.transferId)).toEqual([second])

      // The transfer the cursor names leaves the filter (approved, it completes) before the next page.
      const approved = await api.post(`/api/transfers/${second}/approve`)
      expect(approved.status).toBe(200)
      const done = await until(second, "completed")
      const next = await list(`status=awaiting-approval&limit=1&after=${one.next}`, lastPosition(done))
      expect(next.items.map((t) => t.transferId)).toEqual([third])
      expect(
        (await list(`limit=1&after=${unfiltered.next}`, lastPosition(done))).items.map((t) => t.transferId)
      ).toEqual([third])
      // Page by page from the start, one at a time: the filter skips the transfers of other statuses
      // (the failed ones of the tests before read their saga, and are skipped too).
      const walked: Array<TransferModels.TransferSummary> = []
      let after: string | null = null
      let pages = 0
      do {
        const query: string = after === null ? "" : `&after=${after}`
        const page = await list(`status=awaiting-approval&limit=1${query}`, lastPosition(done))
        expect(page.items.length).toBeLessThanOrEqual(1)
        walked.push(...page.items)
        after = page.next
        pages++
      } while (after !== null && pages < 1000)
      expect(walked.every((t) => t.status === "awaiting-approval")).toBe(true)
      expect(walked.map((t) => t.transferId).filter((id) => mine.includes(id))).toEqual([first, third])
      // None of them: every candidate read, an empty page.
      expect(await list("status=compensation-failed&limit=1", lastPosition(done))).toEqual({ items: [], next: null })
      // From the start again, the filter skips it, the whole list still has it, in its place.
      const waiting = (await list("status=awaiting-approval&limit=500", lastPosition(done))).items.map(
        (t) => t.transferId
      )
      expect(waiting.filter((id) => mine.includes(id))).toEqual([first, third])
      const everything = (await list("limit=500", lastPosition(done))).items
      expect(everything.filter((t) => mine.includes(t.transferId)).map((t) => [t.transferId, t.status])).toEqual([
        [first, "awaiting-approval"],
        [second, "completed"],
        [third, "awaiting-approval"]
      ])
    })
  })
