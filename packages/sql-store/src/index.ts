/**
 * `@chronicle/sql-store`: Chronicle's event store, snapshot store and
 * projection store over `@effect/sql`, for PostgreSQL and SQLite.
 *
 * @since 0.1.0
 * @module
 */

/** @since 0.1.0 */
export * as SqlEventStore from "./SqlEventStore.js"
/** @since 0.1.0 */
export * as SqlMigrations from "./SqlMigrations.js"
/** @since 0.1.0 */
export * as SqlProjectionStore from "./SqlProjectionStore.js"
/** @since 0.1.0 */
export * as SqlSnapshotStore from "./SqlSnapshotStore.js"
/** @since 0.6.0 */
export * as SqlStores from "./SqlStores.js"
