/**
 * The transfers read model: one row per transfer (accounts, amount, the
 * transfer's own status and the reason of a failure, where it was requested
 * in the global order, and its last version and position), folded from the
 * Transfer events with the aggregate's own `evolve`, and its queries
 * `transferRow` and `transferRows` (pages in the order requested).
 *
 * The row holds the transfer's own status (`pending`, `approved`,
 * `completed`, `failed`), not its saga's: the saga's run is read from its
 * journal for the transfers a page shows (see `http/TransferList.ts`).
 *
 * @since 0.7.0
 */
import { Position, Projection, StreamId } from "@chronicle/core"
import { SqlClient } from "@effect/sql"
import { Effect, Option, type ParseResult, Schema } from "effect"
import * as Transfer from "../Transfer.js"
import { type HandlerError, Integer, readModelTables, tableName } from "./Tables.js"

/**
 * A transfer's own status, as its events leave it.
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * const open: ReadonlyArray<Projections.TransferRowStatus> = ["pending", "approved"]
 * const unsettled = Projections.transferRows({ statuses: open, limit: 50 })
 * ```
 * @since 0.7.0
 * @category models
 */
export type TransferRowStatus = "pending" | "approved" | "completed" | "failed"

/**
 * One row of the transfers read model.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Money, Projections } from "@chronicle/example-bank"
 *
 * const line = (row: Projections.TransferRow) =>
 *   `${row.transferId}: ${row.from} -> ${row.to}, ${Money.format(row.amount)}, ${row.status}${Option.match(row.reason, { onNone: () => "", onSome: (reason) => ` (${reason})` })}`
 * const page = Effect.map(Projections.transferRows({ limit: 20 }), (rows) => rows.map(line))
 * ```
 * @since 0.7.0
 * @category models
 */
export interface TransferRow {
  readonly transferId: string
  readonly from: string
  readonly to: string
  readonly amount: number
  readonly status: TransferRowStatus
  /** Why it failed, once it did. */
  readonly reason: Option.Option<string>
  /** The position of its `TransferRequested` event: rows are listed in this order. */
  readonly requestedAt: Position.Position
  /** The version of the transfer's last event applied. */
  readonly lastVersion: number
  /** The position of the transfer's last event applied. */
  readonly lastPosition: Position.Position
}

/** pg returns BIGINT columns as strings, SQLite as numbers. */
const BigIntColumn = Schema.Union(Schema.BigIntFromNumber, Schema.BigInt)

const TransferRowColumns = Schema.Struct({
  transfer_id: Schema.String,
  from_account: Schema.String,
  to_account: Schema.String,
  amount: Integer,
  status: Schema.Literal("pending", "approved", "completed", "failed"),
  reason: Schema.NullOr(Schema.String),
  requested_commit: BigIntColumn,
  requested_sequence: BigIntColumn,
  last_version: Integer,
  last_position: Position.FromString
})

const columns =
  "transfer_id, from_account, to_account, amount, status, reason, requested_commit, requested_sequence, last_version, last_position"

const toRow = (row: typeof TransferRowColumns.Type): TransferRow => ({
  transferId: row.transfer_id,
  from: row.from_account,
  to: row.to_account,
  amount: row.amount,
  status: row.status,
  reason: Option.fromNullable(row.reason),
  requestedAt: Position.make(row.requested_commit, row.requested_sequence),
  lastVersion: row.last_version,
  lastPosition: row.last_position
})

const decodeRows = (rows: unknown): Effect.Effect<ReadonlyArray<TransferRow>, ParseResult.ParseError> =>
  Effect.map(Schema.decodeUnknown(Schema.Array(TransferRowColumns))(rows), (decoded) => decoded.map(toRow))

/**
 * The transfer's state as the aggregate folds it, from its row.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Position } from "@chronicle/core"
 * import { Projections } from "@chronicle/example-bank"
 *
 * Projections.transferStateOf({
 *   transferId: "t-1", from: "alice", to: "bob", amount: 2500, status: "pending", reason: Option.none(),
 *   requestedAt: Position.make(0n, 7n), lastVersion: 1, lastPosition: Position.make(0n, 7n)
 * }) // { status: "pending", from: "alice", to: "bob", amount: 2500 }
 * ```
 * @since 0.7.0
 * @category models
 */
export const transferStateOf = (row: TransferRow): Exclude<Transfer.TransferState, { readonly status: "none" }> =>
  Option.match(row.reason, {
    onNone: () => ({ status: row.status, from: row.from, to: row.to, amount: row.amount }),
    onSome: (reason) => ({ status: row.status, from: row.from, to: row.to, amount: row.amount, reason })
  })

const transfersTable = "transfers"

/** The category of the transfers' streams. */
const category = Transfer.Transfer.name

/**
 * Transfers: one row per transfer, folded with the aggregate's own `evolve`
 * from the row it holds, keyed by the transfer id (`Transfer-<id>`
 * streams). Events at or below the row's last version are skipped, so a
 * batch applied twice changes nothing. A batch costs two statements: one
 * SELECT of the batch's transfers and one multi-row upsert. Rows are listed
 * in the order the transfers were requested (the position of their
 * `TransferRequested`), through an index on it.
 *
 * @example
 * ```ts
 * import { ProjectionAdmin } from "@chronicle/core"
 * import { Stream } from "effect"
 * import { Projections } from "@chronicle/example-bank"
 *
 * const refresh = ProjectionAdmin.catchUp(Projections.Transfers).pipe(Stream.runDrain)
 * ```
 * @since 0.7.0
 * @category projections
 */
export const Transfers: Projection.Projection<Transfer.TransferEvent, HandlerError, SqlClient.SqlClient> =
  Projection.make({
    name: "transfers",
    version: 1,
    from: Transfer.Transfer,
    categories: [category],
    ...readModelTables([
      {
        base: transfersTable,
        create: (sql, table) =>
          Effect.zipRight(
            sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
        transfer_id TEXT PRIMARY KEY,
        from_account TEXT NOT NULL,
        to_account TEXT NOT NULL,
        amount BIGINT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        requested_commit BIGINT NOT NULL,
        requested_sequence BIGINT NOT NULL,
        last_version INTEGER NOT NULL,
        last_position TEXT NOT NULL)`,
            sql`CREATE INDEX IF NOT EXISTS ${sql(`${table}_requested`)}
        ON ${sql(table)} (requested_commit, requested_sequence)`
          )
      }
    ]),
    handleBatch: (events, context) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const table = tableName(transfersTable, context.version)
        const ids = [...new Set(events.map((e) => StreamId.aggregateId(e.streamId)))]
        if (ids.length === 0) return
        const current = new Map(
          (yield* decodeRows(
            yield* sql`SELECT ${sql.literal(columns)} FROM ${sql(table)}
            WHERE ${sql.in("transfer_id", ids)}`
          )).map((row) => [row.transferId, row])
        )
        const changed = new Map<string, TransferRow>()
        for (const recorded of events) {
          const transferId = StreamId.aggregateId(recorded.streamId)
          const before = changed.get(transferId) ?? current.get(transferId)
          // Applied already (a replayed batch): skip.
          if (before !== undefined && recorded.version <= before.lastVersion) continue
          const state = Transfer.evolve(
            before === undefined ? Transfer.initialState : transferStateOf(before),
            recorded.event
          )
          if (state.status === "none") continue
          changed.set(transferId, {
            transferId,
            from: state.from,
            to: state.to,
            amount: state.amount,
            status: state.status,
            reason: Option.fromNullable(state.reason),
            requestedAt: before?.requestedAt ?? recorded.position,
            lastVersion: recorded.version,
            lastPosition: recorded.position
          })
        }
        if (changed.size === 0) return
        const values = [...changed.values()].map((row) => ({
          transfer_id: row.transferId,
          from_account: row.from,
          to_account: row.to,
          amount: row.amount,
          status: row.status,
          reason: Option.getOrNull(row.reason),
          // As text: SQLite stores it as an integer (the column's affinity), PostgreSQL casts it.
          requested_commit: `${row.requestedAt.commit}`,
          requested_sequence: `${row.requestedAt.sequence}`,
          last_version: row.lastVersion,
          last_position: Position.encode(row.lastPosition)
        }))
        yield* sql`INSERT INTO ${sql(table)} ${sql.insert(values)}
        ON CONFLICT (transfer_id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
          last_version = excluded.last_version, last_position = excluded.last_position`
      })
  })

const table = (sql: SqlClient.SqlClient) => sql(tableName(transfersTable, Transfers.version))

/**
 * One transfer from the transfers read model, if it holds it. It reads the
 * table as it is (see {@link transferRows}).
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * const row = Projections.transferRow("t-1")
 * ```
 * @since 0.7.0
 * @category queries
 */
export const transferRow = Effect.fn("Bank.Projections.transferRow")(function* (transferId: string) {
  const sql = yield* SqlClient.SqlClient
  yield* Transfers.setup(Transfers)
  const rows = yield* decodeRows(
    yield* sql`SELECT ${sql.literal(columns)} FROM ${table(sql)} WHERE transfer_id = ${transferId}`
  )
  return Option.fromNullable(rows[0])
})

/**
 * A page of the transfers read model, in the order requested: at most
 * `limit` rows requested after the transfer `after` (from the first when
 * none; none when `after` is not in the table), optionally only those whose
 * own status is one of `statuses`. Keyset pagination on the requested
 * position, through the table's index: the cost of a page does not grow
 * with the number of transfers before it. It reads the table as it is:
 * bring it up to date first (`ProjectionAdmin.catchUp(Projections.Transfers)`,
 * `Projection.waitFor`) or run the projection.
 *
 * @example
 * ```ts
 * import { Projections } from "@chronicle/example-bank"
 *
 * const failed = Projections.transferRows({ statuses: ["failed"], limit: 50 })
 * ```
 * @since 0.7.0
 * @category queries
 */
export const transferRows = Effect.fn("Bank.Projections.transferRows")(function* (options: {
  readonly after?: string | undefined
  readonly statuses?: ReadonlyArray<TransferRowStatus> | undefined
  readonly limit: number
}) {
  const sql = yield* SqlClient.SqlClient
  yield* Transfers.setup(Transfers)
  const t = table(sql)
  const byStatus = options.statuses === undefined ? sql`` : sql`AND ${sql.in("r.status", [...options.statuses])}`
  const rows =
    options.after === undefined
      ? yield* sql`SELECT ${sql.literal(columns)} FROM ${t} r WHERE 1 = 1 ${byStatus}
          ORDER BY r.requested_commit, r.requested_sequence LIMIT ${options.limit}`
      : yield* sql`SELECT ${sql.literal(
          columns
            .split(", ")
            .map((c) => `r.${c}`)
            .join(", ")
        )}
          FROM ${t} r, (SELECT requested_commit, requested_sequence FROM ${t} WHERE transfer_id = ${options.after}) c
          WHERE (r.requested_commit > c.requested_commit
            OR (r.requested_commit = c.requested_commit AND r.requested_sequence > c.requested_sequence)) ${byStatus}
          ORDER BY r.requested_commit, r.requested_sequence LIMIT ${options.limit}`
  return yield* decodeRows(rows)
})
