/**
 * A speed probe of the machine a benchmark ran on: the CPU time of two
 * fixed pieces of work, one plain JavaScript and one Effect program, so that
 * rounds on different machines can be compared (the CPU model does not tell
 * them apart: two "AMD EPYC" VMs of this project measured 4 × apart per
 * deposit). Ratios between two sides of one run move with the machine too
 * (the Effect runtime's cost against a raw driver's, say), and the two
 * figures show which way: a machine whose Effect figure is high against its
 * plain one penalises the Effect-heavy side.
 *
 * Each piece runs in rounds of about 50 ms of this thread's CPU time
 * (`process.cpuUsage`, so time the thread spends preempted is not counted);
 * see {@link run}. On one machine (2 vCPUs of an AMD EPYC, 2026-11-28) the
 * figures of one invocation moved by about ±25 % from the next: they tell
 * machine kinds apart (which differ by 2–4 ×), not small changes.
 */
import { Effect, Ref } from "effect"
import * as Measure from "./Measure.js"

/** CPU time per operation of each piece, in microseconds (lower is faster). */
export interface Probe {
  /** `JSON.stringify` and `JSON.parse` of 16 small records, and a sum over them. */
  readonly jsMicros: number
  /** `Effect.runSync` of a program of a `Ref`, an `Effect.forEach` over 16 items and a generator. */
  readonly effectMicros: number
}

const records = Array.from({ length: 16 }, (_, i) => ({ id: `acc-${i}`, amount: i * 100, reference: `r${i}` }))

/** The plain piece. Returns a number so that the work cannot be optimised away. */
const plain = (): number => {
  const parsed: unknown = JSON.parse(JSON.stringify(records))
  let sum = 0
  if (Array.isArray(parsed)) {
    for (const record of parsed) {
      if (typeof record === "object" && record !== null && "amount" in record && typeof record.amount === "number")
        sum += record.amount
    }
  }
  return sum
}

const program = Effect.gen(function* () {
  const total = yield* Ref.make(0)
  yield* Effect.forEach(records, (record) => Ref.update(total, (sum) => sum + record.amount), { discard: true })
  return yield* Ref.get(total)
})

/** The Effect piece. */
const effectful = (): number => Effect.runSync(program)

const cpuMicros = (): number => {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

/** `calls` calls of `work` in one round; returns this thread's CPU time per call, in microseconds. */
const round = (work: () => number, roundMicros: number): number => {
  const start = cpuMicros()
  let calls = 0
  let spent = 0
  let sink = 0
  while (spent < roundMicros) {
    for (let i = 0; i < 50; i++) sink += work()
    calls += 50
    spent = cpuMicros() - start
  }
  // never true: keeps `sink` observable, so that the work is not optimised away
  if (sink === Number.NEGATIVE_INFINITY) calls++
  return spent / calls
}

/**
 * Runs both pieces (about 1.4 s of CPU on one core): three rounds of each
 * to warm up, then ten of each, alternated so that a passing slowdown of the
 * machine hits both; each figure is its median round.
 */
export const run = (): Probe => {
  const js: Array<number> = []
  const effect: Array<number> = []
  for (let i = 0; i < 13; i++) {
    const a = round(plain, 50_000)
    const b = round(effectful, 50_000)
    if (i >= 3) {
      js.push(a)
      effect.push(b)
    }
  }
  return { jsMicros: Measure.summarize(js).median, effectMicros: Measure.summarize(effect).median }
}

/** One line for a report's header. */
export const describe = (probe: Probe): string =>
  `machine probe (CPU per operation, lower is faster): plain JS ${probe.jsMicros.toFixed(2)} µs, ` +
  `Effect ${probe.effectMicros.toFixed(2)} µs (Effect / plain ${(probe.effectMicros / probe.jsMicros).toFixed(2)})`
