/**
 * The implementation of `SagaAdmin`: `status`, `list`, `retry`, `waitFor`
 * (all read an instance's journal) and `consumerName`.
 *
 * @internal
 */
import { Duration, Effect, Either, Option } from "effect"
import { ConcurrencyError } from "../../AppendError.js"
import type { EventDecodeError } from "../../Event.js"
import { EventStore } from "../../EventStore.js"
import * as ExpectedVersion from "../../ExpectedVersion.js"
import type * as SagaAdmin from "../../SagaAdmin.js"
import * as SagaError from "../../SagaError.js"
import { isStoreError, type StoreError } from "../../StoreError.js"
import * as Journal from "./journal.js"

/** @internal */
export const nameOf = (saga: string | { readonly name: string }): string =>
  typeof saga === "string" ? saga : saga.name

/** @internal */
const toStatus = (saga: string, folded: Journal.Folded): SagaAdmin.Status => ({
  saga,
  instanceId: folded.instanceId,
  state: folded.state,
  run: folded.run,
  attempt: folded.attempt,
  mode: folded.mode,
  steps: folded.steps,
  compensated: folded.compensated,
  waitingFor: Option.map(folded.waitingFor, (w) => ({
    for: w.for,
    until: Option.map(w.until, (millis) => Journal.utc(millis))
  })),
  error: folded.error,
  compensationErrors: folded.compensationErrors,
  trigger: Option.map(folded.trigger, (t) => ({
    eventId: t.eventId,
    streamId: t.streamId,
    type: t.type,
    correlationId: t.metadata.correlationId,
    data: t.data
  })),
  result: folded.result,
  startedAt: folded.startedAt,
  updatedAt: folded.updatedAt
})

/** @internal */
export const status = (
  saga: string | { readonly name: string },
  instanceId: string
): Effect.Effect<Option.Option<SagaAdmin.Status>, StoreError | EventDecodeError, EventStore> =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(
      Journal.load(store, nameOf(saga), instanceId),
      Option.map((f) => toStatus(nameOf(saga), f))
    )
  ).pipe(Effect.withSpan("Chronicle.SagaAdmin.status", { attributes: { saga: nameOf(saga), instanceId } }))

/** @internal */
export const list = (
  saga: string | { readonly name: string },
  options?: { readonly states?: ReadonlyArray<SagaAdmin.State> | undefined }
): Effect.Effect<ReadonlyArray<SagaAdmin.Status>, StoreError | EventDecodeError, EventStore> =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(Journal.loadAll(store, nameOf(saga)), (all) =>
      all
        .filter((f) => options?.states === undefined || options.states.includes(f.state))
        .map((f) => toStatus(nameOf(saga), f))
    )
  ).pipe(Effect.withSpan("Chronicle.SagaAdmin.list", { attributes: { saga: nameOf(saga) } }))

/** @internal */
export const retry = (
  saga: string | { readonly name: string },
  instanceId: string
): Effect.Effect<
  { readonly run: number; readonly attempt: number },
  SagaError.SagaNotFound | SagaError.SagaNotRetryable | StoreError | EventDecodeError,
  EventStore
> =>
  Effect.gen(function* () {
    const name = nameOf(saga)
    const store = yield* EventStore
    const found = yield* Journal.load(store, name, instanceId)
    if (Option.isNone(found)) return yield* new SagaError.SagaNotFound({ saga: name, instanceId })
    const current = found.value
    if (current.state !== "failed" && current.state !== "compensation-failed") {
      return yield* new SagaError.SagaNotRetryable({ saga: name, instanceId, state: current.state })
    }
    const run = current.run + 1
    const attempt = current.state === "failed" ? current.attempt + 1 : current.attempt
    const encoded = Journal.codec.encode(new Journal.SagaRetryRequested({ saga: name, instanceId, run, attempt }))
    if (Either.isLeft(encoded)) return yield* Effect.die(encoded.left)
    const correlationId = Option.match(current.trigger, {
      onNone: () => instanceId,
      onSome: (t) => t.metadata.correlationId
    })
    yield* store
      .append(
        Journal.streamOf(name, instanceId),
        [{ eventId: Journal.eventId(name, instanceId, "retry", `${run}`), ...encoded.right }],
        {
          expectedVersion: ExpectedVersion.exact(current.version),
          metadata: { correlationId, causationId: null }
        }
      )
      .pipe(
        Effect.catchAll(
          (error): Effect.Effect<never, SagaError.SagaNotRetryable | StoreError> =>
            error instanceof ConcurrencyError
              ? Effect.fail(
                  new SagaError.SagaNotRetryable({ saga: name, instanceId, state: "changed by another retry" })
                )
              : isStoreError(error)
                ? Effect.fail(error)
                : Effect.die(error)
        )
      )
    return { run, attempt }
  }).pipe(Effect.withSpan("Chronicle.SagaAdmin.retry", { attributes: { saga: nameOf(saga), instanceId } }))

/** @internal */
export const waitFor = (
  saga: string | { readonly name: string },
  instanceId: string,
  options?: {
    readonly timeout?: Duration.DurationInput | undefined
    readonly until?: ((status: SagaAdmin.Status) => boolean) | undefined
    /** How often to look. Default 50 ms. */
    readonly interval?: Duration.DurationInput | undefined
  }
): Effect.Effect<SagaAdmin.Status, SagaError.SagaWaitTimeout | StoreError | EventDecodeError, EventStore> =>
  Effect.suspend(() => {
    const name = nameOf(saga)
    const timeout = Duration.decode(options?.timeout ?? "10 seconds")
    const until = options?.until ?? ((s: SagaAdmin.Status) => Journal.isTerminal(s.state))
    const interval = Duration.decode(options?.interval ?? "50 millis")
    let last = ""
    const poll: Effect.Effect<SagaAdmin.Status, StoreError | EventDecodeError, EventStore> = Effect.flatMap(
      status(name, instanceId),
      (found) => {
        last = Option.match(found, { onNone: () => "", onSome: (s) => s.state })
        return Option.isSome(found) && until(found.value)
          ? Effect.succeed(found.value)
          : Effect.zipRight(Effect.sleep(interval), poll)
      }
    )
    return poll.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new SagaError.SagaWaitTimeout({
            saga: name,
            instanceId,
            state: last,
            timeoutMillis: Duration.toMillis(timeout)
          })
      })
    )
  })

/** @internal */
export const consumerName = (saga: string | { readonly name: string }): string => `saga:${nameOf(saga)}`
