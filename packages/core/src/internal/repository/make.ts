/**
 * Assembles a repository from its parts over the stores in context.
 *
 * @internal
 */
import { Effect, Option, Schema } from "effect"
import type * as Aggregate from "../../Aggregate.js"
import type * as EventCodec from "../../EventCodec.js"
import { EventStore } from "../../EventStore.js"
import type { Options, Repository } from "../../Repository.js"
import * as SnapshotStore from "../../SnapshotStore.js"
import type { Context, Model } from "./context.js"
import { execute } from "./execute.js"
import { events, history, load, loadAt } from "./query.js"
import * as StateCache from "./stateCache.js"
import { decodeCommand } from "./validation.js"
import { verify } from "./verify.js"

/** Builds a repository; `defaults` are the public module's. @internal */
export const make = <Name extends string, S, E extends EventCodec.Tagged, EI, C, CI, Err>(
  aggregate: Aggregate.Aggregate<Name, S, E, EI, C, CI, Err>,
  defaults: {
    readonly retry: Context<S, E, C, Err>["retry"]
    readonly cacheCapacity: number
    readonly pageSize: number
  },
  options: Options<S> | undefined
): Effect.Effect<Repository<S, E, C, Err>, never, EventStore> =>
  Effect.gen(function* () {
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
      pageSize: options?.pageSize ?? defaults.pageSize
    }
    if (!Number.isSafeInteger(context.pageSize) || context.pageSize < 1) {
      throw new Error(`Repository.make: pageSize must be a positive integer, got ${context.pageSize}`)
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
    const capacity = options?.cache === false ? undefined : (options?.cache?.capacity ?? defaults.cacheCapacity)
    if (capacity !== undefined && (!Number.isInteger(capacity) || capacity < 1)) {
      throw new Error(`Repository.make: cache capacity must be a positive integer, got ${capacity}`)
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
