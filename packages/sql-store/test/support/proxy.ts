/**
 * A TCP proxy in front of PostgreSQL, for failures a test must cause at an
 * exact moment:
 *
 * - `dropAnswerTo(text)`: the next request whose bytes contain `text` is
 *   forwarded whole, and the server's answer is never delivered: the
 *   connection is cut when the first byte of the answer arrives (the server
 *   flushes an implicit transaction's answer only after its COMMIT, so the
 *   request has taken effect). The returned Deferred completes then.
 * - `refuse(true)`: new connections are cut at once (a server that is down);
 * - `cutAll()`: every open connection is cut (a network failure);
 * - `silence(text)`: every open connection whose client has sent `text`
 *   goes silent: nothing more is forwarded either way, and neither end is
 *   told (a NAT or firewall that dropped the connection's state).
 *
 * `url(schema)` is a connection string through the proxy, on a schema.
 * (Imported as `TcpProxy`: `Proxy` is a global.)
 */
import * as Net from "node:net"
import { Deferred, Effect } from "effect"
import { databaseUrl } from "./postgres.js"

export interface Proxy {
  readonly port: number
  readonly url: (schema: string) => string
  readonly dropAnswerTo: (
    text: string,
    options?: { readonly thenRefuse?: boolean }
  ) => Effect.Effect<Deferred.Deferred<void>>
  readonly refuse: (refusing: boolean) => Effect.Effect<void>
  readonly cutAll: Effect.Effect<number>
  /** Silences the open connections whose client sent `text`; returns how many. */
  readonly silence: (text: string) => Effect.Effect<number>
  /** Client connections open through the proxy. */
  readonly open: Effect.Effect<number>
}

interface Armed {
  readonly text: string
  readonly thenRefuse: boolean
  readonly fired: Deferred.Deferred<void>
}

/** A proxy to the test server, closed with the scope. */
export const make = Effect.acquireRelease(
  Effect.async<{ readonly server: Net.Server; readonly proxy: Proxy }>((resume) => {
    const upstream = new URL(databaseUrl)
    // each open connection: its two sockets, what its client sent (its first 64 KiB), and whether it is silenced
    const connections = new Set<{
      readonly client: Net.Socket
      readonly backend: Net.Socket
      sent: string
      silent: boolean
    }>()
    const destroy = (connection: { readonly client: Net.Socket; readonly backend: Net.Socket }) => {
      connection.client.destroy()
      connection.backend.destroy()
    }
    let refusing = false
    let armed: Armed | undefined

    const server = Net.createServer((client) => {
      if (refusing) {
        client.destroy()
        return
      }
      const backend = Net.connect({ host: upstream.hostname, port: Number(upstream.port || 5432) })
      const connection = { client, backend, sent: "", silent: false }
      connections.add(connection)
      let doomed: Armed | undefined
      let tail = ""
      const close = () => {
        destroy(connection)
        connections.delete(connection)
      }
      client.on("error", close)
      backend.on("error", close)
      client.on("close", close)
      backend.on("close", close)
      client.on("data", (chunk: Buffer) => {
        if (connection.silent) return
        if (connection.sent.length < 65_536) connection.sent += chunk.toString("latin1")
        const text = tail + chunk.toString("latin1")
        tail = text.slice(-256)
        if (armed !== undefined && doomed === undefined && text.includes(armed.text)) {
          doomed = armed
          armed = undefined
        }
        backend.write(chunk)
      })
      backend.on("data", (chunk: Buffer) => {
        if (connection.silent) return
        if (doomed !== undefined) {
          const fired = doomed
          close()
          if (fired.thenRefuse) {
            // the server "stays down": every other connection goes too
            refusing = true
            for (const other of connections) destroy(other)
            connections.clear()
          }
          Deferred.unsafeDone(fired.fired, Effect.void)
          return
        }
        client.write(chunk)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const proxy: Proxy = {
        port,
        url: (schema) => {
          const url = new URL(databaseUrl)
          url.hostname = "127.0.0.1"
          url.port = String(port)
          url.searchParams.set("options", `-c search_path=${schema}`)
          return url.toString()
        },
        dropAnswerTo: (text, options) =>
          Effect.flatMap(Deferred.make<void>(), (fired) =>
            Effect.sync(() => {
              armed = { text, thenRefuse: options?.thenRefuse ?? false, fired }
              return fired
            })
          ),
        refuse: (value) =>
          Effect.sync(() => {
            refusing = value
          }),
        open: Effect.sync(() => connections.size),
        silence: (text) =>
          Effect.sync(() => {
            let count = 0
            for (const connection of connections) {
              if (!connection.silent && connection.sent.includes(text)) {
                connection.silent = true
                count++
              }
            }
            return count
          }),
        cutAll: Effect.sync(() => {
          const count = connections.size * 2 // sockets: two a connection
          for (const connection of connections) destroy(connection)
          connections.clear()
          return count
        })
      }
      resume(Effect.succeed({ server, proxy }))
    })
  }),
  ({ server, proxy }) =>
    Effect.zipRight(
      proxy.cutAll,
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
    )
).pipe(Effect.map(({ proxy }) => proxy))
