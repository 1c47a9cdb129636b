/**
 * The event explorer in a real browser: the machine's Chromium, headless,
 * driven by `playwright-core` (no browser download), against a running
 * server on SQLite. It opens an account and deposits through the page, reads
 * the balance, drags the time-travel slider back and reads the balance of an
 * earlier version, sees a refusal in words, compares two versions, browses
 * the streams and one stream's events, loads a second page of streams that
 * the view's refresh keeps, watches the live feed receive an
 * event, sees the projections' lag return to 0 and a rebuild finish, and
 * starts a transfer through the page and sees it complete with its steps
 * (and a large one await approval, approved with its button, live).
 * A screenshot of each view goes to `test-artifacts/explorer/` (ignored by
 * git).
 *
 * Chromium comes from the OS packages (`apt-get install chromium`; `.ci/run`
 * installs it). Without it the file is skipped with a notice, unless `CI` is
 * set: then it fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type Browser, chromium, type Locator, type Page } from "playwright-core"
import { ensureFresh, programs } from "../../../scripts/bundle.mjs"
import { ApiModels, TransferModels } from "../src/http/index.js"
import { BankStore } from "../src/index.js"
import * as Server from "./support/server.js"

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const available = existsSync(executablePath)
if (!available) {
  if (process.env.CI) throw new Error(`Chromium is not at ${executablePath}, and CI is set: the browser tests must run`)
  console.warn(
    `NOTICE: Chromium is not at ${executablePath}; skipping the browser tests (apt-get install chromium, or set CHROMIUM_PATH; set CI to fail).`
  )
}

/** The flags of a headless Chromium that reaches nothing but the server under test. */
const chromiumFlags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const root = join(import.meta.dirname, "..", "..", "..")
const artifacts = join(root, "test-artifacts", "explorer")

/** Waits until the locator's text satisfies `check` (polling, at most `timeoutMs`), and returns it. */
const textUntil = async (locator: Locator, check: (text: string) => boolean, timeoutMs = 20_000): Promise<string> => {
  const deadline = Date.now() + timeoutMs
  let last = ""
  for (;;) {
    last = (await locator.textContent({ timeout: 20_000 }).catch(() => null)) ?? ""
    if (check(last)) return last
    if (Date.now() > deadline) throw new Error(`text never matched; last seen: ${JSON.stringify(last)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe.skipIf(!available)("the event explorer in Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-explorer-"))
  let server: Server.Running
  let browser: Browser
  let page: Page
  const accountId = `ada-${crypto.randomUUID().slice(0, 6)}`
  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true })

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true })
    await ensureFresh(programs.web)
    server = await Server.start(BankStore.layer({ _tag: "Sqlite", filename: join(dir, "bank.db") }), {
      transfers: { approvalAbove: 50_000, approvalDeadline: "1 hour" }
    })
    browser = await chromium.launch({ executablePath, args: chromiumFlags })
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } })
    page.setDefaultTimeout(20_000)
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("opens an account and deposits through the page, and shows the balance", async () => {
    await page.goto(`${server.url}/`)
    await page.getByRole("heading", { name: "Open an account" }).waitFor()
    await shot("accounts-empty")
    const form = page.getByTestId("open-form")
    await form.getByLabel("Account id").fill(accountId)
    await form.getByLabel("Owner").fill("Ada Lovelace")
    await form.getByLabel("Overdraft limit (€)").fill("50")
    await form.getByRole("button", { name: "Open account" }).click()
    await textUntil(page.getByTestId("account"), (text) => text.includes("Ada Lovelace"))
    expect(await page.getByTestId("balance").textContent()).toBe("0.00 €")

    const commands = page.getByTestId("commands")
    await commands.getByLabel("Amount (€)").fill("100")
    await commands.getByRole("button", { name: "Deposit" }).click()
    await textUntil(page.getByTestId("balance"), (text) => text === "100.00 €")
    await commands.getByLabel("Amount (€)").fill("25.50")
    await commands.getByRole("button", { name: "Deposit" }).click()
    await textUntil(page.getByTestId("balance"), (text) => text === "125.50 €")
    expect(await page.getByTestId("outcome").textContent()).toContain("MoneyDeposited")
    await textUntil(page.getByTestId("tt-version"), (text) => text.startsWith("Version 3 of 3"))
    await shot("account")
  })

  it("drags the time-travel slider back and shows the balance of an earlier version", async () => {
    const slider = page.getByTestId("time-slider")
    const box = await slider.boundingBox()
    if (box === null) throw new Error("the slider is not visible")
    await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2)
    await page.mouse.down()
    await page.mouse.move(box.x + 2, box.y + box.height / 2, { steps: 12 })
    await page.mouse.up()
    await textUntil(page.getByTestId("tt-version"), (text) => text.startsWith("Version 1 of 3"))
    expect(await page.getByTestId("tt-balance").textContent()).toBe("0.00 €")
    expect(await page.getByTestId("tt-changes").textContent()).toContain("Open")
    await slider.press("ArrowRight")
    await textUntil(page.getByTestId("tt-version"), (text) => text.startsWith("Version 2 of 3"))
    expect(await page.getByTestId("tt-balance").textContent()).toBe("100.00 €")
    const changes = await page.getByTestId("tt-changes").textContent()
    expect(changes).toContain("0.00 €")
    expect(changes).toContain("100.00 €")
    // the account itself has not moved
    expect(await page.getByTestId("balance").textContent()).toBe("125.50 €")
    await shot("time-travel")
  })

  it("shows a refusal as the bank words it, and writes nothing", async () => {
    const commands = page.getByTestId("commands")
    await commands.getByLabel("Amount (€)").fill("1000")
    await commands.getByRole("button", { name: "Withdraw" }).click()
    const error = await textUntil(commands.getByTestId("error"), (text) => text.length > 0)
    expect(error).toContain("Refused: InsufficientFunds")
    expect(error).toContain("cannot withdraw 1,000.00: the balance is 125.50 and the overdraft limit 50.00")
    expect(await page.getByTestId("balance").textContent()).toBe("125.50 €")
    await shot("refusal")
    await commands.getByLabel("Amount (€)").fill("12.345")
    await commands.getByRole("button", { name: "Deposit" }).click()
    await textUntil(commands.getByTestId("error"), (text) => text.includes("Invalid input enter an amount in euros"))
  })

  it("compares two versions", async () => {
    const diff = page.getByTestId("diff")
    await diff.getByLabel("From version").fill("1")
    await diff.getByLabel("To version").fill("3")
    await diff.getByRole("button", { name: "Compare" }).click()
    const changes = await textUntil(diff.getByTestId("diff-changes"), (text) => text.includes("balance"))
    expect(changes).toContain("0.00 €")
    expect(changes).toContain("125.50 €")
  })

  it("browses streams by category and one stream's events with their metadata and data", async () => {
    await page.goto(`${server.url}/#/streams`)
    await textUntil(page.getByTestId("categories"), (text) => text.includes("Account"))
    await page.getByTestId("categories").getByRole("link", { name: "Account" }).click()
    await textUntil(page.getByTestId("streams"), (text) => text.includes(`Account-${accountId}`))
    await shot("streams")
    await page.getByRole("link", { name: `Account-${accountId}` }).click()
    const events = page.getByTestId("event")
    await events.first().waitFor()
    expect(await events.count()).toBe(3)
    await events.nth(1).locator("summary").click()
    const details = await events.nth(1).textContent()
    expect(details).toContain("MoneyDeposited")
    expect(details).toContain("Correlation id")
    expect(details).toContain('"amount": 10000')
    expect(details).toContain('"currency": "EUR"')
    await shot("stream")
  })

  it("loads more streams and accounts, and keeps them current through the views' refresh", async () => {
    const api = Server.client(server.url)
    // more Account streams than one page of the list (50)
    for (let n = 0; n < 52; n++) {
      expect((await api.post("/api/accounts", { accountId: `more-${n}`, owner: "More" })).status).toBe(201)
    }
    const total = Server.bodyAs(ApiModels.StreamsPage)(
      await api.get("/api/streams?category=Account&limit=500&waitFor=1")
    )
    await page.goto(`${server.url}/#/streams/Account`)
    const rows = page.getByTestId("streams").locator("tbody tr")
    await Server.eventually(async () => (await rows.count()) === 50)
    await page.getByTestId("streams-more").click()
    await Server.eventually(async () => (await rows.count()) > 50)
    // the list refreshes every 5 s: the second page is read again, not dropped
    await new Promise((resolve) => setTimeout(resolve, 5_500))
    expect(await rows.count()).toBeGreaterThanOrEqual(Math.min(100, total.items.length))
    expect(await rows.count()).toBeGreaterThan(50)

    // The accounts list, likewise: its second page stays, and its balances stay current.
    await page.goto(`${server.url}/#/accounts`)
    const accounts = page.getByTestId("accounts").locator("tbody tr")
    await Server.eventually(async () => (await accounts.count()) === 50)
    await page.getByTestId("accounts-more").click()
    // `more-9` sorts last of them: on the second page
    const last = page.getByTestId("account-more-9")
    await textUntil(last, (text) => text.includes("0.00"))
    expect((await api.post("/api/accounts/more-9/deposits", { amount: 4321 })).status).toBe(200)
    await textUntil(last, (text) => text.includes("43.21"), 10_000)
    expect(await accounts.count()).toBeGreaterThan(50)
  })

  it("receives new events on the live feed", async () => {
    await page.goto(`${server.url}/#/feed`)
    await textUntil(page.getByTestId("feed-state"), (text) => text === "open")
    const api = Server.client(server.url)
    await api.post(`/api/accounts/${accountId}/deposits`, { amount: 777 })
    const feed = await textUntil(page.getByTestId("feed"), (text) => text.includes(`Account-${accountId}`))
    expect(feed).toContain("MoneyDeposited")
    await shot("live-feed")
  })

  it("shows each projection's lag return to 0, and a rebuild with its progress", async () => {
    await page.goto(`${server.url}/#/projections`)
    for (const name of ["balances", "statements", "daily-totals", "stream-catalog"]) {
      await textUntil(page.getByTestId(`lag-${name}`), (text) => text.trim() === "0")
    }
    await page.getByTestId("rebuild-statements").click()
    await textUntil(page.getByTestId("progress-statements"), (text) => text.includes("rebuild done"))
    await textUntil(page.getByTestId("lag-statements"), (text) => text.trim() === "0")
    await shot("projections")
  })

  it("starts a transfer through the page and sees it complete with its steps", async () => {
    const api = Server.client(server.url)
    const bob = `bob-${crypto.randomUUID().slice(0, 6)}`
    expect((await api.post("/api/accounts", { accountId: bob, owner: "Bob Kahn" })).status).toBe(201)
    await page.goto(`${server.url}/#/transfers`)
    const form = page.getByTestId("transfer-form")
    await form.getByLabel("From account").fill(accountId)
    await form.getByLabel("To account").fill(bob)
    await form.getByLabel("Amount (€)").fill("20")
    await form.getByRole("button", { name: "Transfer" }).click()
    // the page goes to the new transfer, which completes while it is shown
    await textUntil(page.getByTestId("transfer-status-detail"), (text) => text === "completed", 60_000)
    const journal = await textUntil(page.getByTestId("journal"), (text) => text.includes("SagaCompleted"))
    expect(journal).toContain("SagaStarted")
    expect(journal).toContain("SagaStepCompleted")
    const events = await page.getByTestId("transfer-events").textContent()
    expect(events).toContain("TransferRequested")
    expect(events).toContain("TransferCompleted")
    expect(await page.getByTestId("transfer").locator('[data-testid^="steps-"]').textContent()).toBe(
      "assesswithdrawdepositcomplete"
    )
    await shot("transfer")
    expect(Server.bodyAs(ApiModels.AccountView)(await api.get(`/api/accounts/${bob}`)).balance).toBe(2_000)

    // a refusal, in words
    await page.goto(`${server.url}/#/transfers`)
    await form.getByLabel("From account").fill(accountId)
    await form.getByLabel("To account").fill(accountId)
    await form.getByLabel("Amount (€)").fill("1")
    await form.getByRole("button", { name: "Transfer" }).click()
    const refused = await textUntil(form.getByTestId("error"), (text) => text.length > 0)
    expect(refused).toContain("Refused: SameAccount")
  })

  it("lists transfers live: a large one awaits approval, is approved with its button, and completes", async () => {
    const api = Server.client(server.url)
    const carol = `carol-${crypto.randomUUID().slice(0, 6)}`
    await api.post("/api/accounts", { accountId: carol, owner: "Carol Shaw" })
    await api.post(`/api/accounts/${accountId}/deposits`, { amount: 100_000 })
    await page.goto(`${server.url}/#/transfers`)
    await page.getByTestId("transfers").waitFor()
    // started behind the page's back: the live feed brings it in
    const started = Server.bodyAs(TransferModels.TransferCommandResult)(
      await api.post("/api/transfers", { from: accountId, to: carol, amount: 60_000 })
    )
    const status = page.getByTestId(`status-${started.transferId}`)
    await textUntil(status, (text) => text === "awaiting-approval", 60_000)
    expect(await page.getByTestId(`steps-${started.transferId}`).textContent()).toContain("withdraw")
    await shot("transfers")
    await page.getByTestId(`approve-${started.transferId}`).click()
    await textUntil(status, (text) => text === "completed", 60_000)
    const steps = await page.getByTestId(`steps-${started.transferId}`).textContent()
    expect(steps).toBe("assesswithdrawdepositcomplete")
    await page.getByTestId("transfer-status").selectOption("completed")
    await textUntil(page.getByTestId("transfers"), (text) => text.includes(started.transferId))
    expect(await page.getByTestId("transfers").textContent()).not.toContain("awaiting-approval")
  })
})
