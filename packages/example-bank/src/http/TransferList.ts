/**
 * The list of transfers for `GET /api/transfers` and `pnpm bank transfers`:
 * the transfers read model (`Projections.Transfers`), one page at a time in
 * the order requested (keyset pagination on the requested position: the
 * cursor is a transfer, and a transfer whose status changed between pages
 * moves no other), joined with the saga's status of only the transfers the
 * page reads (`SagaAdmin.status`, one journal each).
 *
 * A `status` filter is on the status shown (the saga's once it has picked
 * the transfer up, see `TransferModels.statusOf`). The read model narrows
 * the rows first by the transfer's own status where the shown status
 * implies it ({@link candidates}); each candidate's saga is then read and
 * the rows whose shown status differs are skipped, reading on until the
 * page is full, the table ends, or {@link scanLimit} candidates were read:
 * then the page holds the matches found so far, possibly none, and `next`
 * continues after the last row read. So a filter that matches few of many
 * transfers costs a bounded amount per page, and a page can be short
 * without being the last: a page is the last when `next` is none.
 *
 * @since 0.7.0
 */
import { SagaAdmin } from "@chronicle/core"
import { Effect, Option } from "effect"
import * as Projections from "../Projections.js"
import * as TransferModels from "./TransferModels.js"

/**
 * The name of the Transfer saga (`TransferSaga.name`), spelled here so that
 * listing transfers does not load the saga's module and its workflow engine.
 *
 * @example
 * ```ts
 * import { SagaAdmin } from "@chronicle/core"
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * const status = SagaAdmin.status(TransferList.sagaName, "t-1") // the saga of transfer t-1
 * ```
 * @since 0.7.0
 * @category constants
 */
export const sagaName = "Transfer"

/**
 * A transfer as a page lists it: its row in the read model and its saga's
 * status (none while the saga has not picked it up).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * const line = ({ row, saga }: TransferList.Listed) =>
 *   `${row.transferId}: ${Option.match(saga, { onNone: () => "not picked up yet", onSome: (status) => status.state })}`
 * const lines = Effect.map(TransferList.page({ limit: 20 }), (page) => page.items.map(line))
 * ```
 * @since 0.7.0
 * @category models
 */
export interface Listed {
  readonly row: Projections.TransferRow
  readonly saga: Option.Option<SagaAdmin.Status>
}

/**
 * The own statuses (the transfer's events') a transfer shown with `status`
 * can have, or `undefined` for all of them:
 *
 * - `requested`: the saga has not picked it up, so it has not ended;
 * - `completed`, `failed`: the transfer's own end is recorded before the
 *   saga's;
 * - `awaiting-approval`, `compensating`, `compensation-failed`, `running`:
 *   not `completed` (nothing runs or is compensated after the last step;
 *   `failed` stays, as a failed transfer's saga may be retried).
 *
 * One case is left out by design: a transfer whose last step (`complete`)
 * has just been recorded, the saga's end not yet, shows `running` for that
 * moment but is not listed under `running`.
 *
 * @example
 * ```ts
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * TransferList.candidates("completed") // ["completed"]
 * ```
 * @since 0.7.0
 * @category queries
 */
export const candidates = (status: TransferModels.TransferStatus): ReadonlyArray<Projections.TransferRowStatus> => {
  switch (status) {
    case "requested":
      return ["pending", "approved"]
    case "completed":
      return ["completed"]
    case "failed":
      return ["failed"]
    case "running":
    case "awaiting-approval":
    case "compensating":
    case "compensation-failed":
      return ["pending", "approved", "failed"]
  }
}

/**
 * The status a listed transfer shows.
 *
 * @example
 * ```ts
 * import { Position } from "@chronicle/core"
 * import { Option } from "effect"
 * import type { Projections } from "@chronicle/example-bank"
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * const row: Projections.TransferRow = {
 *   transferId: "t-1", from: "a", to: "b", amount: 5, status: "pending", reason: Option.none(),
 *   requestedAt: Position.make(0n, 1n), lastVersion: 1, lastPosition: Position.make(0n, 1n)
 * }
 * TransferList.shownStatus({ row, saga: Option.none() }) // "requested"
 * ```
 * @since 0.7.0
 * @category queries
 */
export const shownStatus = (listed: Listed): TransferModels.TransferStatus =>
  TransferModels.statusOf(listed.row.status, listed.saga)

/**
 * A listed transfer in the API's form.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * const items = Effect.map(TransferList.page({ limit: 20 }), (page) => page.items.map(TransferList.summary))
 * ```
 * @since 0.7.0
 * @category queries
 */
export const summary = (listed: Listed): TransferModels.TransferSummary =>
  TransferModels.summary(listed.row.transferId, Projections.transferStateOf(listed.row), listed.saga)

/** How many sagas a page reads at once. */
const concurrency = 4

/**
 * The most candidate rows one filtered page reads (and joins with their
 * sagas, one journal each) before it answers with what it found: a page of
 * a rare status over a long history costs at most this many saga reads,
 * and the client continues with `next`.
 *
 * @example
 * ```ts
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * TransferList.scanLimit // 500
 * ```
 * @since 0.7.0
 * @category constants
 */
export const scanLimit = 500

const withSagas = (rows: ReadonlyArray<Projections.TransferRow>) =>
  Effect.forEach(
    rows,
    (row) => Effect.map(SagaAdmin.status(sagaName, row.transferId), (saga): Listed => ({ row, saga })),
    { concurrency }
  )

/**
 * A page of transfers in the order requested: at most `limit` transfers
 * requested after the transfer `after` (from the first when none), of one
 * shown `status` when given, each with its saga's status, and the transfer
 * to continue after when there are more. With a `status`, a page reads at
 * most `scan` candidate rows (default {@link scanLimit}, and never fewer
 * than `limit + 1`): past that it
 * answers with the matches so far (fewer than `limit`, maybe none) and a
 * `next`, so only a page without `next` says that nothing more matches.
 * `after` must be a transfer of the read model: check it with
 * `Projections.transferRow` first (a page after an unknown transfer is
 * empty). It reads the read model as it is.
 *
 * @example
 * ```ts
 * import { TransferList } from "@chronicle/example-bank/http"
 *
 * const waiting = TransferList.page({ status: "awaiting-approval", limit: 50 })
 * ```
 * @since 0.7.0
 * @category queries
 */
export const page = Effect.fn("Bank.TransferList.page")(function* (options: {
  readonly after?: string | undefined
  readonly status?: TransferModels.TransferStatus | undefined
  readonly limit: number
  /** With a `status`: the most candidate rows this page reads (default {@link scanLimit}, at least `limit + 1`). */
  readonly scan?: number | undefined
}) {
  const { limit, status } = options
  if (status === undefined) {
    // Every row is listed: the saga is read for the page's rows only.
    const rows = yield* Projections.transferRows({ after: options.after, limit: limit + 1 })
    const items: ReadonlyArray<Listed> = yield* withSagas(rows.slice(0, limit))
    const last = items[items.length - 1]
    const next = rows.length > limit && last !== undefined ? Option.some(last.row.transferId) : Option.none()
    return { items, next }
  }
  const statuses = candidates(status)
  // a page can always be filled from rows it reads: never fewer than the page's own lookahead
  const scan = Math.max(limit + 1, options.scan ?? scanLimit)
  const matching: Array<Listed> = []
  let after = options.after
  let read = 0
  for (;;) {
    // Never more rows than the scan has left; one more than the page needs tells whether more follow.
    const wanted = Math.min(limit + 1, scan - read)
    const rows = yield* Projections.transferRows({ after, statuses, limit: wanted })
    read += rows.length
    for (const listed of yield* withSagas(rows)) {
      if (shownStatus(listed) === status) matching.push(listed)
    }
    const last = rows[rows.length - 1]
    // a page more than full, or the table ended (fewer rows than asked for)
    if (matching.length > limit || last === undefined || rows.length < wanted) break
    if (read >= scan) {
      // The scan is spent: answer with what matched, and continue after the last row read,
      // which may still be followed by matches (or by nothing: the next page then says so).
      return { items: matching, next: Option.some(last.transferId) }
    }
    after = last.transferId
  }
  const items: ReadonlyArray<Listed> = matching.slice(0, limit)
  const last = items[items.length - 1]
  const next = matching.length > limit && last !== undefined ? Option.some(last.row.transferId) : Option.none()
  return { items, next }
})
