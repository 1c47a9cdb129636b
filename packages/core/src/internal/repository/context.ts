/**
 * What every part of a repository works with: the aggregate's functions, the
 * stores, the options, and the shape of a loaded stream.
 *
 * @internal
 */
import type { Effect, Either, Option, ParseResult, Schedule } from "effect"
import type * as Aggregate from "../../Aggregate.js"
import type { RecordedEvent } from "../../Event.js"
import type * as EventCodec from "../../EventCodec.js"
import type { EventStore } from "../../EventStore.js"
import type { Position } from "../../Position.js"
import type * as SnapshotStore from "../../SnapshotStore.js"
import type * as StateCodec from "../../StateCodec.js"

/** The aggregate, with its command Schema turned into functions. @internal */
export interface Model<S, E extends EventCodec.Tagged, C, Err> {
  readonly name: string
  readonly codec: EventCodec.EventCodec<E>
  readonly initialState: S
  readonly evolve: (state: S, event: E) => S
  readonly decide: (command: C, state: S) => Effect.Effect<Aggregate.Decision<E>, Err, never>
  readonly state: Option.Option<StateCodec.StateCodec<S>>
  readonly encodeCommand: (command: C) => Either.Either<unknown, ParseResult.ParseError>
  readonly decodeCommand: (input: unknown) => Either.Either<C, ParseResult.ParseError>
}

/** @internal */
export interface Context<S, E extends EventCodec.Tagged, C, Err> {
  readonly model: Model<S, E, C, Err>
  readonly store: EventStore["Type"]
  readonly snapshotStore: Option.Option<SnapshotStore.SnapshotStore["Type"]>
  readonly snapshotStrategy: SnapshotStore.Strategy<S> | undefined
  readonly snapshotMode: "background" | "inline"
  readonly retry: Schedule.Schedule<unknown, unknown>
  /** Events per read when loading. */
  readonly pageSize: number
}

/** Where a load starts: the initial state or a snapshot. @internal */
export interface Start<S> {
  readonly state: S
  readonly version: number
  readonly position: Option.Option<Position>
}

/** A loaded stream. @internal */
export interface Loaded<S, E> extends Start<S> {
  /** The events caused by the command being executed (it already ran when not empty). */
  readonly byCommand: ReadonlyArray<RecordedEvent<E>>
  /** The version of the snapshot the state was loaded from (0 for none). */
  readonly snapshotVersion: number
}
