/**
 * `pnpm bench:http` (benchmark H1, issue 13): deposits over HTTP with 16
 * concurrent clients against the same deposits through `Repository.execute`
 * in process, on PostgreSQL (`DATABASE_URL`, default
 * `postgres://postgres@127.0.0.1:5432/test`), in the same run. Reports each
 * side's throughput and its p50 and p99 latency, the ratio HTTP /
 * in-process (target ≥ 0.7; a miss prints MISS), and the CPU each side
 * spends per deposit: this process's (the load generator, or the
 * repository in process), the server process's (HTTP only), and
 * PostgreSQL's (the backends of that side's database, found in
 * `pg_stat_activity`, their CPU read from `/proc`: PostgreSQL on this
 * machine, Linux), the server's CPU beyond the deposit itself (server
 * minus in-process CPU per deposit, also as a multiple of the in-process
 * deposit's: the HTTP side's own cost, comparable across machines), how
 * busy each side kept a core (and, when the in-process side is CPU-bound,
 * the ratio that implies), the machine probe (`MachineProbe.ts`), and the
 * load average before and after.
 *
 * - The server is the bank's (`BankServer`, the same handlers, middleware and
 *   repository as `pnpm bank serve`) in a child process of its own, as it is
 *   deployed, with no projection running (they would compete with the
 *   commands on one side only).
 * - The load generator (on 2 cores every µs it spends is taken from the
 *   server): `wrk` when it is installed (Debian's `wrk` package), driven by
 *   `http-deposits.lua` (next to this file): 16 threads with one keep-alive
 *   connection each, one request in flight per connection; otherwise (or
 *   with `--client node`) 16 loops in this process on `node:http` keep-alive
 *   connections (an `Agent`, one connection per client). The run prints
 *   which one ran. Either way each request is what the bank's web client
 *   sends for a deposit (`POST /api/accounts/{id}/deposits`, `Content-Type:
 *   application/json`, `{"amount":100}`), each client on its own accounts,
 *   and each response is read in full and checked: status 200 and a result
 *   for that account that wrote a new event (`accountId`, `duplicate:
 *   false`, a `version`); the latency is from sending to the whole answer,
 *   uncorrected, for both. With wrk the load generator's CPU is wrk's plus
 *   this process's, and the pass is timed by wrk's clock from its first
 *   request to its last answer (its start-up is not counted). Until
 *   2026-11-28 the clients used Node's `fetch` (undici behind the WHATWG
 *   streams), which cost 0.57 ms of CPU per deposit on a quiet machine, more
 *   than the repository itself.
 * - Every deposit that fails (an unexpected status or body, an error, on
 *   either side) is counted and reported, and the run then exits with 1.
 * - In process: 16 fibers calling `Repository.execute` on a repository built
 *   exactly as the server's (`AccountRepository.layer`: state cache, snapshots
 *   in the background), over the same kind of store.
 * - Each side works on its own 128 accounts (8 per client, so no two clients
 *   write to the same stream), opened before the timed passes. Each run does a
 *   warm-up pass per side (200 deposits per client in the first run, so that
 *   the timed passes find the server's JIT settled; 3 after), then the timed
 *   passes, alternating which side goes first.
 * - One fresh database per side per invocation, dropped at the end.
 * - Ctrl-C (SIGINT) or SIGTERM: the run stops wrk and the server (SIGTERM,
 *   SIGKILL after 2 s), drops both databases (retried, at most 5 s), prints
 *   one line saying what it cleaned up (and what it could not), and exits
 *   with 130 (143 for SIGTERM); a second Ctrl-C exits at once. The
 *   mechanism is `packages/sql-store/bench/Interrupt.ts`, shared with
 *   `pnpm bench`; `pnpm bench:http` runs this file with `node --import tsx`,
 *   not the tsx CLI (which SIGKILLs a child that does not acknowledge a
 *   signal within 30 ms).
 *
 * Options (arguments or environment): `--runs N` / `BENCH_RUNS` (default 3),
 * `--client wrk|node` / `BENCH_CLIENT` (the load generator; default wrk when
 * it is installed, else node), `--warm-up N` / `BENCH_WARM_UP` (the first
 * run's warm-up, deposits per client per side; default 200),
 * `--generator-nice N` / `BENCH_GENERATOR_NICE` (the niceness wrk runs at,
 * 0–19; default 19, the lowest priority: the load generator stands in for
 * clients on other machines and takes only the CPU the server and PostgreSQL
 * leave; 0 as before 2026-11-28 12:00),
 * `--server-processes N` / `BENCH_SERVER_PROCESSES` (default 1: the server as
 * N `node:cluster` workers on one port, their CPU summed),
 * `--deposits N` / `BENCH_DEPOSITS` per client per pass (default 200),
 * `--smoke` (1 run of 10 deposits per client: checks that it works, measures
 * nothing worth reading), `--pool N` / `BENCH_POOL` (the PostgreSQL pool
 * size of both sides, the server's and the in-process repository's; default
 * the bank's, `BankStore.defaultPostgresConnections`), `--profile DIR` (the server runs with `--cpu-prof`
 * and writes its profile to DIR when it stops; the server is stopped with
 * SIGTERM and shuts down as `pnpm bank serve` does). To profile the load
 * generator as well: `node --conditions=@chronicle/source --import tsx
 * --cpu-prof packages/example-bank/bench/http.ts` (the server inherits the
 * flags). Not part of `pnpm test`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import cluster from "node:cluster"
import { readFileSync } from "node:fs"
import { Agent, request as httpRequest } from "node:http"
import { cpus, loadavg } from "node:os"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Layer, Redacted, Scope } from "effect"
// Not a package export: the benchmarks' shared Ctrl-C / SIGTERM clean-up (bench code, not published).
import * as Interrupt from "../../sql-store/bench/Interrupt.js"
import * as MachineProbe from "../../sql-store/bench/MachineProbe.js"
import { AccountRepository, BankServer } from "../src/http/index.js"
import { Account, Bank, BankStore } from "../src/index.js"

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const clients = 16
const accountsPerClient = 8
const target = 0.7

const argument = (name: string): string | undefined => {
  const args = process.argv.slice(2)
  const index = args.indexOf(`--${name}`)
  if (index >= 0) return args[index + 1]
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

const positiveInt = (name: string, env: string, fallback: number): number => {
  const text = argument(name) ?? process.env[env]
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`)
  return n
}

/**
 * The niceness `wrk` runs at (`--generator-nice N`, 0–19; default 19, the
 * lowest priority). The load generator stands in for clients on other
 * machines: on a shared 2-core host it should take only the CPU that the
 * server and PostgreSQL leave, not preempt them (the in-process side has no
 * load generator to compete with). 0 runs it as before 2026-11-28 12:00.
 */
const generatorNiceText = argument("generator-nice") ?? process.env.BENCH_GENERATOR_NICE
const generatorNice = generatorNiceText === undefined ? 19 : Number(generatorNiceText)
if (!Number.isInteger(generatorNice) || generatorNice < 0 || generatorNice > 19) {
  throw new Error(`--generator-nice must be an integer from 0 to 19, got "${generatorNiceText}"`)
}

/** The PostgreSQL pool size of both sides (`--pool N`), or the bank's default. */
const poolText = argument("pool") ?? process.env.BENCH_POOL
const pool =
  poolText === undefined ? undefined : positiveInt("pool", "BENCH_POOL", BankStore.defaultPostgresConnections)

/** Both sides' store: PostgreSQL at `url`, with the pool size asked for. */
const storeAt = (url: string) => BankStore.layer({ _tag: "Postgres", url: Redacted.make(url), maxConnections: pool })

/** A connection to the database `name` on the same server (each side has its own, to find its backends' CPU). */
const urlFor = (name: string): string => {
  const url = new URL(databaseUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const admin = (statement: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(statement)
  }).pipe(Effect.scoped, Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })))

// ---------------------------------------------------------------------------
// Server mode: the child process
// ---------------------------------------------------------------------------

/** The server's processes (`--server-processes N`): 1, or a `node:cluster` primary and N workers on one port. */
const serverProcesses = positiveInt("server-processes", "BENCH_SERVER_PROCESSES", 1)

const serveMode = argument("serve-database")
if (serveMode !== undefined && serverProcesses > 1 && cluster.isPrimary) {
  // The primary only hands the connections to its workers (round robin) and stops them on SIGTERM or SIGINT; it reports
  // the URL and the workers' process ids once every worker listens.
  const pids: Array<number> = []
  cluster.on("listening", (worker, address) => {
    if (worker.process.pid !== undefined) pids.push(worker.process.pid)
    if (pids.length === serverProcesses) {
      process.stdout.write(`workers ${pids.join(" ")}\nlistening http://127.0.0.1:${address.port}\n`)
    }
  })
  cluster.on("exit", () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
  })
  // Ctrl-C signals the whole process group: the primary stays until its workers have closed (otherwise a
  // worker closing its server writes to the gone primary's channel and dies of EPIPE).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM")
    })
  }
  for (let i = 0; i < serverProcesses; i++) cluster.fork()
} else if (serveMode !== undefined) {
  // Deposits only: no projections and no Transfer saga (they would compete with the commands on one side only).
  const program = BankServer.start({ port: 0, projections: [], transfers: false }).pipe(
    Effect.tap(({ url: listening }) =>
      Effect.sync(() => (cluster.isWorker ? undefined : process.stdout.write(`listening ${listening}\n`)))
    ),
    Effect.zipRight(Effect.never),
    Effect.scoped,
    Effect.provide(storeAt(urlFor(serveMode)))
  )
  // As `pnpm bank serve`: SIGTERM interrupts the program, which closes the server, and the process exits
  // (so that a `--cpu-prof` profile of the server is written).
  NodeRuntime.runMain(program)
}

// ---------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------

interface Pass {
  /** Deposits answered as expected. */
  readonly operations: number
  /** Deposits that failed (an unexpected status or body, or an error), with the first failure. */
  readonly failures: number
  readonly firstFailure: string | undefined
  readonly seconds: number
  readonly latencies: ReadonlyArray<number>
  /** CPU milliseconds spent during the pass: this process, the server process, PostgreSQL's backends. */
  readonly cpu: Cpu
}

interface Cpu {
  readonly client: number
  readonly server: number
  readonly postgres: number
}

const ticksPerSecond = 100 // USER_HZ: /proc reports CPU time in 1/100 s on Linux

/** The CPU milliseconds (user + system) a process has used, from /proc; 0 once it is gone. */
const processCpu = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // fields[11] and [12] are utime and stime (fields 14 and 15 of proc(5))
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
  } catch {
    return 0
  }
}

/** The backends connected to the database `name`. */
const backends = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = ${name}`
    return rows.map((row) => row.pid)
  }).pipe(Effect.scoped, Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 })))

/** CPU used so far, per process (client, server, PostgreSQL backends of `database`), in milliseconds. */
const cpuNow = async (server: ReadonlyArray<number> | undefined, database: string): Promise<Map<string, number>> => {
  // This process's and the server's first, so that the query for the backends is not counted as theirs.
  const usage = process.cpuUsage()
  const snapshot = new Map<string, number>([["client", (usage.user + usage.system) / 1000]])
  if (server !== undefined)
    snapshot.set(
      "server",
      server.reduce((sum, pid) => sum + processCpu(pid), 0)
    )
  for (const pid of await Effect.runPromise(backends(database))) snapshot.set(`pg:${pid}`, processCpu(pid))
  return snapshot
}

/** The CPU used between two snapshots (backends that appeared in between count from 0). */
const cpuBetween = (before: Map<string, number>, after: Map<string, number>): Cpu => {
  let postgres = 0
  for (const [key, value] of after) if (key.startsWith("pg:")) postgres += value - (before.get(key) ?? 0)
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0)
  return { client: delta("client"), server: delta("server"), postgres }
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0)

/** Runs `clients` loops of `deposits` operations each, timing every operation and the CPU of the pass. */
const measure = async (
  deposits: number,
  operation: (client: number, n: number) => Promise<void>,
  processes: { readonly server: ReadonlyArray<number> | undefined; readonly database: string }
): Promise<Pass> => {
  const latencies: Array<number> = []
  let failures = 0
  let firstFailure: string | undefined
  const before = await cpuNow(processes.server, processes.database)
  const started = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let n = 0; n < deposits && !Interrupt.interrupted(); n++) {
        const t0 = performance.now()
        try {
          await operation(client, n)
          latencies.push(performance.now() - t0)
        } catch (error) {
          failures++
          firstFailure ??= error instanceof Error ? error.message : String(error)
        }
      }
    })
  )
  const seconds = (performance.now() - started) / 1000
  const cpu = cpuBetween(before, await cpuNow(processes.server, processes.database))
  return { operations: latencies.length, failures, firstFailure, seconds, latencies, cpu }
}

/** The load generators: `wrk` (native, when installed) or `node:http` loops in this process. */
type Generator = "wrk" | "node"

/** `--client wrk|node` / `BENCH_CLIENT`, or `wrk` when it is installed, else `node`; and why. */
const chooseGenerator = (): { readonly generator: Generator; readonly why: string } => {
  const asked = argument("client") ?? process.env.BENCH_CLIENT
  if (asked !== undefined && asked !== "wrk" && asked !== "node") {
    throw new Error(`--client must be wrk or node, got "${asked}"`)
  }
  const installed = spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined
  if (asked === "wrk" && !installed) throw new Error("--client wrk: wrk is not installed (apt-get install wrk)")
  if (asked !== undefined) return { generator: asked, why: "--client" }
  return installed ? { generator: "wrk", why: "installed" } : { generator: "node", why: "wrk is not installed" }
}

const wrkScript = fileURLToPath(new URL("http-deposits.lua", import.meta.url))

/**
 * One pass of `deposits` deposits per client with `wrk` (`http-deposits.lua`:
 * one thread and one keep-alive connection per client, each on its own
 * accounts, every response checked). The pass's time is from the first
 * request sent to the last answer (wrk's own clock, so its start-up is not
 * counted); the load generator's CPU is wrk's (read when every client is
 * done) plus this process's.
 */
const wrkPass = async (
  url: string,
  side: string,
  deposits: number,
  processes: { readonly server: ReadonlyArray<number> | undefined; readonly database: string }
): Promise<Pass> => {
  const before = await cpuNow(processes.server, processes.database)
  Interrupt.check()
  // Through `nice` (it execs wrk, so the pid stays wrk's, and wrk's threads inherit the niceness).
  const child = spawn(
    "nice",
    [
      "-n",
      `${generatorNice}`,
      "wrk",
      "-t",
      `${clients}`,
      "-c",
      `${clients}`,
      "-d",
      "600s",
      "--timeout",
      "10s",
      "-s",
      wrkScript,
      url,
      "--",
      side,
      `${deposits}`,
      `${accountsPerClient}`
    ],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  Interrupt.child(child, "wrk")
  let out = ""
  let err = ""
  child.stdout?.on("data", (chunk) => (out += chunk))
  // wrk's CPU, read once every client is done (before wrk exits and its /proc entry goes).
  let wrkCpu: number | undefined
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  await new Promise<void>((resolve) => {
    child.stderr?.on("data", (chunk) => {
      err += chunk
      if (wrkCpu === undefined && (err.match(/^done$/gm)?.length ?? 0) === clients && child.pid !== undefined) {
        wrkCpu = processCpu(child.pid)
        resolve()
      }
    })
    void exited.then(() => resolve())
  })
  const cpu = cpuBetween(before, await cpuNow(processes.server, processes.database))
  if (wrkCpu !== undefined) child.kill("SIGINT")
  const code = await exited
  const latencies: Array<number> = []
  let operations = 0
  let failures = 0
  let firstFailure: string | undefined
  let started = Number.POSITIVE_INFINITY
  let finished = Number.NEGATIVE_INFINITY
  let reports = 0
  for (const line of out.split("\n")) {
    const words = line.split(" ")
    if (words[0] !== "chronicle") continue
    if (words[1] === "client") {
      reports++
      // chronicle client <k> ok <n> failures <n> started <ms> finished <ms>
      operations += Number(words[4])
      failures += Number(words[6])
      started = Math.min(started, Number(words[8]))
      finished = Math.max(finished, Number(words[10]))
    } else if (words[1] === "latencies") {
      for (const word of words.slice(2)) latencies.push(Number(word))
    } else if (words[1] === "failure") {
      firstFailure ??= words.slice(2).join(" ")
    } else if (words[1] === "errors") {
      const socketErrors = Number(words[3]) + Number(words[5]) + Number(words[7])
      if (socketErrors > 0) {
        failures += socketErrors
        firstFailure ??= `wrk: socket ${line.slice("chronicle errors ".length)}`
      }
    }
  }
  const missing = clients * deposits - operations - failures
  if (reports !== clients || missing > 0) {
    failures += Math.max(missing, 1)
    firstFailure ??= `wrk exited with ${code} after ${operations} answers of ${clients * deposits}: ${err.trim()}`
  }
  return {
    operations,
    failures,
    firstFailure,
    seconds: (finished - started) / 1000,
    latencies,
    cpu: { ...cpu, client: cpu.client + (wrkCpu ?? 0) }
  }
}

/** A response: its status and its body. */
interface Response {
  readonly status: number
  readonly body: string
}

/**
 * The load generator: requests on keep-alive connections (one per client at
 * most) with `node:http`, as cheap as a client gets in Node (what `wrk` would
 * be for a server in C). Each request is what the bank's own web client sends
 * for a command (`POST`, `Content-Type: application/json`, the JSON body);
 * each response is read in full and checked by the caller.
 */
const loadGenerator = (base: string) => {
  const { hostname, port } = new URL(base)
  const agent = new Agent({ keepAlive: true, maxSockets: clients })
  const post = (path: string, body: string): Promise<Response> =>
    new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          host: hostname,
          port,
          path,
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
        },
        (response) => {
          const chunks: Array<Buffer> = []
          response.on("data", (chunk: Buffer) => chunks.push(chunk))
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() })
          )
          response.on("error", reject)
        }
      )
      request.on("error", reject)
      request.end(body)
    })
  return { post, close: () => agent.destroy() }
}

/** Checks a command's answer: the status, and a result (JSON) for that account that wrote something. */
const expectResult = (response: Response, status: number, accountId: string): void => {
  if (response.status !== status) throw new Error(`${accountId} answered ${response.status}: ${response.body}`)
  const result: unknown = JSON.parse(response.body)
  const field = (name: string): unknown =>
    typeof result === "object" && result !== null ? Reflect.get(result, name) : undefined
  if (field("accountId") !== accountId || field("duplicate") !== false || typeof field("version") !== "number") {
    throw new Error(`${accountId} answered an unexpected result: ${response.body}`)
  }
}

const accountOf = (side: string, client: number, n: number) => `${side}-${client}-${n % accountsPerClient}`

const startServer = (
  database: string,
  profileDir: string | undefined
): Promise<{ readonly url: string; readonly child: ChildProcess; readonly pids: ReadonlyArray<number> }> =>
  new Promise((resolve, reject) => {
    Interrupt.check()
    const profile = profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir]
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        ...profile,
        process.argv[1] ?? "",
        "--serve-database",
        database,
        ...(pool === undefined ? [] : ["--pool", `${pool}`]),
        "--server-processes",
        `${serverProcesses}`
      ],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    Interrupt.child(child, `the server (pid ${child.pid})`)
    let out = ""
    child.stdout?.on("data", (chunk) => {
      out += chunk
      const match = /listening (\S+)/.exec(out)
      const workers = /workers ([\d ]+)/.exec(out)?.[1]?.split(" ").map(Number) ?? []
      if (match?.[1] !== undefined && child.pid !== undefined)
        resolve({ url: match[1], child, pids: [child.pid, ...workers] })
    })
    child.on("exit", (code) => reject(new Error(`the server exited with ${code} before listening`)))
  })

/** Asks the server to stop (SIGTERM: it closes, as `pnpm bank serve` does) and waits for it to exit (at most 10 s). */
const stopServer = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })

const main = async () => {
  const smoke = process.argv.includes("--smoke")
  const runs = smoke ? 1 : positiveInt("runs", "BENCH_RUNS", 3)
  const deposits = smoke ? 10 : positiveInt("deposits", "BENCH_DEPOSITS", 200)
  const firstWarmUp = positiveInt("warm-up", "BENCH_WARM_UP", 200)
  const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 12)
  const databases = { http: `chronicle_bench_http_${suffix}`, local: `chronicle_bench_local_${suffix}` }
  const names = Object.values(databases)
  // Interrupted (Ctrl-C, SIGTERM): after wrk and the server are stopped, both databases are dropped
  // (WITH (FORCE): the in-process side's connections with them).
  const unregisterDatabases = Interrupt.undo({
    done: `dropped databases ${names.join(", ")}`,
    left: names.map((name) => `database ${name} (DROP DATABASE "${name}" WITH (FORCE))`).join(", "),
    run: () =>
      Effect.runPromise(
        Effect.forEach(names, (name) => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`), { discard: true })
      )
  })
  for (const name of names) {
    Interrupt.check()
    await Effect.runPromise(admin(`CREATE DATABASE "${name}"`))
  }
  const scope = Effect.runSync(Scope.make())
  let server: ChildProcess | undefined
  let generator: ReturnType<typeof loadGenerator> | undefined
  try {
    // In process: the server's own repository, over the same kind of store (migrations run here first).
    const context = await Effect.runPromise(
      Layer.build(AccountRepository.layer.pipe(Layer.provideMerge(storeAt(urlFor(databases.local))))).pipe(
        Scope.extend(scope)
      )
    )
    const run = <A, E>(effect: Effect.Effect<A, E, Bank.Accounts>) => Effect.runPromise(Effect.provide(effect, context))
    const execute = (accountId: string, command: Account.AccountCommand) =>
      run(Effect.flatMap(Bank.Accounts, (repo) => repo.execute(accountId, command)))
    const started = await startServer(databases.http, argument("profile"))
    server = started.child
    const url = started.url

    const { generator: generatorChoice, why } = chooseGenerator()
    generator = loadGenerator(url)
    const { post } = generator
    const deposit = async (accountId: string) => {
      const response = await post(`/api/accounts/${accountId}/deposits`, '{"amount":100}')
      expectResult(response, 200, accountId)
    }
    for (let c = 0; c < clients; c++) {
      for (let n = 0; n < accountsPerClient; n++) {
        await execute(accountOf("local", c, n), new Account.OpenAccount({ owner: "Bench", overdraftLimit: 0 }))
        const accountId = accountOf("http", c, n)
        expectResult(await post("/api/accounts", JSON.stringify({ accountId, owner: "Bench" })), 201, accountId)
      }
    }
    const onServer = { server: started.pids, database: databases.http }
    const inProcess = { server: undefined, database: databases.local }
    const httpDeposit = (client: number, n: number) => deposit(accountOf("http", client, n))
    const httpPass = (count: number) =>
      generatorChoice === "wrk" ? wrkPass(url, "http", count, onServer) : measure(count, httpDeposit, onServer)
    const localDeposit = async (client: number, n: number) => {
      await execute(accountOf("local", client, n), new Account.Deposit({ amount: 100 }))
    }
    const sides = {
      http: () => httpPass(deposits),
      local: () => measure(deposits, localDeposit, inProcess)
    }
    const results: Record<"http" | "local", Array<Pass>> = { http: [], local: [] }
    const warmUps: Array<Pass> = []
    const loadBefore = loadavg()
    // Before any pass, while the server is idle: what kind of machine this is.
    const probe = MachineProbe.run()
    for (let r = 0; r < runs; r++) {
      // The first run's warm-up is long enough for the server's JIT to settle (it compiled
      // through its first ~2,800 requests in h32's runs); both sides get the same.
      const warmUp = smoke || r > 0 ? 3 : firstWarmUp
      warmUps.push(await httpPass(warmUp), await measure(warmUp, localDeposit, inProcess))
      const order: ReadonlyArray<"http" | "local"> = r % 2 === 0 ? ["http", "local"] : ["local", "http"]
      for (const side of order) {
        Interrupt.check()
        results[side].push(await sides[side]())
      }
    }
    Interrupt.check()
    const summary = (passes: ReadonlyArray<Pass>) => {
      const latencies = passes.flatMap((p) => p.latencies).sort((a, b) => a - b)
      const rates = passes.map((p) => p.operations / p.seconds).sort((a, b) => a - b)
      const operations = passes.reduce((sum, p) => sum + p.operations, 0)
      const perOp = (pick: (cpu: Cpu) => number) => passes.reduce((sum, p) => sum + pick(p.cpu), 0) / operations
      return {
        rate: rates[Math.floor(rates.length / 2)] ?? Number.NaN,
        failures: passes.reduce((sum, p) => sum + p.failures, 0),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        client: perOp((cpu) => cpu.client),
        server: perOp((cpu) => cpu.server),
        postgres: perOp((cpu) => cpu.postgres)
      }
    }
    const http = summary(results.http)
    const local = summary(results.local)
    const ratio = http.rate / local.rate
    const loadAfter = loadavg()
    const failed = [...warmUps, ...results.http, ...results.local].filter((p) => p.failures > 0)
    const failures = failed.reduce((sum, p) => sum + p.failures, 0)
    if (failures > 0) process.exitCode = 1
    const line = (name: string, s: ReturnType<typeof summary>) =>
      `${name.padEnd(32)} ${s.rate.toFixed(0).padStart(8)} ops/s   p50 ${s.p50.toFixed(2).padStart(7)} ms   p99 ${s.p99.toFixed(2).padStart(7)} ms`
    const cpuLine = (name: string, s: ReturnType<typeof summary>, server: boolean) =>
      `${name.padEnd(32)} client ${s.client.toFixed(3)} ms${server ? `   server ${s.server.toFixed(3)} ms` : ""}   PostgreSQL ${s.postgres.toFixed(3)} ms`
    const load = (l: ReadonlyArray<number>) => l.map((n) => n.toFixed(2)).join(" ")
    // CPU ms per deposit × deposits per second = ms of CPU per second: the share of one core kept busy.
    const busy = (cpuMs: number, rate: number) => `${((cpuMs * rate) / 10).toFixed(0)} % of a core`
    process.stdout.write(
      [
        `H1: deposits, ${clients} concurrent clients, ${runs} run(s) × ${clients * deposits} deposits per side (PostgreSQL)${smoke ? " [smoke: not a measurement]" : ""}`,
        `load generator: ${generatorChoice === "wrk" ? `wrk (${clients} threads, one keep-alive connection each, at nice ${generatorNice})` : `node:http (${clients} loops in this process)`} (${why})`,
        `machine: ${cpus().length} CPUs, load average ${load(loadBefore)} before, ${load(loadAfter)} after; PostgreSQL pool of ${pool ?? BankStore.defaultPostgresConnections} connections per side${serverProcesses > 1 ? ` (per server process)` : ""}`,
        MachineProbe.describe(probe),
        `server: ${serverProcesses === 1 ? "one process" : `${serverProcesses} processes (node:cluster workers on one port; CPU summed)`}`,
        line("over HTTP (bank server)", http),
        line("in process (Repository.execute)", local),
        failures === 0
          ? "failures: none (every deposit answered as expected)"
          : `FAILED: ${failures} deposit(s) (HTTP ${http.failures}, in process ${local.failures}, warm-up ${failures - http.failures - local.failures}); first: ${failed[0]?.firstFailure}`,
        `ratio HTTP / in process: ${ratio.toFixed(2)} (target ≥ ${target})${ratio >= target ? "" : "  MISS"}`,
        "CPU per deposit:",
        cpuLine("  over HTTP", http, true),
        cpuLine("  in process", local, false),
        `  HTTP total / in-process total: ${((http.client + http.server + http.postgres) / (local.client + local.postgres)).toFixed(2)}`,
        // What serving a deposit over HTTP adds to the deposit itself (the server runs the same
        // repository call as the in-process side): comparable across machines as a multiple.
        `  the server beyond the deposit: ${(http.server - local.client).toFixed(3)} ms per deposit, ${((http.server - local.client) / local.client).toFixed(2)} × the in-process deposit's CPU`,
        // Which bound each side hit, read from its CPU per deposit × its throughput (V8's helper threads
        // included, so a process can pass 100 %): a side whose main thread is (nearly) always busy is CPU-bound, and then the ratio is about in-process CPU /
        // server CPU per deposit, whatever the pool or PostgreSQL do (BENCHMARKS.md, "A slower AMD machine").
        `  busy: the server process ${busy(http.server, http.rate)}, the in-process side ${busy(local.client, local.rate)}${
          local.client * local.rate >= 900
            ? ` (CPU-bound: the ratio is then about ${(local.client / http.server).toFixed(2)}, in-process CPU / server CPU per deposit)`
            : ""
        }`,
        ""
      ].join("\n")
    )
  } finally {
    generator?.close()
    if (server !== undefined) await stopServer(server)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    for (const name of names) {
      await Effect.runPromise(admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
    }
    if (!Interrupt.interrupted()) unregisterDatabases()
  }
}

if (serveMode === undefined) {
  Interrupt.install("bench:http")
  // Interrupted: the work failed under the clean-up, which reports and exits (Interrupt.ts).
  await main().catch((error: unknown) => {
    if (!Interrupt.interrupted()) throw error
  })
}
