/**
 * Issue 8, item 13: a plain subscription used to give up after about 5 s
 * of outage. Through a TCP proxy that refuses every connection (a database
 * that is down), a subscription must wait out an outage longer than that,
 * say so once (a warning), and resume by itself once the database is back
 * (an info), delivering what was appended meanwhile.
 */
import { type Event, EventStore, StreamId } from "@chronicle/core"
import { EventStoreConformance } from "@chronicle/core/testing"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option, Queue, Redacted, Stream } from "effect"
import { SqlEventStore } from "../src/index.js"
import * as Logs from "./support/logs.js"
import * as Postgres from "./support/postgres.js"
import * as TcpProxy from "./support/proxy.js"

const { eventData, uniqueCategory } = EventStoreConformance

describe.skipIf(!Postgres.available)("SqlEventStore subscriptions through an outage (PostgreSQL)", () => {
  it.live(
    "a subscription waits out a 6 s outage, warns once, and resumes by itself with every event",
    () =>
      Effect.gen(function* () {
        const { lines, layer: logger } = yield* Logs.capture
        const schema = yield* Postgres.schema
        const proxy = yield* TcpProxy.make
        const direct = yield* Layer.build(SqlEventStore.layer().pipe(Layer.provide(Postgres.layerOn(schema))))
        const proxied = yield* Layer.build(
          SqlEventStore.layer({ migrate: false }).pipe(
            Layer.provide(PgClient.layer({ url: Redacted.make(proxy.url(schema)), maxConnections: 2 }))
          )
        )
        const writer = Context.get(direct, EventStore.EventStore)
        const subscriber = Context.get(proxied, EventStore.EventStore)
        const category = uniqueCategory("Outage")
        const stream = StreamId.forAggregate(category, "1")
        const received = yield* Queue.unbounded<Event.StoredEvent>()
        const subscription = yield* subscriber.subscribe({ categories: [category], pollInterval: "100 millis" }).pipe(
          Stream.runForEach((event) => Queue.offer(received, event)),
          Effect.provide(logger),
          Effect.forkScoped
        )
        yield* writer.append(stream, [eventData("Before")])
        expect((yield* Queue.take(received).pipe(Effect.timeout("20 seconds"))).type).toBe("Before")

        // The database goes away for longer than the old give-up time.
        yield* proxy.refuse(true)
        yield* proxy.cutAll
        const during = [eventData("During"), eventData("During")]
        yield* writer.append(stream, during)
        yield* Logs.waitFor(
          lines,
          (l) => l.level === "WARN" && l.message.includes("cannot read"),
          "warning of the outage"
        )
        yield* Effect.sleep("6 seconds")
        // still running (on failure, show how it ended)
        expect(yield* Fiber.poll(subscription)).toEqual(Option.none())
        expect(yield* Queue.size(received)).toBe(0)

        yield* proxy.refuse(false)
        const resumed = [yield* Queue.take(received), yield* Queue.take(received)]
        expect(resumed.map((e) => e.eventId)).toEqual(during.map((e) => e.eventId))
        const recovered = yield* Logs.waitFor(lines, (l) => l.message.includes("reads again after"), "of the recovery")
        expect(recovered.level).toBe("INFO")
        // one warning for the whole outage, however many reads failed
        expect(lines.filter((l) => l.level === "WARN" && l.message.includes("cannot read"))).toHaveLength(1)
        const after = eventData("After")
        yield* writer.append(stream, [after])
        expect((yield* Queue.take(received).pipe(Effect.timeout("20 seconds"))).eventId).toBe(after.eventId)
      }).pipe(Effect.scoped),
    60_000
  )
})
