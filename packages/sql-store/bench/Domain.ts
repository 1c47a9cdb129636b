/**
 * The benchmark's domain: a small account aggregate (one command, one event
 * type, a two-field state), and the payloads both sides write, so that
 * Chronicle and the raw `pg` baseline store rows of the same size.
 */
import { Aggregate } from "@chronicle/core"
import { Effect, Schema } from "effect"

/** The aggregate name, hence the stream category: streams are `Acct-<id>`. */
export const category = "Acct"

/** The stored event type name. */
export const eventType = "Deposited"

/** A deposit (the only event). */
export class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  amount: Schema.Int,
  reference: Schema.String
}) {}

/** The only command. */
export class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", {
  amount: Schema.Int,
  reference: Schema.String
}) {}

/** The folded state. */
export const State = Schema.Struct({ balance: Schema.Int, count: Schema.Int })
export type State = typeof State.Type

/** A refusal, so that `decide` does decide something. */
export class NotPositive extends Schema.TaggedError<NotPositive>()("NotPositive", { amount: Schema.Int }) {}

/** The fold, shared by Chronicle (`evolve`) and the raw baseline. */
export const evolve = (state: State, event: { readonly amount: number }): State => ({
  balance: state.balance + event.amount,
  count: state.count + 1
})

export const initialState: State = { balance: 0, count: 0 }

/** The benchmark aggregate, snapshottable (state schema version 1). */
export const Account = Aggregate.make({
  name: category,
  events: Deposited,
  commands: Deposit,
  initialState,
  evolve,
  decide: (command: Deposit) =>
    command.amount > 0
      ? Effect.succeed(new Deposited({ amount: command.amount, reference: command.reference }))
      : Effect.fail(new NotPositive({ amount: command.amount })),
  state: { schema: State, version: 1 }
})

/** The `n`-th command's payload: an amount and a 24-character reference. */
export const payload = (n: number): { readonly amount: number; readonly reference: string } => ({
  amount: 1 + (n % 997),
  reference: `ref-${String(n).padStart(20, "0")}`
})

/** The id (not the stream id) of stream `index` of a workload in a run. */
export const streamKey = (run: number, workload: string, index: number): string => `r${run}-${workload}-${index}`

/** The full stream id of a key, as `Repository` builds it. */
export const streamIdOf = (key: string): string => `${category}-${key}`

/**
 * P1 (projection catch-up): the category of its streams (kept apart from the
 * other workloads' `Acct` streams), how many events, over how many streams.
 */
export const p1Category = "Bal"
export const p1Events = 100_000
export const p1Streams = 1_000
