/**
 * Fault injection on PostgreSQL (issue 8, test hygiene):
 *
 * - real OS processes: writers and a projector killed with SIGKILL
 *   mid-work, twice; then every acknowledged command is stored exactly
 *   once, versions are contiguous, and the read model equals a fresh
 *   rebuild;
 * - in one process, under load: every connection of the store (pool and
 *   LISTEN) terminated, again and again; writers (retrying a failed command
 *   with its command id) and the projection recover by themselves, and
 *   nothing is lost.
 */
import { Projection, Repository } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Schedule } from "effect"
import { SqlEventStore, SqlMigrations, SqlProjectionStore } from "../src/index.js"
import * as Faults from "./support/faults.js"
import * as Postgres from "./support/postgres.js"
import * as ReadModel from "./support/readModel.js"
import { Deposit, Open, Wallet } from "./support/Wallet.js"

describe.skipIf(!Postgres.available)("Fault injection (PostgreSQL)", () => {
  it.live(
    "writers and a projector killed with SIGKILL mid-work: nothing acknowledged is lost or doubled",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const client = Postgres.layerOn(schema, { maxConnections: 4 })
        const stores = Layer.mergeAll(SqlEventStore.layer(), SqlProjectionStore.layer()).pipe(
          Layer.provideMerge(client)
        )
        yield* SqlMigrations.run().pipe(Effect.provide(client))
        const { events, acknowledged } = yield* Faults.crashes("pg", Postgres.urlFor(schema)).pipe(
          Effect.provide(stores)
        )
        expect(events).toBeGreaterThanOrEqual(acknowledged)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "every connection of the store cut, again and again, under load: writers and the projection recover, nothing lost",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const app = `chronicle-cut-${crypto.randomUUID().slice(0, 8)}`
        const stores = Layer.mergeAll(
          SqlEventStore.layer({ pollInterval: "100 millis" }),
          SqlProjectionStore.layer()
        ).pipe(Layer.provideMerge(Postgres.layerOn(schema, { maxConnections: 8, applicationName: app })))
        const admin = yield* Postgres.raw(schema)
        const writers = 4
        const commands = 30
        const acks = yield* Ref.make<ReadonlyArray<string>>([])
        const failures = yield* Ref.make<ReadonlyArray<string>>([])
        yield* Effect.gen(function* () {
          const { projection } = yield* ReadModel.make({ name: "fault" })
          yield* Effect.scoped(
            Effect.gen(function* () {
              yield* Layer.build(
                Projection.layer(projection, {
                  leaseTtl: "3 seconds",
                  batchSize: 10,
                  pollInterval: "50 millis",
                  retry: Schedule.spaced("100 millis")
                })
              )
              const wallets = yield* Repository.make(Wallet)
              const command = (id: string, body: Open | Deposit, commandId: string) =>
                wallets.execute(id, body, { commandId }).pipe(
                  Effect.tapError((e) => Ref.update(failures, (all) => [...all, e._tag])),
                  Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("30 seconds"))),
                  Effect.tap(() => Ref.update(acks, (all) => [...all, commandId]))
                )
              const writing = yield* Effect.forEach(
                Array.from({ length: writers }, (_, n) => n),
                (n) =>
                  Effect.gen(function* () {
                    const id = `cut-w${n}`
                    yield* command(id, new Open({ owner: "ann" }), `${id}-open`)
                    for (let i = 1; i <= commands; i++) {
                      yield* command(id, new Deposit({ amount: (i % 7) + 1, currency: "EUR" }), `${id}-${i}`)
                    }
                  }),
                { concurrency: "unbounded", discard: true }
              ).pipe(Effect.fork)
              // Cut every connection of the store (the pool's and LISTEN's), five times.
              const cuts: Array<number> = []
              for (let round = 0; round < 5; round++) {
                yield* Effect.sleep("250 millis")
                cuts.push(yield* Effect.promise(() => Postgres.terminateBackends(admin, app)))
              }
              yield* Fiber.join(writing)
              expect(cuts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5)
              expect(yield* Ref.get(acks)).toHaveLength(writers * (commands + 1))
              // the running projection catches up by itself
              const total = writers * (commands + 1)
              yield* Faults.eventually(
                Effect.map(Faults.appliedCount("fault"), (n) => n >= total),
                () => "the running projection never caught up after the cuts"
              )
            })
          )
          const acknowledged = yield* Ref.get(acks)
          const { events } = yield* Faults.verify([{ label: "cut", writers, acks: () => acknowledged }])
          expect(events).toBe(writers * (commands + 1))
        }).pipe(Effect.provide(stores))
      }).pipe(Effect.scoped),
    120_000
  )
})
