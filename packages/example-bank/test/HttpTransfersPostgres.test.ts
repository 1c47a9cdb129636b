/**
 * The transfer routes of the bank's HTTP API on PostgreSQL: the shared
 * suite (`support/transfers.ts`) against a server on a database of its own
 * (the workflow engine's shard locks are per database, see
 * `support/database.ts`). Skipped with a notice when PostgreSQL is
 * unreachable and CI is unset.
 */
import { describe } from "@effect/vitest"
import { Effect, Exit, Redacted, Scope } from "effect"
import { BankStore } from "../src/index.js"
import * as Database from "./support/database.js"
import * as Postgres from "./support/postgres.js"
import * as Server from "./support/server.js"
import { sagaOptions, transferSuite } from "./support/transfers.js"

describe.skipIf(!Postgres.available)("on PostgreSQL", () => {
  transferSuite("transfers over HTTP on PostgreSQL", async () => {
    const scope = Effect.runSync(Scope.make())
    const url = await Effect.runPromise(Scope.extend(Database.fresh, scope))
    const server = await Server.start(BankStore.layer({ _tag: "Postgres", url: Redacted.make(url) }), {
      transfers: sagaOptions
    })
    return {
      server,
      stop: async () => {
        await server.close()
        await Effect.runPromise(Scope.close(scope, Exit.void))
      }
    }
  })
})
