import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, FastCheck, Schedule } from "effect"
import { retryLazily } from "../src/internal/retryLazily.js"

// One run of an effect that answers attempt i with outcomes[i] (a failure
// code, or success when past the end), under Effect.retry or retryLazily.
const run = (
  outcomes: ReadonlyArray<number>,
  recurs: number,
  retryable: (code: number) => boolean,
  lazily: boolean
) => {
  let attempts = 0
  const checked: Array<number> = []
  const self = Effect.suspend(() => {
    const outcome = outcomes[attempts]
    attempts++
    return outcome === undefined ? Effect.succeed(`ok after ${attempts}`) : Effect.fail(outcome)
  })
  const options = {
    schedule: Schedule.recurs(recurs),
    while: (code: number) =>
      Effect.sync(() => {
        checked.push(code)
        return retryable(code)
      })
  }
  const exit = Effect.runSyncExit(lazily ? retryLazily(self, options) : Effect.retry(self, options))
  return { exit, attempts, checked }
}

describe("retryLazily", () => {
  it.prop(
    "gives the same result, attempts and predicate calls as Effect.retry",
    [
      FastCheck.array(FastCheck.integer({ min: 0, max: 9 }), { maxLength: 8 }),
      FastCheck.integer({ min: 0, max: 6 }),
      FastCheck.integer({ min: 0, max: 10 })
    ],
    ([outcomes, recurs, threshold]) => {
      const retryable = (code: number) => code < threshold
      const lazy = run(outcomes, recurs, retryable, true)
      const eager = run(outcomes, recurs, retryable, false)
      expect(lazy.attempts).toBe(eager.attempts)
      expect(lazy.checked).toEqual(eager.checked)
      expect(Exit.isSuccess(lazy.exit)).toBe(Exit.isSuccess(eager.exit))
      expect(lazy.exit).toStrictEqual(eager.exit)
    }
  )

  it("does not retry a success, and fails with the last error when the schedule is spent", () => {
    const success = run([], 3, () => true, true)
    expect(success.attempts).toBe(1)
    expect(success.checked).toEqual([])
    expect(success.exit).toStrictEqual(Exit.succeed("ok after 1"))
    const spent = run([1, 2, 3, 4, 5], 2, () => true, true)
    expect(spent.attempts).toBe(3)
    expect(spent.exit).toStrictEqual(Exit.fail(3))
    const refused = run([7, 1], 5, (code) => code !== 7, true)
    expect(refused.attempts).toBe(1)
    expect(refused.exit).toStrictEqual(Exit.fail(7))
  })
})
