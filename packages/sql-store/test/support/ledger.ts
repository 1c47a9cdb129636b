/**
 * A tiny ledger for the saga tests (a copy of core's test fixture; test folders
 * never import each other): accounts (open, credit, debit, close)
 * and moves of money between them (requested, approved, completed, failed),
 * and a `Move` saga over them: debit the source (compensated by a refund),
 * above `approvalAbove` wait for an approval (until a deadline), credit the
 * target, complete; on failure, record it on the move.
 */
import { Aggregate, Repository, Saga } from "@chronicle/core"
import { type Duration, Effect, Schema } from "effect"

export class AcctOpened extends Schema.TaggedClass<AcctOpened>()("AcctOpened", {}) {}
export class Credited extends Schema.TaggedClass<Credited>()("Credited", {
  amount: Schema.Int,
  refund: Schema.Boolean
}) {}
export class Debited extends Schema.TaggedClass<Debited>()("Debited", { amount: Schema.Int }) {}
export class AcctClosed extends Schema.TaggedClass<AcctClosed>()("AcctClosed", {}) {}
export class AcctReopened extends Schema.TaggedClass<AcctReopened>()("AcctReopened", {}) {}
export const AcctEvent = Schema.Union(AcctOpened, Credited, Debited, AcctClosed, AcctReopened)

export class OpenAcct extends Schema.TaggedClass<OpenAcct>()("OpenAcct", {}) {}
export class Credit extends Schema.TaggedClass<Credit>()("Credit", {
  amount: Schema.Int.pipe(Schema.positive()),
  refund: Schema.Boolean
}) {}
export class Debit extends Schema.TaggedClass<Debit>()("Debit", { amount: Schema.Int.pipe(Schema.positive()) }) {}
export class CloseAcct extends Schema.TaggedClass<CloseAcct>()("CloseAcct", {}) {}
export class ReopenAcct extends Schema.TaggedClass<ReopenAcct>()("ReopenAcct", {}) {}

export class AcctNotOpen extends Schema.TaggedError<AcctNotOpen>()("AcctNotOpen", {}) {}
export class AcctIsClosed extends Schema.TaggedError<AcctIsClosed>()("AcctIsClosed", {}) {}
export class Insufficient extends Schema.TaggedError<Insufficient>()("Insufficient", { balance: Schema.Int }) {}
export const AcctError = Schema.Union(AcctNotOpen, AcctIsClosed, Insufficient)

export interface AcctState {
  readonly status: "none" | "open" | "closed"
  readonly balance: number
}

export const Acct = Aggregate.make({
  name: "Acct",
  events: AcctEvent,
  commands: Schema.Union(OpenAcct, Credit, Debit, CloseAcct, ReopenAcct),
  initialState: { status: "none", balance: 0 } satisfies AcctState as AcctState,
  evolve: (state, event): AcctState => {
    switch (event._tag) {
      case "AcctOpened":
        return { status: "open", balance: 0 }
      case "Credited":
        return { ...state, balance: state.balance + event.amount }
      case "Debited":
        return { ...state, balance: state.balance - event.amount }
      case "AcctClosed":
        return { ...state, status: "closed" }
      case "AcctReopened":
        return { ...state, status: "open" }
    }
  },
  decide: (command, state) => {
    if (command._tag === "OpenAcct") return Effect.succeed(new AcctOpened())
    if (command._tag === "ReopenAcct") return Effect.succeed(state.status === "closed" ? [new AcctReopened()] : [])
    if (state.status === "none") return Effect.fail(new AcctNotOpen())
    if (state.status === "closed") return Effect.fail(new AcctIsClosed())
    switch (command._tag) {
      case "Credit":
        return Effect.succeed(new Credited({ amount: command.amount, refund: command.refund }))
      case "Debit":
        return state.balance < command.amount
          ? Effect.fail(new Insufficient({ balance: state.balance }))
          : Effect.succeed(new Debited({ amount: command.amount }))
      case "CloseAcct":
        return Effect.succeed(new AcctClosed())
    }
  }
})

export class MoveRequested extends Schema.TaggedClass<MoveRequested>()("MoveRequested", {
  moveId: Schema.String,
  from: Schema.String,
  to: Schema.String,
  amount: Schema.Int
}) {}
export class MoveApproved extends Schema.TaggedClass<MoveApproved>()("MoveApproved", { moveId: Schema.String }) {}
export class MoveCompleted extends Schema.TaggedClass<MoveCompleted>()("MoveCompleted", {}) {}
export class MoveFailed extends Schema.TaggedClass<MoveFailed>()("MoveFailed", { reason: Schema.String }) {}
export const MoveEvent = Schema.Union(MoveRequested, MoveApproved, MoveCompleted, MoveFailed)

export class RequestMove extends Schema.TaggedClass<RequestMove>()("RequestMove", {
  moveId: Schema.String,
  from: Schema.String,
  to: Schema.String,
  amount: Schema.Int
}) {}
export class ApproveMove extends Schema.TaggedClass<ApproveMove>()("ApproveMove", { moveId: Schema.String }) {}
export class CompleteMove extends Schema.TaggedClass<CompleteMove>()("CompleteMove", {}) {}
export class FailMove extends Schema.TaggedClass<FailMove>()("FailMove", { reason: Schema.String }) {}

export type MoveState = "none" | "requested" | "approved" | "completed" | "failed"

export const Move = Aggregate.make({
  name: "Move",
  events: MoveEvent,
  commands: Schema.Union(RequestMove, ApproveMove, CompleteMove, FailMove),
  initialState: "none" as MoveState,
  evolve: (_state, event): MoveState => {
    switch (event._tag) {
      case "MoveRequested":
        return "requested"
      case "MoveApproved":
        return "approved"
      case "MoveCompleted":
        return "completed"
      case "MoveFailed":
        return "failed"
    }
  },
  // Commands carry the move's id (its stream is `Move-<moveId>`), so its events can name it.
  decide: (command, state) => {
    switch (command._tag) {
      case "RequestMove":
        return Effect.succeed(state === "none" ? [new MoveRequested(command)] : [])
      case "ApproveMove":
        return Effect.succeed(state === "requested" ? [new MoveApproved({ moveId: command.moveId })] : [])
      case "CompleteMove":
        return Effect.succeed(state === "completed" ? [] : [new MoveCompleted()])
      case "FailMove":
        return Effect.succeed(state === "failed" ? [] : [new MoveFailed({ reason: command.reason })])
    }
  }
})

export const Approved = Saga.signal("approved", {
  event: MoveApproved,
  categories: ["Move"],
  id: (event) => event.moveId
})

/** The Move saga; `approvalAbove` and `deadline` set when it waits for an approval. */
export const moveSaga = (options?: {
  readonly approvalAbove?: number
  readonly deadline?: Duration.DurationInput
  /** Runs at the start of the credit step (a test holds the step there). */
  readonly beforeCredit?: Effect.Effect<void>
}) =>
  Saga.make({
    name: "Move",
    trigger: MoveRequested,
    categories: ["Move"],
    id: (event) => event.moveId,
    signals: [Approved],
    success: Schema.Struct({ debitedAt: Schema.Number }),
    run: (event) =>
      Effect.gen(function* () {
        const accounts = yield* Repository.make(Acct)
        const moves = yield* Repository.make(Move)
        const debit = yield* Saga.step("debit", {
          run: (step) =>
            Effect.map(accounts.execute(event.from, new Debit({ amount: event.amount }), step), (r) => r.version),
          success: Schema.Number,
          error: AcctError,
          compensate: (_, step) =>
            accounts.execute(event.from, new Credit({ amount: event.amount, refund: true }), step)
        })
        // the money is held while the approval is awaited; past the deadline it is refunded
        if (options?.approvalAbove !== undefined && event.amount > options.approvalAbove) {
          yield* Saga.awaitEvent(Approved, { timeout: options.deadline ?? "1 hour" })
        }
        yield* Saga.step("credit", {
          run: (step) =>
            Effect.zipRight(
              options?.beforeCredit ?? Effect.void,
              accounts.execute(event.to, new Credit({ amount: event.amount, refund: false }), step)
            ),
          error: AcctError
        })
        yield* Saga.step("complete", { run: (step) => moves.execute(event.moveId, new CompleteMove(), step) })
        return { debitedAt: debit }
      }),
    onFailure: (event, failure) =>
      Effect.flatMap(Repository.make(Move), (moves) =>
        moves.execute(event.moveId, new FailMove({ reason: failure.reason }), failure)
      )
  })
