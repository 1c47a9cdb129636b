/**
 * The journal writer of durable sagas: the journal appends of the instances
 * running at the same time, gathered into `EventStore.appendMany` calls (on
 * PostgreSQL, one statement for many instances' entries; see
 * `EventStore.withAppendMany`) instead of one
 * round trip each.
 *
 * An append waits in a queue only while the writer already has
 * `inFlight` calls under way; an idle writer sends it at once, alone. Each
 * instance still waits for its own append's commit and gets its own result
 * or error: `appendMany` gives one per append (a duplicate or a conflict is
 * settled by a plain `append` of that one). Appends with an expected
 * version, and every append on a store without `appendMany`, go straight to
 * `append` (so does every append of a store whose `append` a decorator
 * replaced: the decorator's `append` is never bypassed).
 *
 * @internal
 */
import { Deferred, Effect, Exit, Queue, type Scope } from "effect"
import type { AppendResult } from "../../Append.js"
import type { AppendError } from "../../AppendError.js"
import { type AppendRequest, appendManyOf, type EventStore } from "../../EventStore.js"

interface Pending {
  readonly request: AppendRequest
  readonly done: Deferred.Deferred<AppendResult, AppendError>
}

/** At most this many appends in one `appendMany` call. */
const maxBatch = 32

/**
 * A store whose `append` (without an expected version) goes through the
 * writer. The writer stops with the scope; appends still queued then are
 * interrupted.
 *
 * @internal
 */
export const make = (
  store: EventStore["Type"],
  options?: { readonly inFlight?: number | undefined }
): Effect.Effect<EventStore["Type"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const appendMany = appendManyOf(store)
    if (appendMany === undefined) return store
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Pending>(), (queue) =>
      Effect.flatMap(Queue.takeAll(queue), (left) =>
        Effect.zipRight(
          Effect.forEach(left, (pending) => Deferred.interrupt(pending.done), { discard: true }),
          Queue.shutdown(queue)
        )
      )
    )
    const permits = yield* Effect.makeSemaphore(Math.max(1, options?.inFlight ?? 4))
    // Every queued append is settled: with its result, or with the batch's defect.
    const send = (batch: ReadonlyArray<Pending>) =>
      Effect.onExit(
        appendMany(batch.map((pending) => pending.request)),
        (exit): Effect.Effect<void> =>
          Exit.isSuccess(exit)
            ? Effect.forEach(
                batch,
                (pending, i) => {
                  const result = exit.value[i]
                  return result === undefined
                    ? Deferred.die(pending.done, new Error("EventStore.appendMany returned fewer results than appends"))
                    : Deferred.complete(pending.done, result)
                },
                { discard: true }
              )
            : Effect.forEach(batch, (pending) => Deferred.failCause(pending.done, exit.cause), { discard: true })
      )
    yield* Effect.gen(function* () {
      yield* permits.take(1)
      const batch = yield* Queue.takeBetween(queue, 1, maxBatch)
      yield* Effect.forkDaemon(Effect.ensuring(Effect.ignore(send([...batch])), permits.release(1)))
    }).pipe(Effect.forever, Effect.interruptible, Effect.forkScoped)
    return {
      ...store,
      append: (streamId, events, appendOptions) =>
        appendOptions?.expectedVersion !== undefined
          ? store.append(streamId, events, appendOptions)
          : Effect.flatMap(Deferred.make<AppendResult, AppendError>(), (done) =>
              Effect.zipRight(
                Queue.offer(queue, { request: { streamId, events, options: appendOptions }, done }),
                Deferred.await(done)
              )
            )
    }
  })
