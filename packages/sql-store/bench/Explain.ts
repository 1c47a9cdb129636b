/**
 * `pnpm bench --explain`: what each statement costs PostgreSQL, by
 * `EXPLAIN (ANALYZE, BUFFERS)` of the very statements the two sides send
 * (`pg_stat_statements` is not loaded on the shared server, which must not be
 * restarted).
 *
 * The statements are captured at the driver: while a phase is captured,
 * `pg.Client.prototype.query` is wrapped (in this process only), so every
 * statement Chronicle's `@effect/sql-pg` pool or the raw baseline's pool
 * sends is seen with its exact text and parameter values. Before the
 * statement runs, the same text and values are explained on a separate
 * connection inside `BEGIN … ROLLBACK` (so an explained write is undone, and
 * a `pg_notify` in it is never delivered), then the real statement runs as
 * usual. Each statement is therefore explained against the very state it
 * meets. Inside a transaction, only the statements before its first write,
 * lock or DDL are explained (after that the other connection would not see
 * what the transaction did, and could wait on its locks); the others are
 * counted and reported as not explained, and so are statements that take a
 * session-level advisory lock. As a safety net the explaining connection
 * has a 2 s `lock_timeout`: an explain that would wait fails and is reported.
 *
 * Reported per distinct statement text: how many calls, the median and p90
 * of planning and execution time, shared buffers hit/read per call, and the
 * plan of its first call. `EXPLAIN ANALYZE`'s instrumentation adds its own
 * overhead to execution times: compare statements with each other, not with
 * the CPU per operation of the workloads.
 */
import pg from "pg"
import { summarize } from "./Measure.js"

interface Sample {
  readonly planning: number
  readonly execution: number
  readonly hit: number
  readonly read: number
}

interface Kind {
  readonly phase: string
  readonly text: string
  readonly samples: Array<Sample>
  plan: string | undefined
  notExplained: number
  errors: Array<string>
}

interface Transaction {
  open: boolean
  /** A write, lock or DDL was sent in this transaction. */
  tainted: boolean
}

const normalize = (text: string): string => text.replace(/\s+/g, " ").trim()

const isExplainable = (text: string): boolean =>
  /^[\s(]*(WITH|SELECT|INSERT|UPDATE|DELETE)\b/i.test(text) && !/pg_advisory_lock|pg_try_advisory_lock/i.test(text)
/** A plain read: anything else inside a transaction (a write, a lock, DDL) stops the explaining of its statements. */
const isPlainRead = (text: string): boolean =>
  /^[\s(]*(WITH|SELECT)\b/i.test(text) &&
  !/\b(INSERT|UPDATE|DELETE)\b|\bFOR\s+(UPDATE|SHARE|NO\s+KEY|KEY)\b|pg_advisory/i.test(text)

/** The text and values of a `query` call, or undefined for a `Query`/`Cursor` object (not explained). */
const statementOf = (args: ReadonlyArray<unknown>): { text: string; values: ReadonlyArray<unknown> } | undefined => {
  const [first, second] = args
  if (typeof first === "string") return { text: first, values: Array.isArray(second) ? second : [] }
  if (typeof first === "object" && first !== null && !("submit" in first)) {
    const text: unknown = Reflect.get(first, "text")
    const values: unknown = Reflect.get(first, "values")
    if (typeof text === "string") return { text, values: Array.isArray(values) ? values : [] }
  }
  return undefined
}

/** Numbers of an `EXPLAIN (FORMAT JSON)` result. */
const sampleOf = (json: unknown): Sample | undefined => {
  const top: unknown = Array.isArray(json) ? json[0] : undefined
  if (typeof top !== "object" || top === null) return undefined
  const planning: unknown = Reflect.get(top, "Planning Time")
  const execution: unknown = Reflect.get(top, "Execution Time")
  const plan: unknown = Reflect.get(top, "Plan")
  const planning_ = Reflect.get(top, "Planning")
  const number = (v: unknown) => (typeof v === "number" ? v : 0)
  const hit =
    (typeof plan === "object" && plan !== null ? number(Reflect.get(plan, "Shared Hit Blocks")) : 0) +
    (typeof planning_ === "object" && planning_ !== null ? number(Reflect.get(planning_, "Shared Hit Blocks")) : 0)
  const read =
    (typeof plan === "object" && plan !== null ? number(Reflect.get(plan, "Shared Read Blocks")) : 0) +
    (typeof planning_ === "object" && planning_ !== null ? number(Reflect.get(planning_, "Shared Read Blocks")) : 0)
  if (typeof planning !== "number" || typeof execution !== "number") return undefined
  return { planning, execution, hit, read }
}

/** The statement explainer: wraps `pg.Client.prototype.query` while a phase is captured. */
export interface Explainer {
  /** Runs `f`, explaining every statement it sends, under the name `phase`. */
  readonly capture: <A>(phase: string, f: () => Promise<A>) => Promise<A>
  /** The report, one line per string. */
  readonly report: () => ReadonlyArray<string>
  readonly end: () => Promise<void>
}

/** Connects the explaining connection to `url` and installs the wrapper (inactive until `capture`). */
export const make = async (url: string): Promise<Explainer> => {
  const explainer = new pg.Client({ connectionString: url, application_name: "chronicle-bench-explain" })
  await explainer.connect()
  await explainer.query("SET lock_timeout = '2s'")
  const proto = pg.Client.prototype
  const found: unknown = Reflect.get(proto, "query")
  if (typeof found !== "function") throw new Error("explain: pg.Client.prototype.query is not a function")
  const original: Function = found
  const kinds = new Map<string, Kind>()
  const transactions = new WeakMap<object, Transaction>()
  let phase: string | undefined
  // The explaining connection's own queries go through the original method.
  const run = (text: string, values?: ReadonlyArray<unknown>): Promise<pg.QueryResult> =>
    Reflect.apply(original, explainer, values === undefined ? [text] : [text, values])

  // One explain at a time on the explaining connection (its BEGIN … ROLLBACK must not interleave).
  let queue: Promise<void> = Promise.resolve()
  const explain = (kind: Kind, text: string, values: ReadonlyArray<unknown>): Promise<void> => {
    const next = queue.then(() => explainNow(kind, text, values))
    queue = next
    return next
  }
  const explainNow = async (kind: Kind, text: string, values: ReadonlyArray<unknown>) => {
    try {
      await run("BEGIN")
      try {
        const json = await run(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values)
        const cell: unknown = json.rows[0]?.["QUERY PLAN"]
        const sample = sampleOf(typeof cell === "string" ? JSON.parse(cell) : cell)
        if (sample !== undefined) kind.samples.push(sample)
        if (kind.plan === undefined) {
          await run("ROLLBACK")
          await run("BEGIN")
          const plan = await run(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values)
          kind.plan = plan.rows.map((r) => String(r["QUERY PLAN"])).join("\n")
        }
      } finally {
        await run("ROLLBACK")
      }
    } catch (error) {
      if (kind.errors.length < 3) kind.errors.push(String(error))
    }
  }

  function query(this: object, ...args: Array<unknown>): unknown {
    const statement = statementOf(args)
    if (phase === undefined || this === explainer || statement === undefined) {
      return Reflect.apply(original, this, args)
    }
    const transaction = transactions.get(this) ?? { open: false, tainted: false }
    transactions.set(this, transaction)
    const { text, values } = statement
    if (/^\s*(BEGIN|START TRANSACTION)\b/i.test(text)) {
      transaction.open = true
      transaction.tainted = false
      return Reflect.apply(original, this, args)
    }
    if (/^\s*(COMMIT|ROLLBACK|END)\s*;?\s*$/i.test(text)) {
      transaction.open = false
      transaction.tainted = false
      return Reflect.apply(original, this, args)
    }
    const wasTainted = transaction.tainted
    if (transaction.open && !isPlainRead(text)) transaction.tainted = true
    if (!isExplainable(text)) return Reflect.apply(original, this, args)
    const key = `${phase}\u0000${normalize(text)}`
    const kind = kinds.get(key) ?? {
      phase,
      text: normalize(text),
      samples: [],
      plan: undefined,
      notExplained: 0,
      errors: []
    }
    kinds.set(key, kind)
    if (transaction.open && wasTainted) {
      kind.notExplained++
      return Reflect.apply(original, this, args)
    }
    const explained = explain(kind, text, values)
    const last = args[args.length - 1]
    if (typeof last === "function") {
      explained.finally(() => Reflect.apply(original, this, args))
      return undefined
    }
    return explained.then(() => Reflect.apply(original, this, args))
  }

  Object.defineProperty(proto, "query", { value: query, configurable: true, writable: true })

  const ms = (n: number) => `${n.toFixed(3)} ms`
  return {
    capture: async (name, f) => {
      phase = name
      try {
        return await f()
      } finally {
        phase = undefined
      }
    },
    report: () => {
      const lines: Array<string> = []
      for (const kind of kinds.values()) {
        const planning = summarize(kind.samples.map((s) => s.planning))
        const execution = summarize(kind.samples.map((s) => s.execution))
        const p90 = (values: ReadonlyArray<number>) =>
          [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil(values.length * 0.9) - 1)] ?? Number.NaN
        const hit = kind.samples.reduce((n, s) => n + s.hit, 0) / Math.max(1, kind.samples.length)
        const read = kind.samples.reduce((n, s) => n + s.read, 0) / Math.max(1, kind.samples.length)
        lines.push("")
        lines.push(`### [${kind.phase}] ${kind.samples.length} call(s) explained`)
        lines.push("")
        lines.push(`    ${kind.text.slice(0, 400)}${kind.text.length > 400 ? " …" : ""}`)
        lines.push("")
        if (kind.samples.length > 0) {
          lines.push(
            `planning: median ${ms(planning.median)}, p90 ${ms(p90(kind.samples.map((s) => s.planning)))}; ` +
              `execution: median ${ms(execution.median)}, p90 ${ms(p90(kind.samples.map((s) => s.execution)))}; ` +
              `shared buffers per call: ${hit.toFixed(1)} hit, ${read.toFixed(1)} read`
          )
        }
        if (kind.notExplained > 0) {
          lines.push(`${kind.notExplained} call(s) not explained (after a write, lock or DDL in their own transaction)`)
        }
        for (const error of kind.errors) lines.push(`explain failed: ${error}`)
        if (kind.plan !== undefined) {
          lines.push("")
          lines.push("first call's plan:")
          lines.push("")
          for (const line of kind.plan.split("\n")) lines.push(`    ${line}`)
        }
      }
      return lines
    },
    end: async () => {
      Object.defineProperty(proto, "query", { value: original, configurable: true, writable: true })
      await explainer.end()
    }
  }
}
