/**
 * Aggregates: the pure core of the write side.
 *
 * An aggregate is a decider over Schema-typed commands and events:
 * - `evolve(state, event)` folds one event into the state. It is pure and
 *   total: it never fails, and it must accept every event `decide` emits;
 * - `decide(command, state)` returns the events the command causes, or fails
 *   with a typed domain error. It needs no services, so it is trivial to test.
 *
 * The aggregate's `name` is its stream category: instance `id` lives in the
 * stream `<name>-<id>`.
 *
 * @since 0.1.0
 */
import { type Effect, Option, type Schema } from "effect"
import * as EventCodec from "./EventCodec.js"
import * as StateCodec from "./StateCodec.js"
import * as StreamId from "./StreamId.js"

/**
 * What `decide` may return: one event or a list of events (possibly empty,
 * when the command changes nothing).
 *
 * @example
 * ```ts
 * import { type Aggregate } from "@chronicle/core"
 * import { Schema } from "effect"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
 * const one: Aggregate.Decision<Deposited> = new Deposited({ amount: 10 })
 * const none: Aggregate.Decision<Deposited> = []
 * ```
 * @since 0.1.0
 * @category models
 */
export type Decision<E> = E | ReadonlyArray<E>

/**
 * An aggregate definition.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (count: number, event) => count + event.by,
 *   decide: (command) => Effect.succeed(new Incremented({ by: command.by }))
 * })
 * // replaying events is a fold of `evolve` from `initialState`
 * const replayed = [new Incremented({ by: 2 }), new Incremented({ by: 3 })].reduce(Counter.evolve, Counter.initialState)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Aggregate<
  Name extends string,
  State,
  Event extends EventCodec.Tagged,
  EventEncoded,
  Command,
  CommandEncoded,
  DomainError
> {
  readonly name: Name
  readonly events: Schema.Schema<Event, EventEncoded, never>
  readonly commands: Schema.Schema<Command, CommandEncoded, never>
  readonly codec: EventCodec.EventCodec<Event>
  readonly initialState: State
  /** Folds one event into the state: pure and total. */
  readonly evolve: (state: State, event: Event) => State
  /** Turns a command into events, or fails with a domain error: pure, no services. */
  readonly decide: (command: Command, state: State) => Effect.Effect<Decision<Event>, DomainError, never>
  /** How the state is encoded in snapshots; none when the aggregate cannot be snapshotted. */
  readonly state: Option.Option<StateCodec.StateCodec<State>>
}

/**
 * Any aggregate, whatever its state, events, commands and errors: for
 * registries and lists of aggregates. It keeps what every aggregate has
 * without its types: the name (the stream category) and the decoding side
 * of its codec, so `Projection.make({ from })` takes one.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 *
 * class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}
 * class Ponged extends Schema.TaggedClass<Ponged>()("Ponged", { n: Schema.Int }) {}
 * const define = <E extends { readonly _tag: string }, I>(name: string, events: Schema.Schema<E, I>, start: E) =>
 *   Aggregate.make({ name, events, commands: events, initialState: 0, evolve: (n: number) => n + 1, decide: () => Effect.succeed(start) })
 *
 * const all: ReadonlyArray<Aggregate.Any> = [define("Pinger", Pinged, new Pinged()), define("Ponger", Ponged, new Ponged({ n: 1 }))]
 * const categories = all.map((aggregate) => aggregate.name)
 * ```
 * @since 0.6.0
 * @category models
 */
export interface Any {
  readonly name: string
  readonly codec: Pick<
    EventCodec.EventCodec<EventCodec.Tagged>,
    "types" | "storedTypes" | "versionOf" | "decode" | "decodePayload" | "upcasters"
  >
}

/**
 * The state type of an aggregate.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { limit: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (count: number, event) => count + event.by,
 *   decide: (command, count) =>
 *     count + command.by > 100 ? Effect.fail(new TooBig({ limit: 100 })) : Effect.succeed(new Incremented({ by: command.by }))
 * })
 *
 * const state: Aggregate.StateOf<typeof Counter> = Counter.initialState
 * ```
 * @since 0.1.0
 * @category type-level
 */
export type StateOf<A> =
  A extends Aggregate<string, infer S, infer _E, infer _EI, infer _C, infer _CI, infer _Err> ? S : never
/**
 * The event type of an aggregate.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { limit: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (count: number, event) => count + event.by,
 *   decide: (command, count) =>
 *     count + command.by > 100 ? Effect.fail(new TooBig({ limit: 100 })) : Effect.succeed(new Incremented({ by: command.by }))
 * })
 *
 * const event: Aggregate.EventOf<typeof Counter> = new Incremented({ by: 1 })
 * ```
 * @since 0.1.0
 * @category type-level
 */
export type EventOf<A> =
  A extends Aggregate<string, infer _S, infer E, infer _EI, infer _C, infer _CI, infer _Err> ? E : never
/**
 * The command type of an aggregate.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { limit: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (count: number, event) => count + event.by,
 *   decide: (command, count) =>
 *     count + command.by > 100 ? Effect.fail(new TooBig({ limit: 100 })) : Effect.succeed(new Incremented({ by: command.by }))
 * })
 *
 * const command: Aggregate.CommandOf<typeof Counter> = new Increment({ by: 1 })
 * ```
 * @since 0.1.0
 * @category type-level
 */
export type CommandOf<A> =
  A extends Aggregate<string, infer _S, infer _E, infer _EI, infer C, infer _CI, infer _Err> ? C : never
/**
 * The domain error type of an aggregate.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { limit: Schema.Int }) {}
 * const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (count: number, event) => count + event.by,
 *   decide: (command, count) =>
 *     count + command.by > 100 ? Effect.fail(new TooBig({ limit: 100 })) : Effect.succeed(new Incremented({ by: command.by }))
 * })
 *
 * const describe = (error: Aggregate.ErrorOf<typeof Counter>): string => `over the limit of ${error.limit}`
 * ```
 * @since 0.1.0
 * @category type-level
 */
export type ErrorOf<A> =
  A extends Aggregate<string, infer _S, infer _E, infer _EI, infer _C, infer _CI, infer Err> ? Err : never

/**
 * Defines an aggregate. `commands` is a Schema too: it lets the repository
 * reject malformed commands with a typed error, and lets the testing kit
 * generate random commands for the aggregate laws.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Aggregate } from "@chronicle/core"
 *
 * class Incremented extends Schema.TaggedClass<Incremented>()("Incremented", { by: Schema.Int }) {}
 * class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Int }) {}
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { limit: Schema.Int }) {}
 *
 * export const Counter = Aggregate.make({
 *   name: "Counter",
 *   events: Incremented,
 *   commands: Increment,
 *   initialState: 0,
 *   evolve: (count: number, event) => count + event.by,
 *   decide: (command, count) =>
 *     count + command.by > 100 ? Effect.fail(new TooBig({ limit: 100 })) : Effect.succeed(new Incremented({ by: command.by }))
 * })
 * ```
 * @typeParam Decide - the type of `decide`, kept whole so that its domain errors are inferred.
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const Name extends string,
  State,
  Event extends EventCodec.Tagged,
  EventEncoded,
  Command,
  CommandEncoded,
  Decide extends (command: Command, state: State) => Effect.Effect<Decision<Event>, unknown, never>,
  StateEncoded = never
>(definition: {
  readonly name: Name
  readonly events: Schema.Schema<Event, EventEncoded, never>
  readonly commands: Schema.Schema<Command, CommandEncoded, never>
  readonly initialState: State
  readonly evolve: (state: State, event: Event) => State
  readonly decide: Decide
  /** The current schema version of each event type (see `EventCodec.Options`). */
  readonly eventVersions?: EventCodec.Options<Event>["versions"]
  /** Upcaster chains for events stored in older shapes (see `Upcaster`). */
  readonly upcasters?: EventCodec.Options<Event>["upcasters"]
  /**
   * How to encode the state in snapshots, and the version of that encoding.
   * Without it the aggregate is never snapshotted.
   */
  readonly state?: { readonly schema: Schema.Schema<State, StateEncoded, never>; readonly version: number } | undefined
}): Aggregate<Name, State, Event, EventEncoded, Command, CommandEncoded, Effect.Effect.Error<ReturnType<Decide>>> => {
  if (definition.name.length === 0 || definition.name.includes("-")) {
    throw new Error(`Aggregate.make: the name "${definition.name}" must be non-empty and contain no "-"`)
  }
  return {
    name: definition.name,
    events: definition.events,
    commands: definition.commands,
    codec: EventCodec.make(definition.events, { versions: definition.eventVersions, upcasters: definition.upcasters }),
    initialState: definition.initialState,
    evolve: definition.evolve,
    state: Option.map(Option.fromNullable(definition.state), (state) => StateCodec.make(state.schema, state.version)),
    // The error channel of Decide's return type is exactly Effect.Error<ReturnType<Decide>>.
    decide: definition.decide as (
      command: Command,
      state: State
    ) => Effect.Effect<Decision<Event>, Effect.Effect.Error<ReturnType<Decide>>, never>
  }
}

/**
 * Folds events into a state, from `initialState` unless a starting state is
 * given.
 *
 * @example
 * ```ts
 * import { Aggregate } from "@chronicle/core"
 *
 * const counter = { initialState: 0, evolve: (n: number, e: { readonly _tag: "Added"; readonly n: number }) => n + e.n }
 * Aggregate.fold(counter, [{ _tag: "Added", n: 2 }, { _tag: "Added", n: 3 }]) // 5
 * ```
 * @since 0.1.0
 * @category folding
 */
export const fold = <S, E extends EventCodec.Tagged>(
  aggregate: { readonly initialState: S; readonly evolve: (state: S, event: E) => S },
  events: Iterable<E>,
  from: S = aggregate.initialState
): S => {
  let state = from
  for (const event of events) state = aggregate.evolve(state, event)
  return state
}

/**
 * Normalises a decision into a list of events.
 *
 * @example
 * ```ts
 * import { Aggregate } from "@chronicle/core"
 *
 * Aggregate.decisionEvents({ _tag: "Pinged" }) // [{ _tag: "Pinged" }]
 * ```
 * @since 0.1.0
 * @category folding
 */
export const decisionEvents = <E>(decision: Decision<E>): ReadonlyArray<E> =>
  isEventList(decision) ? decision : [decision]

const isEventList = <E>(decision: Decision<E>): decision is ReadonlyArray<E> => Array.isArray(decision)

/**
 * The stream id of one instance of an aggregate: `<name>-<id>`.
 *
 * @example
 * ```ts
 * import { Aggregate } from "@chronicle/core"
 *
 * Aggregate.streamId({ name: "Account" }, "acc-1") // "Account-acc-1"
 * ```
 * @since 0.1.0
 * @category getters
 */
export const streamId = (aggregate: { readonly name: string }, id: string): StreamId.StreamId =>
  StreamId.forAggregate(aggregate.name, id)
