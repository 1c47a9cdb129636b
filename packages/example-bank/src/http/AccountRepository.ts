/**
 * The server's one repository of accounts: every request goes through the
 * same `Repository` (built once, when the server starts), so its state cache
 * serves them all. A command on a cached account appends at once, without
 * reading the stream first; correctness does not depend on the cache (see
 * `Repository.Options.cache`), also with other processes writing to the same
 * store. Snapshots are written in the background every
 * `Bank.snapshotEvery` events, when a `SnapshotStore` is provided.
 *
 * @since 0.5.0
 */
import { type EventStore, Repository, SnapshotStore } from "@chronicle/core"
import { Context, Layer } from "effect"
import * as Account from "../Account.js"
import * as Bank from "../Bank.js"

/**
 * How many accounts the server keeps in memory (least recently used ones
 * are dropped first).
 *
 * @since 0.5.0
 * @category constants
 */
export const cacheCapacity = 10_000

/**
 * The account repository of the server.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AccountRepository } from "@chronicle/example-bank/http"
 *
 * const balance = Effect.flatMap(AccountRepository.AccountRepository, (accounts) => accounts.load("alice"))
 * ```
 * @since 0.5.0
 * @category services
 */
export class AccountRepository extends Context.Tag("@chronicle/example-bank/http/AccountRepository")<
  AccountRepository,
  Repository.Repository<Account.AccountState, Account.AccountEvent, Account.AccountCommand, Account.AccountError>
>() {}

/**
 * The repository over the `EventStore` (and the `SnapshotStore`, if any) in
 * context.
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
export const layer: Layer.Layer<AccountRepository, never, EventStore.EventStore> = Layer.effect(
  AccountRepository,
  Repository.make(Account.Account, {
    cache: { capacity: cacheCapacity },
    snapshots: { strategy: SnapshotStore.every(Bank.snapshotEvery), mode: "background" }
  })
)
