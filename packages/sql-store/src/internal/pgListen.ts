/**
 * The store's own PostgreSQL `LISTEN` connection, which never leaves an
 * error unheard.
 *
 * `PgClient.listen` of `@effect/sql-pg` (0.53) opens its shared LISTEN
 * connection and attaches its `error` handler only once `connect()` has
 * resolved, a microtask later. A fatal message that arrives in the same read
 * as the end of the handshake (a backend terminated as it starts: a
 * failover, `pg_terminate_backend`, a restart) is emitted with no handler,
 * and Node ends the process with an uncaught exception. It also says nothing
 * when the connection dies: notifications just stop.
 *
 * This connection has its `error` handler from before it connects until it
 * is garbage, and its stream fails as soon as the connection errors or
 * closes, so the listener (`listener.ts`) listens again at once instead of
 * waiting for a probe to time out. One connection per store listener, opened
 * with the `PgClient`'s settings. The `pg` driver is loaded by the store's
 * layer on PostgreSQL only ({@link load}), so an app on SQLite never loads
 * it, and a PostgreSQL app that cannot resolve it is told at start-up.
 *
 * @internal
 */
import { SqlError } from "@effect/sql/SqlError"
import type { PgClientConfig } from "@effect/sql-pg/PgClient"
import { Duration, Effect, Option, Redacted, Stream } from "effect"
import type { ClientConfig } from "pg"

/** The `pg` client settings for a LISTEN connection of this `PgClient` (as its pool's). */
const clientConfig = (config: PgClientConfig): ClientConfig => ({
  connectionString: config.url === undefined ? undefined : Redacted.value(config.url),
  host: config.host,
  port: config.port,
  database: config.database,
  user: config.username,
  password: config.password === undefined ? undefined : Redacted.value(config.password),
  ssl: config.ssl,
  ...(config.stream === undefined ? {} : { stream: config.stream }),
  connectionTimeoutMillis: config.connectTimeout === undefined ? undefined : Duration.toMillis(config.connectTimeout),
  application_name: config.applicationName ?? "@effect/sql-pg",
  types: config.types,
  // TCP keepalive from 10 s of silence: a connection whose peer vanished
  // without a word is closed by the system in the end (the listener's
  // probes find it out much sooner, and the stream's end cuts it then)
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000
})

const failure = (message: string) => (cause: unknown) => new SqlError({ cause, message })

const importDriver = () => import("pg")

/** The `pg` driver (its default export). @internal */
export type Driver = Awaited<ReturnType<typeof importDriver>>["default"]

/** Loads the `pg` driver; fails with the import's error when it cannot be resolved. @internal */
export const load: Effect.Effect<Driver, unknown> = Effect.map(
  Effect.tryPromise({ try: importDriver, catch: (cause) => cause }),
  (module) => module.default
)

/**
 * The payloads of the notifications on `channel`, on a connection of its
 * own for as long as the stream runs. Fails when the connection cannot be
 * opened, errors or closes.
 *
 * @internal
 */
export const listen = (pg: Driver, config: PgClientConfig, channel: string): Stream.Stream<string, SqlError> =>
  Stream.asyncPush<string, SqlError>((emit) =>
    Effect.gen(function* () {
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const client = new pg.Client(clientConfig(config))
          // attached before connecting and never removed: no error of this
          // connection is ever emitted without a handler
          client.on("error", (cause) => emit.fail(failure("the LISTEN connection failed")(cause)))
          client.on("end", () => emit.fail(failure("the LISTEN connection closed")(undefined)))
          return client
        }),
        (client) =>
          Effect.tryPromise(() => client.end()).pipe(
            Effect.ignore,
            Effect.interruptible,
            Effect.timeoutOption(Duration.seconds(1)),
            // a connection that does not answer its goodbye (gone silent) is cut
            Effect.flatMap((ended) =>
              Option.isNone(ended) ? Effect.sync(() => client.connection.stream.destroy()) : Effect.void
            )
          )
      )
      yield* Effect.tryPromise({ try: () => client.connect(), catch: failure("LISTEN could not connect") })
      client.on("notification", (message) => {
        if (message.channel === channel && message.payload !== undefined) emit.single(message.payload)
      })
      yield* Effect.tryPromise({
        try: () => client.query(`LISTEN ${pg.escapeIdentifier(channel)}`),
        catch: failure("LISTEN failed")
      })
    })
  )
