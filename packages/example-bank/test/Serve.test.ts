/**
 * `pnpm bank serve` and `pnpm bank seed` as a user runs them: the bundled
 * CLI (`packages/example-bank/dist/bin/cli.js`, rebuilt first when a source
 * changed) in a real subprocess, on a temporary SQLite file. `seed` prints
 * its progress and fills the store, transfer requests included; `serve`
 * prints its URL, answers, lists the seeded transfers (which its saga
 * carries out), serves the explorer, and on SIGTERM ends the open live
 * feeds and exits (rather than wait for them); a port in use is one clear
 * line and exit 1.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ensureFresh, programs } from "../../../scripts/bundle.mjs"
import { ApiModels, TransferModels } from "../src/http/index.js"
import * as Server from "./support/server.js"

const root = join(import.meta.dirname, "..", "..", "..")
const dir = mkdtempSync(join(tmpdir(), "chronicle-bank-serve-"))
let cli = ""

beforeAll(async () => {
  await Promise.all([ensureFresh(programs.bank).then((path) => (cli = path)), ensureFresh(programs.web)])
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const bank = (database: string, ...args: ReadonlyArray<string>): ChildProcess => {
  const env: NodeJS.ProcessEnv = { ...process.env, BANK_DB: join(dir, database), NO_COLOR: "1" }
  delete env.DATABASE_URL
  return spawn(process.execPath, [cli, ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
}

const finished = (child: ChildProcess) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk) => {
      stdout += chunk
    })
    child.stderr?.on("data", (chunk) => {
      stderr += chunk
    })
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** The URL a `serve` prints, once it prints it. */
const urlOf = (child: ChildProcess) =>
  new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout?.on("data", (chunk) => {
      out += chunk
      const match = /serving on (http:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    child.on("close", (code) => reject(new Error(`serve exited with ${code} before listening: ${out}`)))
  })

describe("pnpm bank seed and serve", () => {
  it("seed fills the store with a progress bar; serve serves it, and stops promptly on SIGTERM", async () => {
    const seeded = await finished(bank("bank.db", "seed", "30"))
    expect(seeded.code).toBe(0)
    expect(seeded.stdout).toContain("Seeding [####################] 100%  30 of 30 accounts")
    expect(seeded.stdout).toMatch(/Seeded 30 accounts: \d+ events/)
    const requested = /\n(\d+) transfers? requested: the Transfer saga moves the money when `pnpm bank serve`/.exec(
      seeded.stdout
    )
    const transfers = Number(requested?.[1])
    expect(transfers).toBeGreaterThanOrEqual(1)
    expect(transfers).toBeLessThanOrEqual(15)
    expect(seeded.stdout).toContain(
      `Seeding [####################] 100%  ${transfers} of ${transfers} transfer${transfers === 1 ? "" : "s"}`
    )

    const server = bank("bank.db", "serve", "--port", "0")
    const done = finished(server)
    const url = await urlOf(server)
    const api = Server.client(url)
    const page = Server.bodyAs(ApiModels.AccountsPage)(await api.get("/api/accounts?limit=500&waitFor=1"))
    await Server.eventually(async () => {
      const all = Server.bodyAs(ApiModels.AccountsPage)(await api.get("/api/accounts?limit=500"))
      return all.items.length === 30
    })
    expect(page.items.length).toBeGreaterThan(0)
    // The seeded transfers are listed, and the saga running in the server picks every one up.
    const listed = async () => {
      const reply = await api.get("/api/transfers?limit=100")
      return reply.status === 200 ? Server.bodyAs(TransferModels.TransfersPage)(reply).items : []
    }
    await Server.eventually(async () => {
      const items = await listed()
      return items.length === transfers && items.every((t) => t.status !== "requested" && t.status !== "running")
    }, 30_000)
    const items = await listed()
    expect(items).toHaveLength(transfers)
    for (const item of items) {
      expect(item.transferId).toMatch(/^seed-/)
      expect(["completed", "failed", "awaiting-approval"]).toContain(item.status)
    }
    const explorer = await api.get("/")
    expect(explorer.status).toBe(200)
    expect(String(explorer.body)).toContain("/assets/explorer.js")
    expect((await api.get("/assets/explorer.js")).status).toBe(200)

    // A live feed stays open while the server stops. The server ends it and exits: were it to
    // wait for the client (who never leaves), this would hang until the test's timeout.
    const feed = await fetch(`${url}/api/events/live`)
    const reader = feed.body?.getReader()
    server.kill("SIGTERM")
    const feedEnded = (async () => {
      for (;;) if ((await reader?.read())?.done !== false) return
    })()
    const exit = await done
    await feedEnded
    expect(exit.code).toBe(130)
    expect(exit.stderr).toBe("")
  })

  it("a port in use is one clear line and exit 1", async () => {
    const first = bank("busy.db", "serve", "--port", "0")
    const done = finished(first)
    const url = await urlOf(first)
    const port = new URL(url).port
    const second = await finished(bank("busy.db", "serve", "--port", port))
    expect(second.code).toBe(1)
    expect(second.stderr.trim()).toBe(
      `cannot listen on 127.0.0.1:${port}: the port is in use (is another server running? choose another --port)`
    )
    first.kill("SIGINT")
    expect((await done).code).toBe(130)
  })

  it("refuses a count or a port that is not one, with the usage (exit 2)", async () => {
    for (const args of [
      ["seed", "0"],
      ["seed", "many"],
      ["serve", "--port", "70000"]
    ]) {
      const run = await finished(bank("bad.db", ...args))
      expect({ args, code: run.code }).toEqual({ args, code: 2 })
      expect(run.stderr).toContain("Usage:")
    }
  })
})
