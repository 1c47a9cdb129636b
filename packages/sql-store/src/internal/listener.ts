/**
 * Wake-ups from PostgreSQL `LISTEN` that come back by themselves.
 *
 * The LISTEN connection (`pgListen.ts`) ends its stream when it errors or
 * closes, and the listener listens again. But a network cut can leave a
 * connection that looks open and delivers nothing: notifications simply
 * stop, and subscribers would fall back to polling for good. So the
 * listener also checks its own channel: it sends a
 * probe notification through the pool right after it starts listening and
 * then every `checkInterval`, and a probe that does not come back in time
 * means the LISTEN connection is gone. It then stops listening (releasing
 * that connection), and listens again on a fresh one, with a capped,
 * jittered backoff, for as long as anyone subscribes. Losing and regaining
 * LISTEN are logged at info level.
 *
 * Probes carry the `chronicle:probe:` prefix: every listener ignores
 * other listeners' probes, so they wake no subscriber. A listener also
 * ignores its own store's wake-ups (`ownWakeup`): the store wakes its
 * subscribers in-process, without waiting for the round trip.
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Cause, Clock, Data, Duration, Effect, Fiber, PubSub, Queue, Schedule, type Scope, Stream } from "effect"
import type { DriverError } from "./driver.js"
import { describe } from "./errors.js"

/** @internal */
export const probePrefix = "chronicle:probe:"

/** @internal */
export interface Options {
  readonly channel: string
  /** The store's notifications (one shared LISTEN connection). */
  readonly listen: Stream.Stream<string, SqlError>
  /** Sends a notification on the channel, through the pool. */
  readonly notify: (payload: string) => Effect.Effect<void, DriverError>
  /** The payload of this store's own coalesced wake-ups, which wake nobody here. */
  readonly ownWakeup: string
  /** How often to check that LISTEN still delivers. */
  readonly checkInterval: Duration.Duration
  /** Run with `true` once LISTEN delivers, `false` when it is lost or stopped. */
  readonly onHealth: (listening: boolean) => Effect.Effect<void>
}

class ProbeLost extends Data.TaggedError("ProbeLost")<{ readonly reason: string }> {}

const liveClock = Clock.make()

/** How long to wait before listening again: prompt at first, at most 2 s apart. */
const relisten = Schedule.exponential("100 millis").pipe(
  Schedule.union(Schedule.spaced("2 seconds")),
  Schedule.jittered
)

const causeText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    const error = failure.value
    return error instanceof ProbeLost ? error.reason : describe(error)
  }
  return Cause.isInterruptedOnly(cause) ? "interrupted" : (Cause.pretty(cause).split("\n")[0] ?? "unknown cause")
}

/**
 * Starts listening for as long as the scope lives, and returns the hub that
 * receives one wake-up per notification from another session.
 *
 * @internal
 */
export const start = (options: Options): Effect.Effect<PubSub.PubSub<void>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const hub = yield* PubSub.sliding<void>(16)
    const own = `${probePrefix}${crypto.randomUUID()}:`
    let sent = 0
    let lostAt: number | undefined
    let established = false
    const probeTimeout = Duration.max(Duration.seconds(1), Duration.min(options.checkInterval, Duration.seconds(10)))

    const session = Effect.scoped(
      Effect.gen(function* () {
        const probes = yield* Queue.unbounded<string>()
        const listening = yield* options.listen.pipe(
          Stream.runForEach((payload) =>
            payload.startsWith(probePrefix)
              ? payload.startsWith(own)
                ? Queue.offer(probes, payload)
                : Effect.void
              : payload === options.ownWakeup
                ? Effect.void
                : PubSub.publish(hub, undefined)
          ),
          Effect.forkScoped
        )
        const probe = Effect.gen(function* () {
          sent += 1
          const token = `${own}${sent}`
          yield* Effect.mapError(
            options.notify(token),
            (error) => new ProbeLost({ reason: `probe not sent: ${describe(error)}` })
          )
          yield* Queue.take(probes).pipe(
            Effect.repeat({ until: (received) => received === token }),
            Effect.timeoutFail({
              duration: probeTimeout,
              onTimeout: () =>
                new ProbeLost({ reason: `no notification came back within ${Duration.format(probeTimeout)}` })
            })
          )
        })
        // LISTEN takes effect a moment after the stream starts, with no sign:
        // probe until one comes back.
        const establish = Effect.gen(function* () {
          const deadline = liveClock.unsafeCurrentTimeMillis() + Duration.toMillis(probeTimeout) * 3
          let wait = 25
          for (;;) {
            sent += 1
            yield* Effect.mapError(
              options.notify(`${own}${sent}`),
              (error) => new ProbeLost({ reason: `probe not sent: ${describe(error)}` })
            )
            const back = yield* Effect.timeoutOption(Queue.take(probes), Duration.millis(wait))
            if (back._tag === "Some") return
            if (liveClock.unsafeCurrentTimeMillis() >= deadline) {
              return yield* new ProbeLost({ reason: "LISTEN never delivered a probe" })
            }
            wait = Math.min(wait * 2, 1000)
          }
        })
        const checks = Effect.gen(function* () {
          yield* establish
          established = true
          yield* options.onHealth(true)
          if (lostAt !== undefined) {
            const seconds = ((liveClock.unsafeCurrentTimeMillis() - lostAt) / 1000).toFixed(1)
            yield* Effect.logInfo(`PostgreSQL LISTEN on ${options.channel} re-established after ${seconds} s`)
            lostAt = undefined
          }
          return yield* Effect.forever(Effect.zipRight(Effect.sleep(options.checkInterval), probe))
        })
        const stopped = Effect.flatMap(Fiber.join(listening), () =>
          Effect.fail(new ProbeLost({ reason: "the notification stream ended" }))
        )
        return yield* Effect.raceFirst(checks, stopped)
      })
    )

    // One outage: report it once, then listen again with a fresh backoff.
    const outage = (cause: Cause.Cause<unknown>) =>
      Effect.zipRight(
        options.onHealth(false),
        Effect.suspend(() => {
          if (lostAt !== undefined) return Effect.void
          lostAt = liveClock.unsafeCurrentTimeMillis()
          return Effect.logInfo(
            `PostgreSQL LISTEN on ${options.channel} ${established ? "lost" : "not available"} (${causeText(cause)}); ` +
              "subscribers poll until it is back"
          )
        })
      )

    const loop = Effect.gen(function* () {
      let backoff = yield* Schedule.driver(relisten)
      for (;;) {
        const exit = yield* Effect.exit(session)
        if (exit._tag === "Success") continue
        if (lostAt === undefined) backoff = yield* Schedule.driver(relisten)
        yield* outage(exit.cause)
        yield* Effect.ignore(backoff.next(undefined))
      }
    })

    yield* Effect.addFinalizer(() => options.onHealth(false))
    yield* Effect.forkScoped(Effect.withClock(loop, liveClock))
    return hub
  })
