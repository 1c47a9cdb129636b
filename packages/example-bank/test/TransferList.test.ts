/**
 * `TransferList.page` with a `status` filter reads a bounded number of
 * candidate rows per page: a status that none of many transfers shows
 * (here `running`, with no saga run: every candidate shows `requested` or
 * `failed`) is answered in short pages, each with a `next` that continues
 * after the last row read, until a page without `next`; together the pages
 * cover every row once. A filter that matches fills its page as before.
 * On the bank's SQLite-in-memory store, the transfers read model caught up,
 * no saga.
 */
import { ProjectionAdmin, Repository } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import { TransferList } from "../src/http/index.js"
import { BankStore, Projections, Transfer } from "../src/index.js"

/** Twelve transfers requested in order (`t-01` … `t-12`); `t-04` and `t-08` failed, the others pending. */
const requestTwelve = Effect.gen(function* () {
  const transfers = yield* Repository.make(Transfer.Transfer)
  const ids = Array.from({ length: 12 }, (_, i) => `t-${String(i + 1).padStart(2, "0")}`)
  for (const transferId of ids) {
    yield* transfers.execute(
      transferId,
      new Transfer.RequestTransfer({ transferId, from: "alice", to: "bob", amount: 100 })
    )
  }
  for (const transferId of ["t-04", "t-08"]) {
    yield* transfers.execute(transferId, new Transfer.FailTransfer({ transferId, reason: "cannot withdraw 1.00" }))
  }
  yield* ProjectionAdmin.catchUp(Projections.Transfers, { waitForLease: "5 seconds" }).pipe(Stream.runDrain)
  return ids
})

const ids = (page: { readonly items: ReadonlyArray<TransferList.Listed> }) =>
  page.items.map((listed) => listed.row.transferId)

describe("TransferList.page", () => {
  it.live("a status that no transfer shows is answered in bounded pages that continue to the end", () =>
    Effect.gen(function* () {
      yield* requestTwelve
      // limit 2, scan 5: each page reads 5 candidate rows at most (3, then 2)
      const first = yield* TransferList.page({ status: "running", limit: 2, scan: 5 })
      expect(ids(first)).toEqual([])
      expect(first.next).toEqual(Option.some("t-05"))
      const second = yield* TransferList.page({ status: "running", limit: 2, scan: 5, after: "t-05" })
      expect(ids(second)).toEqual([])
      expect(second.next).toEqual(Option.some("t-10"))
      // two rows left, fewer than the page's lookahead: the table ended, and nothing more matches
      const last = yield* TransferList.page({ status: "running", limit: 2, scan: 5, after: "t-10" })
      expect(ids(last)).toEqual([])
      expect(last.next).toEqual(Option.none())
      // without a scan as small, one page reads every row and says at once that nothing matches
      const whole = yield* TransferList.page({ status: "running", limit: 2 })
      expect(ids(whole)).toEqual([])
      expect(whole.next).toEqual(Option.none())
    }).pipe(Effect.provide(BankStore.layer({ _tag: "Memory" })))
  )

  it.live("a short page keeps the matches it found, and the next one continues after the last row read", () =>
    Effect.gen(function* () {
      yield* requestTwelve
      // `failed` candidates are the two failed rows only (the read model narrows by own status)
      const failed = yield* TransferList.page({ status: "failed", limit: 5, scan: 6 })
      expect(ids(failed)).toEqual(["t-04", "t-08"])
      expect(failed.next).toEqual(Option.none())
      // `requested`: every pending row matches; a scan below the lookahead is raised to it (limit + 1)
      const requested = yield* TransferList.page({ status: "requested", limit: 3, scan: 1 })
      expect(ids(requested)).toEqual(["t-01", "t-02", "t-03"])
      expect(requested.next).toEqual(Option.some("t-03"))
      // `completed`: no row has that own status, so there is no candidate to read
      const completed = yield* TransferList.page({ status: "completed", limit: 3, scan: 7 })
      expect(ids(completed)).toEqual([])
      expect(completed.next).toEqual(Option.none())
      // the unfiltered list is not bounded by the scan: it pages by `limit` alone
      const all = yield* TransferList.page({ limit: 12, scan: 2 })
      expect(ids(all)).toHaveLength(12)
      expect(all.next).toEqual(Option.none())
    }).pipe(Effect.provide(BankStore.layer({ _tag: "Memory" })))
  )
})
