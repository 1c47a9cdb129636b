/**
 * The Chronicle side of the benchmark: the same workloads as `Raw.ts`,
 * through the public API (`Repository` over `SqlEventStore` on a `PgClient`),
 * with default options unless the benchmark is told otherwise (`--cache on`,
 * `--tracer off`). Each workload runs as one Effect, so the runtime is
 * entered once per pass.
 */
import {
  AppendError,
  EventStore,
  ExpectedVersion,
  Projection,
  ProjectionAdmin,
  type ProjectionStore,
  Repository,
  SnapshotStore,
  StreamId
} from "@chronicle/core"
import { SqlEventStore, SqlMigrations, SqlProjectionStore, SqlSnapshotStore } from "@chronicle/sql-store"
import * as SqlClient from "@effect/sql/SqlClient"
import { PgClient } from "@effect/sql-pg"
import { type Context, Duration, Effect, Exit, Layer, ManagedRuntime, Redacted, Schedule, Scope, Stream } from "effect"
import * as Domain from "./Domain.js"
import { latencyOf, type Measurement, maxRetries, prng, startClock } from "./Measure.js"
import * as Raw from "./Raw.js"

/** The prefix of Chronicle's tables. */
export const prefix = "chr_"

/** W5's retry: `Repository.defaultRetry`'s shape, with as many retries as the raw baseline. */
const contendedRetry = Schedule.exponential("2 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("25 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(maxRetries))
)

const timed = <A, E, R>(ops: number, effect: Effect.Effect<A, E, R>): Effect.Effect<Measurement, E, R> =>
  Effect.suspend(() => {
    const stop = startClock()
    return Effect.as(effect, undefined).pipe(Effect.map((): Measurement => ({ ops, ...stop() })))
  })

/** The Chronicle side over one pool. */
export interface ChronicleBench {
  readonly w1: (run: number) => Promise<Measurement>
  readonly w2: (run: number) => Promise<Measurement>
  readonly w3: (run: number) => Promise<Measurement>
  readonly w4: (loads: number) => Promise<Measurement>
  readonly w5: (run: number) => Promise<Measurement & { readonly stored: number; readonly version: number }>
  /** S1: `loads` rehydrations of the long stream through a repository that reads snapshots. */
  readonly s1: (loads: number, target: "end" | "worst") => Promise<Measurement>
  /** S1 without snapshots, for the worst-case target (`loadAt` version 9,999). */
  readonly s1Plain: (loads: number) => Promise<Measurement>
  /**
   * P1: `ProjectionAdmin.catchUp` of a balances projection (one row per stream,
   * upserted per batch by `handleBatch`) over every P1 event, from scratch
   * (a new projection name and table per run), on `SqlProjectionStore`.
   */
  readonly p1: (run: number) => Promise<Measurement>
  /** Writes the 10,000-event stream W4 and S1 read, and its snapshots every 100 events (not timed). */
  readonly setupLongStream: () => Promise<void>
  /** Creates the tables of another prefix (W6, W7, W8) with Chronicle's migrations. */
  readonly migrate: (tablePrefix: string) => Promise<void>
  /**
   * W6: `appends` single-event appends (`EventStore.append` with the exact
   * expected version) to streams of a seeded store (prefix), picked at random
   * by a generator seeded with `seed`; the latency of each.
   */
  readonly w6: (tablePrefix: string, target: W6Target, appends: number, seed: number) => Promise<Measurement>
  /**
   * W7: `ProjectionAdmin.catchUp` from scratch of a projection on one category of
   * a seeded store (prefix) that holds `expected` events of it.
   */
  readonly w7: (tablePrefix: string, category: string, expected: number, name: string) => Promise<Measurement>
  /**
   * 300 sequential commands, then (unless `concurrent` is false) 16 workers ×
   * 20 commands, so that every pool connection is open and has served the
   * command statements before the first timed pass.
   */
  readonly warmUp: (options?: { readonly concurrent?: boolean }) => Promise<void>
  readonly end: () => Promise<void>
}

/** Options of the Chronicle side. */
export interface Options {
  /**
   * `false` runs Chronicle with the tracer disabled (`Layer.setTracerEnabled(false)`):
   * what an application that exports no traces can do, to see what spans cost.
   */
  readonly tracer: boolean
  /**
   * `true` gives the command repositories (W1, W2, W5) a state cache of
   * 10,000 streams; otherwise they get the library's default (the cache is on,
   * `Repository.defaultCacheCapacity` streams).
   */
  readonly cache: boolean
  /** The `application_name` of this side's connections (its PostgreSQL CPU is read by it). */
  readonly applicationName: string
}

/** W6: the seeded streams of a store, `<category>-0` … `<category>-<streams - 1>`, each at `version`. */
export interface W6Target {
  readonly category: string
  readonly streams: number
  /** The version of every stream after seeding. */
  readonly version: number
}

/**
 * The pools keep their connections between passes (no idle timeout), so that
 * no pass pays for, or loses the CPU of, backends that come and go.
 */
const idleTimeout = Duration.hours(6)

/** Builds the Chronicle side, running the migrations for both sides' tables. */
export const make = async (url: string, maxConnections: number, options: Options): Promise<ChronicleBench> => {
  const sql = PgClient.layer({
    url: Redacted.make(url),
    maxConnections,
    idleTimeout,
    applicationName: options.applicationName
  })
  const runtime = ManagedRuntime.make(
    Layer.merge(SqlEventStore.layer({ tablePrefix: prefix }), SqlProjectionStore.layer({ tablePrefix: prefix })).pipe(
      Layer.provideMerge(sql),
      Layer.provideMerge(options.tracer ? Layer.empty : Layer.setTracerEnabled(false))
    )
  )
  // S1's snapshot store: `SqlSnapshotStore` on the same database (its own
  // small pool), given only to the repository that reads snapshots.
  const snapshotRuntime = ManagedRuntime.make(
    SqlSnapshotStore.layer({ tablePrefix: prefix }).pipe(
      Layer.provide(
        PgClient.layer({
          url: Redacted.make(url),
          maxConnections: 4,
          idleTimeout,
          applicationName: `${options.applicationName}-snapshots`
        })
      ),
      Layer.provideMerge(options.tracer ? Layer.empty : Layer.setTracerEnabled(false))
    )
  )
  const snapshots = await snapshotRuntime.runPromise(SnapshotStore.SnapshotStore)
  const setup = await runtime.runPromise(
    Effect.gen(function* () {
      // The baseline's tables, by the very same migrations.
      yield* SqlMigrations.run({ tablePrefix: Raw.prefix })
      const store = yield* EventStore.EventStore
      // Only this repository has a SnapshotStore: the others never read snapshots.
      const snapshotted = yield* Effect.provideService(
        Repository.make(Domain.Account),
        SnapshotStore.SnapshotStore,
        snapshots
      )
      const cache = options.cache ? { capacity: 10_000 } : undefined
      const plain = yield* Repository.make(Domain.Account, { cache })
      let conflicts = 0
      const counting = EventStore.EventStore.of({
        ...store,
        append: (streamId, events, options) =>
          Effect.tapError(store.append(streamId, events, options), (error) =>
            Effect.sync(() => {
              if (AppendError.isConcurrencyError(error)) conflicts++
            })
          )
      })
      const contended = yield* Effect.provideService(
        Repository.make(Domain.Account, { retry: contendedRetry, cache }),
        EventStore.EventStore,
        counting
      )
      return {
        store,
        plain,
        snapshotted,
        contended,
        conflicts: () => conflicts,
        resetConflicts: () => {
          conflicts = 0
        }
      }
    })
  )
  const { plain, snapshotted, contended, store } = setup
  const run = <A, E>(effect: Effect.Effect<A, E, never>) => runtime.runPromise(effect)

  const commands = (keys: ReadonlyArray<string>) =>
    Effect.forEach(keys, (key, i) => plain.execute(key, new Domain.Deposit(Domain.payload(i))), { discard: true })

  const w1Keys = (run: number, workload: string): ReadonlyArray<string> =>
    Array.from({ length: 2000 }, (_, i) => Domain.streamKey(run, workload, i % 200))

  const longKey = Domain.streamKey(0, "long", 0)
  const longStream: StreamId.StreamId = StreamId.forAggregate(Domain.category, longKey)

  const batch = (first: number, count: number) =>
    Array.from({ length: count }, (_, i) => {
      const { amount, reference } = Domain.payload(first + i)
      return { eventId: crypto.randomUUID(), type: Domain.eventType, schemaVersion: 1, data: { amount, reference } }
    })

  const loadLong = (repo: typeof plain, loads: number, version?: number) =>
    timed(
      loads,
      Effect.repeatN(
        Effect.flatMap(version === undefined ? repo.load(longKey) : repo.loadAt(longKey, { version }), ({ state }) =>
          state.count === (version ?? 10_000)
            ? Effect.void
            : Effect.dieMessage(`chronicle: rehydrated ${state.count} events, expected ${version ?? 10_000}`)
        ),
        loads - 1
      )
    )

  const balancesProjection = (r: number) =>
    Projection.make({
      name: `p1_r${r}`,
      events: Domain.Deposited,
      categories: [Domain.p1Category],
      setup: (context) =>
        Effect.flatMap(
          SqlClient.SqlClient,
          (sql) =>
            sql`CREATE TABLE IF NOT EXISTS ${sql(`${prefix}${context.name}_v${context.version}_balances`)} (
              stream_id text PRIMARY KEY, balance bigint NOT NULL, events int NOT NULL)`
        ),
      handleBatch: (events, context) =>
        Effect.flatMap(SqlClient.SqlClient, (sql) => {
          const byStream = new Map<string, { balance: number; events: number }>()
          for (const recorded of events) {
            const current = byStream.get(recorded.streamId) ?? { balance: 0, events: 0 }
            byStream.set(recorded.streamId, {
              balance: current.balance + recorded.event.amount,
              events: current.events + 1
            })
          }
          const table = sql(`${prefix}${context.name}_v${context.version}_balances`)
          return sql`INSERT INTO ${table} AS b (stream_id, balance, events)
            SELECT * FROM unnest(${[...byStream.keys()]}::text[], ${[...byStream.values()].map((v) => v.balance)}::bigint[],
              ${[...byStream.values()].map((v) => v.events)}::int[])
            ON CONFLICT (stream_id) DO UPDATE SET balance = b.balance + excluded.balance, events = b.events + excluded.events`
        })
    })

  const p1 = (r: number) =>
    runtime.runPromise(
      Effect.gen(function* () {
        const projection = balancesProjection(r)
        let processed = 0
        const measured = yield* timed(
          0,
          ProjectionAdmin.catchUp(projection, { batchSize: 500, waitForLease: "5 seconds" }).pipe(
            Stream.runForEach((progress) =>
              Effect.sync(() => {
                processed = progress.processed
              })
            )
          )
        )
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql`SELECT sum(events)::int AS n FROM ${sql(`${prefix}p1_r${r}_v1_balances`)}`
        const stored = Number(rows[0]?.n ?? 0)
        if (processed !== Domain.p1Events || stored !== Domain.p1Events) {
          return yield* Effect.dieMessage(
            `chronicle P1: processed ${processed} events, ${stored} in the read model, expected ${Domain.p1Events}`
          )
        }
        return { ...measured, ops: processed }
      })
    )

  // The stores of other prefixes (W6, W7), built once over the same pool and
  // kept until the end.
  const storesScope = await runtime.runPromise(Scope.make())
  const built = new Map<string, Context.Context<EventStore.EventStore | ProjectionStore.ProjectionStore>>()
  const storesOf = async (tablePrefix: string) => {
    const existing = built.get(tablePrefix)
    if (existing !== undefined) return existing
    const context = await runtime.runPromise(
      Layer.buildWithScope(
        Layer.merge(SqlEventStore.layer({ tablePrefix }), SqlProjectionStore.layer({ tablePrefix })),
        storesScope
      )
    )
    built.set(tablePrefix, context)
    return context
  }

  // W6: the next expected version of each stream appended to, per prefix
  // (the raw side keeps the same, so both append the same sequence).
  const w6Versions = new Map<string, Map<number, number>>()
  const w6 = async (tablePrefix: string, target: W6Target, appends: number, seed: number) => {
    const context = await storesOf(tablePrefix)
    const versions = w6Versions.get(tablePrefix) ?? new Map<number, number>()
    w6Versions.set(tablePrefix, versions)
    const random = prng(seed)
    const picks = Array.from({ length: appends }, (_, i) => {
      const stream = Math.floor(random() * target.streams)
      const version = versions.get(stream) ?? target.version
      versions.set(stream, version + 1)
      return { stream, version, event: batch(seed * 1_000_000 + i, 1) }
    })
    const latencies: Array<number> = []
    return runtime.runPromise(
      Effect.gen(function* () {
        const store = yield* EventStore.EventStore
        const measured = yield* timed(
          appends,
          Effect.forEach(
            picks,
            ({ stream, version, event }) =>
              Effect.suspend(() => {
                const start = performance.now()
                return Effect.map(
                  store.append(StreamId.forAggregate(target.category, String(stream)), event, {
                    expectedVersion: ExpectedVersion.exact(version)
                  }),
                  () => {
                    latencies.push(performance.now() - start)
                  }
                )
              }),
            { discard: true }
          )
        )
        return { ...measured, latency: latencyOf(latencies) }
      }).pipe(Effect.provide(context))
    )
  }

  const w7 = async (tablePrefix: string, category: string, expected: number, name: string) => {
    const context = await storesOf(tablePrefix)
    let counted = 0
    const projection = Projection.make({
      name,
      events: Domain.Deposited,
      categories: [category],
      handleBatch: (events) =>
        Effect.sync(() => {
          counted += events.length
        })
    })
    return runtime.runPromise(
      Effect.gen(function* () {
        let processed = 0
        const measured = yield* timed(
          0,
          ProjectionAdmin.catchUp(projection, { waitForLease: "5 seconds" }).pipe(
            Stream.runForEach((progress) =>
              Effect.sync(() => {
                processed = progress.processed
              })
            )
          )
        )
        if (processed !== expected || counted !== expected) {
          return yield* Effect.dieMessage(
            `chronicle W7 ${name}: processed ${processed} events (handler saw ${counted}), expected ${expected}`
          )
        }
        return { ...measured, ops: processed }
      }).pipe(Effect.provide(context))
    )
  }

  return {
    p1,
    w6,
    w7,
    migrate: (tablePrefix) => runtime.runPromise(Effect.asVoid(SqlMigrations.run({ tablePrefix }))),
    w1: (r) => run(timed(2000, commands(w1Keys(r, "w1")))),
    w2: (r) => {
      const keys = w1Keys(r, "w2")
      const workers = Array.from({ length: 16 }, (_, w) => keys.filter((_, i) => (i % 200) % 16 === w))
      return run(timed(keys.length, Effect.forEach(workers, commands, { concurrency: "unbounded", discard: true })))
    },
    w3: (r) => {
      const batches = Array.from({ length: 100 }, () => batch(0, 100))
      return run(
        timed(
          100,
          Effect.forEach(
            batches,
            (events, i) =>
              store.append(StreamId.forAggregate(Domain.category, Domain.streamKey(r, "w3", i)), events, {
                expectedVersion: ExpectedVersion.NoStream
              }),
            { discard: true }
          )
        )
      )
    },
    w4: (loads) => run(loadLong(plain, loads)),
    w5: (r) =>
      run(
        Effect.gen(function* () {
          setup.resetConflicts()
          const key = Domain.streamKey(r, "w5", 0)
          let succeeded = 0
          let failed = 0
          const worker = (w: number) =>
            Effect.forEach(
              Array.from({ length: Raw.w5PerWorker }, (_, c) => w * 1000 + c),
              (n) =>
                contended.execute(key, new Domain.Deposit(Domain.payload(n))).pipe(
                  Effect.tap(() =>
                    Effect.sync(() => {
                      succeeded++
                    })
                  ),
                  Effect.catchTag("ConcurrencyError", () =>
                    Effect.sync(() => {
                      failed++
                    })
                  )
                ),
              { discard: true }
            )
          const measured = yield* timed(
            0,
            Effect.forEach(
              Array.from({ length: Raw.w5Workers }, (_, w) => w),
              worker,
              { concurrency: "unbounded", discard: true }
            )
          )
          const streamId = StreamId.forAggregate(Domain.category, key)
          const stored = yield* Stream.runCount(store.read(streamId))
          const version = yield* store.streamVersion(streamId)
          return { ...measured, ops: succeeded, conflicts: setup.conflicts(), failed, stored, version }
        })
      ),
    s1: (loads, target) => run(loadLong(snapshotted, loads, target === "end" ? undefined : 9_999)),
    s1Plain: (loads) => run(loadLong(plain, loads, 9_999)),
    setupLongStream: () =>
      run(
        Effect.gen(function* () {
          let state = Domain.initialState
          for (let b = 0; b < 100; b++) {
            const events = batch(b * 100, 100)
            const appended = yield* store.append(longStream, events, {
              expectedVersion: ExpectedVersion.exact(b * 100)
            })
            for (const e of events) state = Domain.evolve(state, e.data)
            const position = appended.positions[appended.positions.length - 1]
            if (position === undefined || events.length === 0) return yield* Effect.dieMessage("empty append")
            // What `SnapshotStore.every(100)` writes after each 100 events.
            yield* snapshots.save({
              streamId: longStream,
              version: appended.nextExpectedVersion,
              stateVersion: 1,
              state: { ...state },
              position,
              recordedAt: appended.recordedAt
            })
          }
        })
      ),
    warmUp: async (options) => {
      await run(commands(w1Keys(0, "warm").slice(0, 300)))
      if (options?.concurrent === false) return
      const workers = Array.from({ length: 16 }, (_, w) =>
        Array.from({ length: 20 }, (_, i) => Domain.streamKey(0, "warm-concurrent", w * 20 + (i % 20)))
      )
      await run(Effect.forEach(workers, commands, { concurrency: "unbounded", discard: true }))
    },
    end: async () => {
      await runtime.runPromise(Scope.close(storesScope, Exit.void))
      await Promise.all([runtime.dispose(), snapshotRuntime.dispose()])
    }
  }
}
