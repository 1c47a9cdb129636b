/**
 * The server's one repository of accounts (the `Bank.Accounts` service):
 * every request goes through the same `Repository` (built once, when the
 * server starts), so its state cache
 * serves them all. A command on a cached account appends at once, without
 * reading the stream first; correctness does not depend on the cache (see
 * `Repository.Options.cache`), also with other processes writing to the same
 * store. Snapshots are written in the background every
 * `Bank.snapshotEvery` events, when a `SnapshotStore` is provided.
 *
 * @since 0.5.0
 */
import { type EventStore, Repository, SnapshotStore } from "@chronicle/core"
import { Effect, Layer, Schedule } from "effect"
import * as Account from "../Account.js"
import * as Bank from "../Bank.js"

/**
 * How many accounts the server keeps in memory (least recently used ones
 * are dropped first).
 *
 * @example
 * ```ts
 * import { Repository } from "@chronicle/core"
 * import { Account } from "@chronicle/example-bank"
 * import { AccountRepository } from "@chronicle/example-bank/http"
 *
 * AccountRepository.cacheCapacity // 10000
 * const accounts = Repository.make(Account.Account, { cache: { capacity: AccountRepository.cacheCapacity } })
 * ```
 * @since 0.5.0
 * @category constants
 */
export const cacheCapacity = 10_000

/**
 * How long a command without `If-Match` keeps deciding again after
 * concurrency conflicts (many clients writing to one account) before the
 * server answers 409: the repository's default backoff (from 2 ms, capped at
 * 25 ms, jittered), for up to 10 seconds rather than 40 retries.
 *
 * @example
 * ```ts
 * import { AccountRepository } from "@chronicle/example-bank/http"
 *
 * const patience = AccountRepository.conflictRetry
 * ```
 * @since 0.6.0
 * @category layers
 */
export const conflictRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("2 millis", 1.5).pipe(
  Schedule.union(Schedule.spaced("25 millis")),
  Schedule.jittered,
  Schedule.upTo("10 seconds")
)

/**
 * The server's `Bank.Accounts` (the bank's repository service, so the use
 * cases of `Bank` run through it too) over the `EventStore` (and the
 * `SnapshotStore`, if any) in context: with snapshots in the background
 * rather than inline, a state cache of {@link cacheCapacity} accounts, and
 * conflicts retried for up to 10 seconds ({@link conflictRetry}).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { BankStore } from "@chronicle/example-bank"
 * import { AccountRepository } from "@chronicle/example-bank/http"
 *
 * const accounts = AccountRepository.layer.pipe(Layer.provide(BankStore.layer({ _tag: "Memory" })))
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer: Layer.Layer<Bank.Accounts, never, EventStore.EventStore> = Layer.effect(
  Bank.Accounts,
  Repository.make(Account.Account, {
    cache: { capacity: cacheCapacity },
    retry: conflictRetry,
    snapshots: { strategy: SnapshotStore.every(Bank.snapshotEvery), mode: "background" }
  }).pipe(
    // Constant options, valid (every server test builds this layer): a RepositoryOptionsError here is a bug.
    Effect.orDie
  )
)
