/**
 * Assembles a repository from its parts over the stores in context.
 *
 * @internal
 */
import { Effect, Option, Schema } from "effect"
import type * as Aggregate from "../../Aggregate.js"
import type * as EventCodec from "../../EventCodec.js"
import { EventStore } from "../../EventStore.js"
import type { Options, Repository, RepositoryOptionsError } from "../../Repository.js"
import * as SnapshotStore from "../../SnapshotStore.js"
import type { Context, Model } from "./context.js"
import { execute } from "./execute.js"
import { events, history, load, loadAt } from "./query.js"
import * as StateCache from "./stateCache.js"
import { decodeCommand } from "./validation.js"
import { verify } from "./verify.js"

/** A whole number of 1 or more. */
const isCount = (value: unknown): boolean => typeof value === "number" && Number.isSafeInteger(value) && value >= 1

/**
 * Builds a repository; `defaults` are the public module's, `invalid` builds
 * its error for an invalid option (the class lives in the public module,
 * which imports this one). @internal
 */
export const make = <Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  defaults: {
    readonly retry: Context<S, E, C, Err>["retry"]
    readonly cacheCapacity: number
    readonly pageSize: number
  },
  options: Options<S> | undefined,
  invalid: (option: RepositoryOptionsError["option"], value: unknown) => RepositoryOptionsError
): Effect.Effect<Repository<S, E, C, Err>, RepositoryOptionsError, EventStore> =>
  Effect.gen(function* () {
    // Checked first: nothing is read or logged for a repository that will not be built.
    const pageSize = options?.pageSize ?? defaults.pageSize
    if (!isCount(pageSize)) return yield* invalid("pageSize", pageSize)
    const capacity = options?.cache === false ? undefined : (options?.cache?.capacity ?? defaults.cacheCapacity)
    if (capacity !== undefined && !isCount(capacity)) return yield* invalid("cache.capacity", capacity)
    const model: Model<S, E, C, Err> = {
      name: aggregate.name,
      codec: aggregate.codec,
      initialState: aggregate.initialState,
      evolve: aggregate.evolve,
      decide: aggregate.decide,
      state: aggregate.state,
      encodeCommand: Schema.encodeEither(aggregate.commands),
      decodeCommand: Schema.decodeUnknownEither(aggregate.commands)
    }
    const context: Context<S, E, C, Err> = {
      model,
      store: yield* EventStore,
      snapshotStore: yield* Effect.serviceOption(SnapshotStore.SnapshotStore),
      snapshotStrategy: options?.snapshots?.strategy,
      snapshotMode: options?.snapshots?.mode ?? "background",
      retry: options?.retry ?? defaults.retry,
      pageSize
    }
    const strategy = context.snapshotStrategy
    if (strategy !== undefined && strategy !== SnapshotStore.never) {
      // Asked for snapshots that will never be written: say so once, when the repository is built.
      if (Option.isNone(context.snapshotStore)) {
        yield* Effect.logWarning(
          `Repository of ${aggregate.name}: a snapshot strategy is set but no SnapshotStore is provided, so no snapshot will be written or read (provide a SnapshotStore layer, or drop the strategy)`
        )
      } else if (Option.isNone(aggregate.state)) {
        yield* Effect.logWarning(
          `Repository of ${aggregate.name}: a snapshot strategy is set but the aggregate declares no state Schema, so no snapshot will be written (give Aggregate.make a \`state\`)`
        )
      }
    }
    const cache = StateCache.make<S, E>(capacity)
    return {
      execute: execute(context, cache),
      load: load(context, cache),
      loadAt: loadAt(context),
      history: history(context),
      events: events(context),
      verify: verify(context),
      decodeCommand: (input) => decodeCommand(model, input)
    }
  })
