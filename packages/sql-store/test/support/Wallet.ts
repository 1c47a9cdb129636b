/**
 * A small aggregate for the SQL store's tests. `Deposited` is at version 2:
 * an older release stored `{ amount }` (v1), and before that called the
 * event `FundsAdded`; upcasters bring both to the current shape.
 */
import { Aggregate, Upcaster } from "@chronicle/core"
import { Effect, Schema } from "effect"

export class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String }) {}
export class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  amount: Schema.Int,
  currency: Schema.Literal("EUR", "USD")
}) {}
export class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Int }) {}
export const WalletEvent = Schema.Union(Opened, Deposited, Withdrawn)
export type WalletEvent = typeof WalletEvent.Type

export const DepositedV1 = Schema.Struct({ amount: Schema.Int })

export const upcasters = [
  Upcaster.rename({ from: "FundsAdded", to: "Deposited", version: 1 }),
  Upcaster.make({ type: "Deposited", version: 1, schema: DepositedV1, upcast: (v1) => ({ ...v1, currency: "EUR" }) })
]

const Amount = Schema.Int.pipe(Schema.between(1, 1000))
export class Open extends Schema.TaggedClass<Open>()("Open", { owner: Schema.Literal("ann", "bob") }) {}
export class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", {
  amount: Amount,
  currency: Schema.Literal("EUR", "USD")
}) {}
export class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { amount: Amount }) {}
export const WalletCommand = Schema.Union(Open, Deposit, Withdraw)

export class NotOpen extends Schema.TaggedError<NotOpen>()("NotOpen", {}) {}
export class AlreadyOpen extends Schema.TaggedError<AlreadyOpen>()("AlreadyOpen", {}) {}
export class Insufficient extends Schema.TaggedError<Insufficient>()("Insufficient", { balance: Schema.Int }) {}

export const WalletState = Schema.Struct({
  owner: Schema.NullOr(Schema.String),
  balance: Schema.Int,
  deposits: Schema.Int
})
export type WalletState = typeof WalletState.Type

export const initialState: WalletState = { owner: null, balance: 0, deposits: 0 }

export const evolve = (state: WalletState, event: WalletEvent): WalletState => {
  switch (event._tag) {
    case "Opened":
      return { ...state, owner: event.owner }
    case "Deposited":
      return { ...state, balance: state.balance + event.amount, deposits: state.deposits + 1 }
    case "Withdrawn":
      return { ...state, balance: state.balance - event.amount }
  }
}

export const Wallet = Aggregate.make({
  name: "Wallet",
  events: WalletEvent,
  commands: WalletCommand,
  initialState,
  evolve,
  upcasters,
  state: { schema: WalletState, version: 1 },
  decide: (command, state) => {
    switch (command._tag) {
      case "Open":
        return state.owner !== null
          ? Effect.fail(new AlreadyOpen())
          : Effect.succeed(new Opened({ owner: command.owner }))
      case "Deposit":
        return state.owner === null
          ? Effect.fail(new NotOpen())
          : Effect.succeed(new Deposited({ amount: command.amount, currency: command.currency }))
      case "Withdraw":
        if (state.owner === null) return Effect.fail(new NotOpen())
        return state.balance < command.amount
          ? Effect.fail(new Insufficient({ balance: state.balance }))
          : Effect.succeed(new Withdrawn({ amount: command.amount }))
    }
  }
})
