/**
 * The errors of projections: a runner stopped at an event
 * (`ProjectionFailed`), `waitFor` giving up (`ProjectionTimeout`), and the
 * administration errors (`ProjectionNotFound`, `ProjectionBusy`,
 * `ProjectionActive`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A projection stopped at one event: bad data under the `stop` policy (an
 * event that does not decode, or a handler error its `isBadData` accepts,
 * still failing after the `retry` schedule), or a defect in its handler.
 * The checkpoint stays before the event. `reason` reads well; `cause` is the
 * original error (or defect), kept whole.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProjectionError } from "@chronicle/core"
 *
 * const alert = (e: ProjectionError.ProjectionFailed) => Effect.logError(e.message, e.cause)
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionFailed extends Schema.TaggedError<ProjectionFailed>()("ProjectionFailed", {
  name: Schema.String,
  version: Schema.Number,
  position: Schema.String,
  eventId: Schema.String,
  reason: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version} stopped at event ${this.eventId} (position ${this.position}): ${this.reason}`
  }
}
/**
 * `waitFor` gave up before the projection reached the position.
 *
 * @example
 * ```ts
 * import { ProjectionError } from "@chronicle/core"
 *
 * const error = new ProjectionError.ProjectionTimeout({ name: "balances", position: "42", timeoutMillis: 5000 })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionTimeout extends Schema.TaggedError<ProjectionTimeout>()("ProjectionTimeout", {
  name: Schema.String,
  position: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `Projection ${this.name} did not reach position ${this.position} within ${this.timeoutMillis} ms`
  }
}

/**
 * No projection of that name (or version) is registered in the store.
 *
 * @example
 * ```ts
 * import { ProjectionError } from "@chronicle/core"
 *
 * const error = new ProjectionError.ProjectionNotFound({ name: "balances" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionNotFound extends Schema.TaggedError<ProjectionNotFound>()("ProjectionNotFound", {
  name: Schema.String
}) {
  override get message(): string {
    return `No projection named ${this.name} is registered`
  }
}

/**
 * Another instance holds the projection's lease, so it cannot be rebuilt or
 * caught up here now.
 *
 * @example
 * ```ts
 * import { ProjectionError } from "@chronicle/core"
 *
 * const error = new ProjectionError.ProjectionBusy({ name: "balances", version: 1 })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionBusy extends Schema.TaggedError<ProjectionBusy>()("ProjectionBusy", {
  name: Schema.String,
  version: Schema.Number
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version} is being processed by another instance`
  }
}

/**
 * The version being removed is the active one: activate another first.
 *
 * @example
 * ```ts
 * import { ProjectionError } from "@chronicle/core"
 *
 * const error = new ProjectionError.ProjectionActive({ name: "balances", version: 2 })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ProjectionActive extends Schema.TaggedError<ProjectionActive>()("ProjectionActive", {
  name: Schema.String,
  version: Schema.Number
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version} is the active version and cannot be dropped`
  }
}
