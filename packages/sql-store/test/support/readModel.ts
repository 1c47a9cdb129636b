/**
 * A SQL read model for the projection tests: per-wallet totals, plus one row
 * per applied event (no unique key, so a double application shows up), both
 * written by the handler through the `SqlClient`, in tables named after the
 * projection's name and version.
 */
import { Projection } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { Effect, Ref, Schema } from "effect"
import { Wallet, type WalletEvent } from "./Wallet.js"

export const totalsTable = (name: string, version: number) => `${name}_v${version}_totals`
export const appliedTable = (name: string, version: number) => `${name}_v${version}_applied`

export const amountOf = (event: WalletEvent): number =>
  event._tag === "Deposited" ? event.amount : event._tag === "Withdrawn" ? -event.amount : 0

export const make = (options?: {
  readonly name?: string
  readonly version?: number
  readonly owner?: string
  /** The handler fails (after its write) on these amounts while broken, with bad data. */
  readonly failOn?: (amount: number) => boolean
  /** Runs after the write, before the checkpoint. */
  readonly onApply?: Effect.Effect<void>
  readonly setup?: Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const broken = yield* Ref.make(options?.failOn !== undefined)
    const projection = Projection.make({
      name: options?.name ?? "totals",
      version: options?.version ?? 1,
      from: Wallet,
      categories: ["Wallet"],
      setup: (context) =>
        Effect.gen(function* () {
          if (options?.setup !== undefined) yield* options.setup
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABLE IF NOT EXISTS ${sql(totalsTable(context.name, context.version))} (
            stream_id TEXT PRIMARY KEY, total INTEGER NOT NULL, events INTEGER NOT NULL)`
          yield* sql`CREATE TABLE IF NOT EXISTS ${sql(appliedTable(context.name, context.version))} (
            event_id TEXT NOT NULL, stream_id TEXT NOT NULL, amount INTEGER NOT NULL, processed_by TEXT NOT NULL)`
        }),
      reset: (context) =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`DELETE FROM ${sql(totalsTable(context.name, context.version))}`
          yield* sql`DELETE FROM ${sql(appliedTable(context.name, context.version))}`
        }),
      teardown: (context) =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql`DROP TABLE IF EXISTS ${sql(totalsTable(context.name, context.version))}`
          yield* sql`DROP TABLE IF EXISTS ${sql(appliedTable(context.name, context.version))}`
        }),
      handle: (recorded, context) =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const amount = amountOf(recorded.event)
          yield* sql`INSERT INTO ${sql(appliedTable(context.name, context.version))}
            (event_id, stream_id, amount, processed_by)
            VALUES (${recorded.eventId}, ${recorded.streamId}, ${amount}, ${options?.owner ?? "test"})`
          if ((yield* Ref.get(broken)) && options?.failOn?.(amount)) {
            return yield* Effect.fail(`cannot apply ${amount}`)
          }
          yield* sql`INSERT INTO ${sql(totalsTable(context.name, context.version))} (stream_id, total, events)
            VALUES (${recorded.streamId}, ${amount}, 1)
            ON CONFLICT (stream_id) DO UPDATE SET total = ${sql(totalsTable(context.name, context.version))}.total + excluded.total,
              events = ${sql(totalsTable(context.name, context.version))}.events + 1`
          if (options?.onApply !== undefined) yield* options.onApply
        }),
      // "cannot apply" is the event's fault: no retry helps (any other error is a passing fault)
      isBadData: (error) => typeof error === "string" && error.startsWith("cannot apply")
    })
    return { projection, fix: Ref.set(broken, false) }
  })

const TotalsRows = Schema.Array(
  Schema.Struct({ stream_id: Schema.String, total: Schema.Number, events: Schema.Number })
)
const AppliedRows = Schema.Array(Schema.Struct({ event_id: Schema.String, processed_by: Schema.String }))

/** The totals table as a map from stream to [total, events]. */
export const totals = (name: string, version: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT stream_id, total, events FROM ${sql(totalsTable(name, version))}`
    const decoded = yield* Schema.decodeUnknown(TotalsRows)(rows)
    return new Map(decoded.map((r) => [r.stream_id, [r.total, r.events] as const]))
  })

/** How often each event was applied, in the order of application. */
export const applied = (name: string, version: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql`SELECT event_id, processed_by FROM ${sql(appliedTable(name, version))}`
    return yield* Schema.decodeUnknown(AppliedRows)(rows)
  })
