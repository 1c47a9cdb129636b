/**
 * Issue 8, item 10: on PostgreSQL a transaction that stays open anywhere in
 * the cluster (here: in another database) holds back readAll, subscriptions
 * and projections. That is the design (gap safety), but it must not be
 * silent: `feedStatus` says how many committed events are held back, for how
 * long, and by which session; the gauge says how long, and a warning log
 * names it while a subscription runs; and it all clears when the
 * transaction ends.
 *
 * (Other test files share this server and may hold their own transactions
 * briefly: the assertions wait for this test's transaction to be the one
 * named, and for the feed to clear, rather than expecting it at once.)
 */
import { EventStore, FeedStatus, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Duration, Effect, Layer, Metric, Option, Schedule, Stream } from "effect"
import pg from "pg"
import { SqlEventStore } from "../src/index.js"
import * as Logs from "./support/logs.js"
import * as Postgres from "./support/postgres.js"

const { eventData, uniqueCategory } = EventStoreConformance

/** A session on another database of the same cluster, closed with the scope. */
const otherDatabase = Effect.acquireRelease(
  Effect.promise(async () => {
    const url = new URL(Postgres.databaseUrl)
    url.pathname = "/postgres"
    const client = new pg.Client({ connectionString: url.toString(), application_name: "chronicle-feed-blocker" })
    client.on("error", () => undefined)
    await client.connect()
    return client
  }),
  (client) => Effect.promise(() => client.end().catch(() => undefined))
)

const until = <A, E, R>(effect: Effect.Effect<A, E, R>, ok: (a: A) => boolean, what: string) =>
  effect.pipe(
    Effect.filterOrFail(
      ok,
      (a) => new Error(`${what}: ${JSON.stringify(a, (_, v) => (typeof v === "bigint" ? String(v) : v))}`)
    ),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("60 seconds")))
  )

describe.skipIf(!Postgres.available)("SqlEventStore feed status (PostgreSQL)", () => {
  it.live(
    "a transaction open in another database holds the feed back: feedStatus names it, the gauge and a warning say how long",
    () =>
      Effect.flatMap(Logs.capture, ({ lines, layer: logger }) =>
        Effect.gen(function* () {
          const schema = yield* Postgres.schema
          const prefix = "feed_"
          const built = yield* Layer.build(
            SqlEventStore.layer({
              tablePrefix: prefix,
              healthCheckInterval: "100 millis",
              heldBackWarning: "300 millis",
              settleTimeout: "100 millis"
            }).pipe(Layer.provide(Postgres.layerOn(schema)))
          )
          const store = Context.get(built, EventStore.EventStore)
          const category = uniqueCategory("Feed")
          const stream = StreamId.forAggregate(category, "1")
          const feed = Effect.map(Stream.runCollect(store.readAll({ categories: [category] })), Chunk.size)

          const blocker = yield* otherDatabase
          yield* Effect.promise(() => blocker.query("BEGIN"))
          yield* Effect.promise(() => blocker.query("SELECT pg_current_xact_id()"))
          const pid = (yield* Effect.promise(() => blocker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")))
            .rows[0]?.pid
          yield* store.append(stream, [eventData("Hidden")])

          // Gap safety: the event is committed, but no reader may pass it yet.
          expect(yield* feed).toBe(0)
          const status = yield* until(
            store.feedStatus,
            (s) => Option.exists(s.blocker, (b) => Option.contains(b.processId, pid ?? -1)),
            "this test's transaction never showed as the blocker"
          )
          expect(status.hiddenEvents).toBe(1)
          expect(Option.isSome(status.heldBackSince)).toBe(true)
          const named = Option.getOrThrow(status.blocker)
          expect(named.database).toEqual(Option.some("postgres"))
          expect(named.applicationName).toBe("chronicle-feed-blocker")
          expect(named.state).toBe("idle in transaction")
          const text = FeedStatus.format(status)
          expect(text).toContain("the feed is held back: 1 committed event is not readable yet")
          expect(text).toContain(`process ${pid} in database "postgres"`)

          // While a subscription runs, the store checks, sets the gauge, and warns.
          yield* store
            .subscribe({ categories: [category] })
            .pipe(Stream.runDrain, Effect.provide(logger), Effect.forkScoped)
          const warning = yield* Logs.waitFor(
            lines,
            (l) => l.level === "WARN" && l.message.includes("the feed is held back"),
            "warning that the feed is held back"
          )
          expect(warning.message).toContain("idle_in_transaction_session_timeout")
          const gauge = SqlEventStore.heldBackMetric.pipe(Metric.tagged("table_prefix", prefix))
          const held = yield* until(Metric.value(gauge), (g) => g.value > 0, "the gauge never rose")
          expect(held.value).toBeGreaterThan(0)
          const hidden = yield* Metric.value(
            SqlEventStore.hiddenEventsMetric.pipe(Metric.tagged("table_prefix", prefix))
          )
          expect(hidden.value).toBe(1)

          // The transaction ends: the feed delivers, and the store says it is current again.
          yield* Effect.promise(() => blocker.query("ROLLBACK"))
          const cleared = yield* until(store.feedStatus, (s) => s.hiddenEvents === 0, "the feed never cleared")
          expect(Duration.toMillis(cleared.heldBackFor)).toBe(0)
          expect(yield* until(feed, (n) => n === 1, "the event never reached readAll")).toBe(1)
          yield* Logs.waitFor(lines, (l) => l.message.includes("the feed is current again"), "that the feed is current")
          yield* until(Metric.value(gauge), (g) => g.value === 0, "the gauge never fell")
        }).pipe(Effect.scoped, Effect.provide(logger))
      ),
    90_000
  )
})
