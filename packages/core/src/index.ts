/**
 * `@chronicle/core`: functional event sourcing for Effect.
 *
 * @since 0.1.0
 * @module
 */

/** @since 0.1.0 */
export * as Aggregate from "./Aggregate.js"
/** @since 0.7.0 */
export * as Append from "./Append.js"
/** @since 0.7.0 */
export * as AppendError from "./AppendError.js"
/** @since 0.6.0 */
export * as Audit from "./Audit.js"
/** @since 0.1.0 */
export * as Correlation from "./Correlation.js"
/** @since 0.1.0 */
export * as Event from "./Event.js"
/** @since 0.1.0 */
export * as EventCodec from "./EventCodec.js"
/** @since 0.1.0 */
export * as EventStore from "./EventStore.js"
/** @since 0.1.0 */
export * as ExpectedVersion from "./ExpectedVersion.js"
/** @since 0.6.0 */
export * as FeedStatus from "./FeedStatus.js"
/** @since 0.6.0 */
export * as Infrastructure from "./Infrastructure.js"
/** @since 0.1.0 */
export * as InlineProjection from "./InlineProjection.js"
/** @since 0.6.0 */
export * as Metrics from "./Metrics.js"
/** @since 0.1.0 */
export * as Position from "./Position.js"
/** @since 0.1.0 */
export * as Projection from "./Projection.js"
/** @since 0.1.0 */
export * as ProjectionAdmin from "./ProjectionAdmin.js"
/** @since 0.1.0 */
export * as ProjectionError from "./ProjectionError.js"
/** @since 0.1.0 */
export * as ProjectionStore from "./ProjectionStore.js"
/** @since 0.1.0 */
export * as Repository from "./Repository.js"
/** @since 0.5.0 */
export * as Saga from "./Saga.js"
/** @since 0.5.0 */
export * as SagaAdmin from "./SagaAdmin.js"
/** @since 0.5.0 */
export * as SagaError from "./SagaError.js"
/** @since 0.7.0 */
export * as SagaInstance from "./SagaInstance.js"
/** @since 0.7.0 */
export * as SagaStep from "./SagaStep.js"
/** @since 0.1.0 */
export * as SnapshotStore from "./SnapshotStore.js"
/** @since 0.6.0 */
export * as StateCodec from "./StateCodec.js"
/** @since 0.6.0 */
export * as StoreError from "./StoreError.js"
/** @since 0.1.0 */
export * as StreamId from "./StreamId.js"
/** @since 0.1.0 */
export * as TimeTravel from "./TimeTravel.js"
/** @since 0.1.0 */
export * as Upcaster from "./Upcaster.js"
