/**
 * `@chronicle/core/testing`: the testing kit.
 *
 * - `DeciderSpec`: given / when / then tests for aggregates;
 * - `AggregateLaws`: property tests every aggregate should pass;
 * - `EventStoreConformance`: the contract every event store backend passes;
 * - `ProjectionStoreConformance`: the contract every projection store backend
 *   passes, with projection runners over it;
 * - `SnapshotStoreConformance`: the contract every snapshot store backend passes;
 * - `AwaitProjections`: wait until projections have caught up with the store.
 *
 * It depends on `@effect/vitest` and `vitest` (optional peer dependencies).
 *
 * @since 0.1.0
 * @module
 */

/** @since 0.1.0 */
export * as AggregateLaws from "./testing/AggregateLaws.js"
/** @since 0.1.0 */
export * as AwaitProjections from "./testing/AwaitProjections.js"
/** @since 0.1.0 */
export * as DeciderSpec from "./testing/DeciderSpec.js"
/** @since 0.1.0 */
export * as EventStoreConformance from "./testing/EventStoreConformance.js"
/** @since 0.2.0 */
export * as ProjectionStoreConformance from "./testing/ProjectionStoreConformance.js"
/** @since 0.2.0 */
export * as SnapshotStoreConformance from "./testing/SnapshotStoreConformance.js"
