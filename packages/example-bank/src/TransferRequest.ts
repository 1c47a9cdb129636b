/**
 * Requesting a transfer: `RequestTransfer` on the Transfer aggregate, with
 * the command id `request:<transferId>`. Public as `TransferSaga.request`;
 * it lives here, apart from the saga, so that `Bank.seed` can request
 * transfers without loading the saga's module and its workflow engine (the
 * saga picks the requests up wherever it runs).
 *
 * Internal to the package: not exported from its index.
 *
 * @since 0.7.0
 */
import { Repository } from "@chronicle/core"
import { Effect } from "effect"
import * as Transfer from "./Transfer.js"

/**
 * Transfers above this many cents wait for an approval, unless configured
 * otherwise (`TransferSaga.defaults.approvalAbove`, `BANK_APPROVAL_ABOVE`).
 *
 * @since 0.7.0
 * @category constants
 */
export const defaultApprovalAbove = 100_000

/**
 * Requests a transfer (see `TransferSaga.request`, its public name).
 *
 * @since 0.7.0
 * @category use cases
 */
export const request = Effect.fn("Bank.Transfer.request")(function* (transfer: {
  readonly transferId: string
  readonly from: string
  readonly to: string
  readonly amount: number
}) {
  const transfers = yield* Repository.make(Transfer.Transfer)
  return yield* transfers.execute(transfer.transferId, new Transfer.RequestTransfer(transfer, true), {
    commandId: `request:${transfer.transferId}`
  })
})
