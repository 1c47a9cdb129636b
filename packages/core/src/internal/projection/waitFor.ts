/**
 * Read-your-writes: waits until a projection's checkpoint covers a position,
 * reading its record from the `ProjectionStore` (so it works across
 * processes).
 *
 * @internal
 */
import { Duration, Effect, Option, Schedule, Stream } from "effect"
import { EventStore } from "../../EventStore.js"
import * as Position from "../../Position.js"
import type { WaitForOptions } from "../../Projection.js"
import { ProjectionNotFound, ProjectionTimeout } from "../../ProjectionError.js"
import * as ProjectionStore from "../../ProjectionStore.js"
import type { StoreError } from "../../StoreError.js"

/** Waits until a projection has processed everything up to `position`. @internal */
export const waitFor = (
  name: string,
  position: Position.Position,
  options?: WaitForOptions
): Effect.Effect<
  void,
  ProjectionTimeout | ProjectionNotFound | StoreError,
  EventStore | ProjectionStore.ProjectionStore
> =>
  Effect.gen(function* () {
    const store = yield* EventStore
    const projections = yield* ProjectionStore.ProjectionStore
    const timeout = Duration.decode(options?.timeout ?? "10 seconds")
    // "missing" while no such projection is registered: right after start-up a
    // runner may not have registered yet, so keep looking until the timeout.
    const look = Effect.gen(function* () {
      const version = options?.version ?? Option.getOrUndefined(yield* projections.activeVersion(name))
      if (version === undefined) return "missing" as const
      const record = yield* projections.get({ name, version })
      if (Option.isNone(record)) return "missing" as const
      const checkpoint = ProjectionStore.checkpointOrStart(record.value.checkpoint)
      if (Position.isAtOrAfter(checkpoint, position)) return "reached" as const
      // Nothing this projection reads lies between its checkpoint and the position.
      const head = yield* store.head
      if (!Position.isAtOrAfter(head, position)) return "pending" as const
      const next = yield* Stream.runHead(
        store.readAll({ ...record.value.filter, from: checkpoint, limit: 1, batchSize: 1 })
      )
      return Option.match(next, {
        onNone: () => "reached" as const,
        onSome: (event) => (Position.isAfter(event.position, position) ? ("reached" as const) : ("pending" as const))
      })
    })
    let last: "missing" | "pending" | "reached" = "missing"
    yield* look.pipe(
      Effect.tap((outcome) => {
        last = outcome
      }),
      Effect.repeat({ schedule: Schedule.spaced(options?.interval ?? "20 millis"), until: (o) => o === "reached" }),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          last === "missing"
            ? new ProjectionNotFound({ name: options?.version === undefined ? name : `${name} v${options.version}` })
            : new ProjectionTimeout({ name, position: position.toString(), timeoutMillis: Duration.toMillis(timeout) })
      })
    )
  }).pipe(Effect.withSpan("Chronicle.Projection.waitFor", { attributes: { projection: name } }))
