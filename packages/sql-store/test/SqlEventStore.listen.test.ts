/**
 * Issue 8, item 12: after its LISTEN connection dies (a server restart, a
 * terminated backend), the store listens again by itself, says so at info
 * level, and wake-ups from other processes come back. The subscriber here
 * polls once an hour, so only a notification can deliver in time.
 */
import { type Event, EventStore, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Metric, Queue, Redacted, Schedule, Scope, Stream } from "effect"
import { SqlEventStore } from "../src/index.js"
import * as Logs from "./support/logs.js"
import * as Postgres from "./support/postgres.js"
import * as TcpProxy from "./support/proxy.js"

const { eventData, uniqueCategory } = EventStoreConformance

/**
 * Appends with `writer` (another process's store) until a notification
 * wakes the subscriber feeding `received`, long before its hourly poll
 * (LISTEN takes effect a moment after a subscription starts), then drains
 * `received`.
 */
const appendUntilWoken = (
  writer: EventStore.EventStore["Type"],
  stream: StreamId.StreamId,
  received: Queue.Queue<Event.StoredEvent>
) =>
  Effect.gen(function* () {
    yield* writer.append(stream, [eventData("Ping")])
    return yield* Queue.take(received).pipe(
      Effect.timeoutFail({ duration: "500 millis", onTimeout: () => "not woken" })
    )
  }).pipe(Effect.retry({ times: 40 }), Effect.zipRight(Queue.takeAll(received)))

/**
 * A subscriber on the store of `listening`, polling once an hour (so that
 * only a notification delivers in time), with its logs captured; a writer
 * on the store of `other` (another process); and the stream to write to.
 */
const subscribed = <E1, E2>(
  listening: Layer.Layer<EventStore.EventStore, E1>,
  other: Layer.Layer<EventStore.EventStore, E2>,
  name: string
) =>
  Effect.gen(function* () {
    const { lines, layer: logger } = yield* Logs.capture
    const subscriber = Context.get(yield* Layer.build(listening), EventStore.EventStore)
    const writer = Context.get(yield* Layer.build(other), EventStore.EventStore)
    const category = uniqueCategory(name)
    const received = yield* Queue.unbounded<Event.StoredEvent>()
    yield* subscriber.subscribe({ categories: [category], pollInterval: "1 hour" }).pipe(
      Stream.runForEach((event) => Queue.offer(received, event)),
      Effect.provide(logger),
      Effect.forkScoped
    )
    return { lines, writer, received, stream: StreamId.forAggregate(category, "1") }
  })

describe.skipIf(!Postgres.available)("SqlEventStore LISTEN (PostgreSQL)", () => {
  it.live(
    "a terminated LISTEN connection is replaced, with info logs, and other processes' appends wake subscribers again",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const app = `chronicle-listen-${crypto.randomUUID().slice(0, 8)}`
        const { lines, writer, received, stream } = yield* subscribed(
          SqlEventStore.layer({ healthCheckInterval: "200 millis" }).pipe(
            Layer.provide(Postgres.layerOn(schema, { applicationName: app, maxConnections: 4 }))
          ),
          SqlEventStore.layer().pipe(
            Layer.provide(Postgres.layerOn(schema, { applicationName: `${app}-other`, maxConnections: 2 }))
          ),
          "Listen"
        )
        yield* appendUntilWoken(writer, stream, received)

        const admin = yield* Postgres.raw(schema)
        // Every backend of this store whose last statement was a LISTEN (one,
        // the listener's connection, unless an earlier one lingers): all are
        // terminated, so the one in use is among them.
        const listenPids = () =>
          Effect.promise(() =>
            admin.query<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'",
              [app]
            )
          ).pipe(
            Effect.map((r) => r.rows.map((row) => row.pid)),
            Effect.filterOrFail((pids) => pids.length > 0)
          )
        const before = yield* listenPids().pipe(
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("10 seconds")))
        )
        // Only what the store logs from here on answers for this termination.
        const mark = lines.length
        const logged = (l: Logs.Line) => lines.indexOf(l) >= mark
        for (const pid of before) {
          const terminated = yield* Effect.promise(() =>
            admin.query<{ done: boolean }>("SELECT pg_terminate_backend($1) AS done", [pid])
          )
          expect(terminated.rows[0]?.done).toBe(true)
        }

        // "lost" once the listener had confirmed LISTEN with a probe; "not
        // available" when the connection died while it was still confirming
        // it (the first wake-up above can come from the subscription's
        // initial read, before LISTEN is confirmed). Either way one info line.
        const lost = yield* Logs.waitFor(
          lines,
          (l) =>
            logged(l) &&
            l.message.includes("LISTEN") &&
            (l.message.includes(" lost (") || l.message.includes(" not available (")) &&
            l.message.includes("subscribers poll until it is back"),
          "about LISTEN lost"
        )
        expect(lost.level).toBe("INFO")
        const back = yield* Logs.waitFor(
          lines,
          (l) => logged(l) && l.message.includes("re-established"),
          "about LISTEN re-established"
        )
        expect(back.level).toBe("INFO")
        const after = yield* listenPids().pipe(
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("10 seconds")))
        )
        expect(after.filter((pid) => before.includes(pid))).toEqual([])

        // Wake-ups from another process reach the subscriber again, long before its hourly poll.
        const event = eventData("AfterRestart")
        yield* writer.append(stream, [event])
        // (A Ping of the first phase can still arrive first on a loaded
        // machine: it was appended before the drain and delivered after it.)
        const woken = yield* Queue.take(received).pipe(
          Effect.repeat({ until: (e) => e.eventId === event.eventId || e.type !== "Ping" }),
          Effect.timeout("20 seconds")
        )
        expect(woken.eventId).toBe(event.eventId)
      }).pipe(Effect.scoped),
    90_000
  )

  // The LISTEN connection of @effect/sql-pg 0.53 attached its error handler a
  // microtask after connecting: a backend terminated as it started sent a
  // fatal message nobody handled, and Node ended the process (an uncaught
  // exception, which vitest reports as an unhandled error and fails the run
  // on). Terminating every backend of the store in a tight loop hits that
  // moment at each of the listener's attempts to listen again.
  it.live(
    "LISTEN connections terminated as they start, again and again: no uncaught error, and LISTEN comes back",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const app = `chronicle-storm-${crypto.randomUUID().slice(0, 8)}`
        const { lines, writer, received, stream } = yield* subscribed(
          SqlEventStore.layer({ healthCheckInterval: "200 millis" }).pipe(
            Layer.provide(Postgres.layerOn(schema, { applicationName: app, maxConnections: 2 }))
          ),
          SqlEventStore.layer().pipe(
            Layer.provide(Postgres.layerOn(schema, { applicationName: `${app}-other`, maxConnections: 2 }))
          ),
          "Storm"
        )
        const admin = yield* Postgres.raw(schema)
        const terminated = yield* Effect.promise(async () => {
          let n = 0
          const until = Date.now() + 4000
          while (Date.now() < until) n += await Postgres.terminateBackends(admin, app)
          return n
        })
        // the listener tried again and again, and each attempt was cut
        expect(terminated).toBeGreaterThanOrEqual(3)
        expect(lines.some((l) => l.message.includes("subscribers poll until it is back"))).toBe(true)
        // LISTEN comes back: another process's append wakes the subscriber
        yield* appendUntilWoken(writer, stream, received)
      }).pipe(Effect.scoped),
    60_000
  )

  // A connection can die without a sign: a NAT or firewall drops its state,
  // and LISTEN just stops delivering. Only the listener's probe finds out.
  it.live(
    "a LISTEN connection gone silent (no error, no close) is found out by a probe and replaced; chronicle_listen_up says so",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const proxy = yield* TcpProxy.make
        const up = Effect.map(
          Metric.value(SqlEventStore.listeningMetric.pipe(Metric.tagged("table_prefix", "silent_"))),
          (gauge) => gauge.value
        )
        yield* Effect.gen(function* () {
          const { lines, writer, received, stream } = yield* subscribed(
            SqlEventStore.layer({ tablePrefix: "silent_", healthCheckInterval: "200 millis" }).pipe(
              Layer.provide(PgClient.layer({ url: Redacted.make(proxy.url(schema)), maxConnections: 2 }))
            ),
            SqlEventStore.layer({ tablePrefix: "silent_" }).pipe(Layer.provide(Postgres.layerOn(schema))),
            "Silent"
          )
          yield* appendUntilWoken(writer, stream, received)
          // the gauge turns 1 once a probe came back: LISTEN delivers
          yield* Effect.repeat(up, { until: (value) => value === 1, schedule: Schedule.spaced("20 millis") }).pipe(
            Effect.timeout("10 seconds")
          )
          const values: Array<number> = []
          yield* up.pipe(
            Effect.tap((value) => {
              if (values.at(-1) !== value) values.push(value)
            }),
            Effect.repeat(Schedule.spaced("5 millis")),
            Effect.forkScoped
          )
          const mark = lines.length
          const logged = (l: Logs.Line) => lines.indexOf(l) >= mark
          expect(yield* proxy.silence('LISTEN "')).toBe(1)
          const lost = yield* Logs.waitFor(
            lines,
            (l) => logged(l) && l.message.includes("no notification came back"),
            "about the probe lost"
          )
          expect(lost.level).toBe("INFO")
          yield* Logs.waitFor(lines, (l) => logged(l) && l.message.includes("re-established"), "about LISTEN back")
          // wake-ups reach the subscriber again, on the new connection
          const event = eventData("AfterSilence")
          yield* writer.append(stream, [event])
          const woken = yield* Queue.take(received).pipe(
            Effect.repeat({ until: (e) => e.eventId === event.eventId }),
            Effect.timeout("20 seconds")
          )
          expect(woken.eventId).toBe(event.eventId)
          // down while the probe had found it gone, up again since (a loaded
          // machine may add a flap of its own: only the order is asserted)
          expect(values[0]).toBe(1)
          expect(values).toContain(0)
          expect(values.at(-1)).toBe(1)
        }).pipe(Effect.scoped)
        // the store's layer closed: nobody listens
        expect(yield* up).toBe(0)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a burst of appends sends far fewer notifications than appends, and every subscriber sees every event",
    () =>
      Effect.gen(function* () {
        const schema = yield* Postgres.schema
        const writerLayer = yield* Layer.build(
          SqlEventStore.layer({ notifyInterval: "1 second" }).pipe(
            Layer.provide(Postgres.layerOn(schema, { maxConnections: 8 }))
          )
        )
        const otherLayer = yield* Layer.build(
          SqlEventStore.layer({ migrate: false }).pipe(Layer.provide(Postgres.layerOn(schema, { maxConnections: 4 })))
        )
        const writer = Context.get(writerLayer, EventStore.EventStore)
        const other = Context.get(otherLayer, EventStore.EventStore)

        // Every notification on the store's channel, counted by a raw LISTEN.
        const listener = yield* Postgres.raw(schema)
        const payloads: Array<string> = []
        listener.on("notification", (message) => {
          payloads.push(message.payload ?? "")
        })
        yield* Effect.promise(() => listener.query(`LISTEN "${schema}.chronicle_events"`))

        const category = uniqueCategory("Burst")
        const n = 100
        // Subscribers that poll rarely: wake-ups deliver, and the polling
        // fallback covers a wake-up that came while an older transaction of
        // the cluster still hid the last events.
        const collect = (store: EventStore.EventStore["Type"]) =>
          Effect.gen(function* () {
            const received = yield* Queue.unbounded<Event.StoredEvent>()
            yield* store.subscribe({ categories: [category], pollInterval: "5 seconds" }).pipe(
              Stream.runForEach((event) => Queue.offer(received, event)),
              Effect.forkScoped
            )
            return received
          })
        const local = yield* collect(writer)
        const remote = yield* collect(other)
        // The remote subscriber's LISTEN is up once a probe-woken append reaches it.
        const warmup = StreamId.forAggregate(category, "warmup")
        yield* Effect.gen(function* () {
          yield* other.append(warmup, [eventData("Ping")])
          return yield* Queue.take(remote).pipe(Effect.timeoutFail({ duration: "500 millis", onTimeout: () => "no" }))
        }).pipe(Effect.retry({ times: 40 }))
        yield* Queue.takeAll(remote)
        yield* Queue.takeAll(local)
        payloads.length = 0

        const ids = new Set<string>()
        yield* Effect.forEach(
          Array.from({ length: n }, (_, i) => i),
          (i) => {
            const event = eventData("Burst")
            ids.add(event.eventId)
            return writer.append(StreamId.forAggregate(category, String(i)), [event])
          },
          { concurrency: 16, discard: true }
        )
        const seen = (queue: Queue.Queue<Event.StoredEvent>) =>
          Effect.gen(function* () {
            const got = new Set<string>()
            while (got.size < n) {
              const event = yield* Queue.take(queue).pipe(Effect.timeout("60 seconds"))
              if (ids.has(event.eventId)) got.add(event.eventId)
            }
            return got.size
          })
        expect(yield* seen(local)).toBe(n)
        expect(yield* seen(remote)).toBe(n)
        const wakeups = payloads.filter((p) => p.startsWith("chronicle:wake:"))
        expect(wakeups.length).toBeGreaterThan(0)
        expect(wakeups.length).toBeLessThan(n / 5)
      }).pipe(Effect.scoped),
    90_000
  )
  it.scopedLive("a notification still waiting for its interval is not sent once the store's layer is closed", () =>
    Effect.gen(function* () {
      const schema = yield* Postgres.schema
      const client = yield* Layer.build(Postgres.layerOn(schema, { maxConnections: 2 }))
      const listener = yield* Postgres.raw(schema)
      const received: Array<string> = []
      listener.on("notification", (message) => received.push(message.payload ?? ""))
      yield* Effect.promise(() => listener.query(`LISTEN "${schema}.chronicle_events"`))

      const storeScope = yield* Scope.make()
      const built = yield* Layer.buildWithScope(
        SqlEventStore.layer({ notifyInterval: "1 second" }).pipe(Layer.provide(Layer.succeedContext(client))),
        storeScope
      )
      const store = Context.get(built, EventStore.EventStore)
      const stream = StreamId.forAggregate(uniqueCategory("Closing"), "1")
      // The first append notifies at once; the second within the interval
      // waits for the end of it.
      yield* store.append(stream, [eventData("Ping")])
      yield* store.append(stream, [eventData("Ping")])
      yield* Effect.sleep("300 millis")
      expect(received.length).toBe(1)
      yield* Scope.close(storeScope, Exit.void)
      // The connection pool is still open: only the closed scope stops it.
      yield* Effect.sleep("1500 millis")
      expect(received.length).toBe(1)
    })
  )
})
