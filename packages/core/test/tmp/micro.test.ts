import { InMemoryEventStore, Repository } from "@chronicle/core"
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { Counter, Increment, Open } from "../fixtures/Counter.js"

it.live(
  "micro",
  () =>
    Effect.gen(function* () {
      const repo = yield* Repository.make(Counter)
      for (let s = 0; s < 200; s++) yield* repo.execute(`s${s}`, new Open({ limit: 1000 }))
      const run = (n: number) =>
        Effect.gen(function* () {
          for (let i = 0; i < n; i++) yield* repo.execute(`s${i % 200}`, new Increment({ by: 1 }))
        })
      yield* run(2000)
      const t0 = process.cpuUsage()
      const w0 = performance.now()
      yield* Effect.gen(function* () {
        const repo2 = yield* Repository.make(Counter)
        for (let i = 0; i < 2000; i++) yield* repo2.load(`s${i % 200}`)
      })
      const t1 = process.cpuUsage(t0)
      console.log(
        "load",
        ((t1.user + t1.system) / 2000).toFixed(1),
        "us/op cpu",
        (((performance.now() - w0) * 1000) / 2000).toFixed(1)
      )
      const c0 = process.cpuUsage()
      yield* run(2000)
      const c1 = process.cpuUsage(c0)
      console.log("execute", ((c1.user + c1.system) / 2000).toFixed(1), "us/op cpu")
    }).pipe(Effect.provide(InMemoryEventStore.layer)),
  120_000
)
