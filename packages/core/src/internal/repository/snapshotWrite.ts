/**
 * Writing a snapshot after a command, when the strategy asks for one: in the
 * background (default) or before `execute` returns. A snapshot that cannot be
 * encoded or saved is logged, never fails the command.
 *
 * @internal
 */
import { Effect, Either, Option } from "effect"
import type { AppendResult } from "../../Append.js"
import type * as EventCodec from "../../EventCodec.js"
import type * as SnapshotStore from "../../SnapshotStore.js"
import type { StreamId } from "../../StreamId.js"
import type { Context, Loaded } from "./context.js"

/** Whether a snapshot was taken of the state after the append. @internal */
export const snapshotAfter = <S, E extends EventCodec.Tagged, C, Err>(
  context: Context<S, E, C, Err>,
  streamId: StreamId,
  loaded: Loaded<S, E>,
  state: S,
  appended: AppendResult
): Effect.Effect<boolean> => {
  const { snapshotStore, snapshotStrategy, snapshotMode } = context
  const stateCodec = context.model.state
  const position = appended.positions[appended.positions.length - 1]
  if (
    snapshotStrategy === undefined ||
    Option.isNone(snapshotStore) ||
    Option.isNone(stateCodec) ||
    position === undefined
  ) {
    return Effect.succeed(false)
  }
  const version = appended.nextExpectedVersion
  if (!snapshotStrategy({ state, version, eventsSinceSnapshot: version - loaded.snapshotVersion })) {
    return Effect.succeed(false)
  }
  return Either.match(stateCodec.value.encode(state), {
    onLeft: (reason) => Effect.as(Effect.logWarning(`snapshot of ${streamId}@${version} not taken: ${reason}`), false),
    onRight: (encoded) => {
      const snapshot: SnapshotStore.Snapshot = {
        streamId,
        version,
        stateVersion: stateCodec.value.version,
        state: encoded,
        position,
        recordedAt: appended.recordedAt
      }
      const write =
        snapshotMode === "inline"
          ? snapshotStore.value
              .save(snapshot)
              .pipe(
                Effect.catchAll((error) =>
                  Effect.logWarning(`snapshot of ${streamId}@${version} not saved: ${error.message}`)
                )
              )
          : snapshotStore.value.saveInBackground(snapshot)
      return Effect.as(write, true)
    }
  })
}
