/**
 * The `ProjectionStore` service: where projections keep their checkpoints,
 * status, active version, lease and parked (dead-letter) events.
 *
 * Backends:
 * - `ProjectionStore.layerMemory` here, for tests and in-memory read models;
 * - `SqlProjectionStore.layer` in `@chronicle/sql-store`, whose
 *   `transaction` is a database transaction, so a SQL read model's writes and
 *   the checkpoint advance commit together (exactly-once in effect).
 *
 * A projection instance is keyed by name and version, so a new version can
 * be built beside the old one (blue/green). Leases keep one instance of a
 * key processing at a time across processes: a checkpoint write is fenced by
 * the lease, so an instance that lost its lease can never advance it.
 *
 * @since 0.1.0
 */
import { Context, DateTime, Duration, Effect, Layer, Option, Schema } from "effect"
import type { StoredEvent } from "./Event.js"
import type { EventFilter } from "./EventStore.js"
import * as Position from "./Position.js"
import type { StoreError } from "./StoreError.js"

/**
 * Identifies one version of a projection.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProjectionStore } from "@chronicle/core"
 *
 * const key: ProjectionStore.Key = { name: "balances", version: 2 }
 * const record = Effect.flatMap(ProjectionStore.ProjectionStore, (store) => store.get(key))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Key {
  readonly name: string
  readonly version: number
}

/**
 * What a projection instance last said it was doing:
 *
 * - `starting`: registered, not processing yet;
 * - `running`: processing, behind the head;
 * - `caught-up`: processed everything it reads up to the head;
 * - `rebuilding`: building a version that is not active yet (or a rebuild in place);
 * - `retrying`: a passing fault (a lost connection, a lock, a timeout) holds
 *   it at one batch; it retries by itself, and `error` says why and how often;
 * - `failed`: stopped at a bad event under the `stop` policy, or on a defect;
 * - `stopped`: stopped on purpose.
 *
 * A stored state is what a runner wrote; `ProjectionAdmin.status` tells whether a
 * runner is still alive behind it.
 *
 * @example
 * ```ts
 * import type { ProjectionStore } from "@chronicle/core"
 *
 * const needsAttention = (state: ProjectionStore.State): boolean => state === "failed" || state === "retrying"
 * ```
 * @since 0.1.0
 * @category models
 */
export type State = "starting" | "running" | "caught-up" | "rebuilding" | "retrying" | "failed" | "stopped"

/**
 * A lease that is live now (by the store's clock): who holds it, and until
 * when unless renewed.
 *
 * @example
 * ```ts
 * import { DateTime } from "effect"
 * import type { ProjectionStore } from "@chronicle/core"
 *
 * const describe = (lease: ProjectionStore.Lease): string =>
 *   `held by ${lease.owner} until ${DateTime.formatIso(lease.expiresAt)}`
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Lease {
  readonly owner: string
  readonly expiresAt: DateTime.Utc
}

/**
 * The stored record of one projection version.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Position, ProjectionStore } from "@chronicle/core"
 *
 * const describe = (record: ProjectionStore.Record): string =>
 *   `${record.name} v${record.version}${record.active ? " (active)" : ""}: ${record.state} at ` +
 *   Option.match(record.checkpoint, { onNone: () => "the start", onSome: Position.format })
 * const report = Effect.map(Effect.flatMap(ProjectionStore.ProjectionStore, (store) => store.list), (records) => records.map(describe))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Record {
  readonly name: string
  readonly version: number
  readonly checkpoint: Option.Option<Position.Position>
  readonly state: State
  readonly error: Option.Option<string>
  /** The events the projection reads, as registered by its runner. */
  readonly filter: EventFilter
  readonly active: boolean
  /**
   * When a runner last wrote the record (state or checkpoint). A runner writes
   * its state only when it changes, so this stays put while nothing happens;
   * whether a runner is alive is its `lease`.
   */
  readonly updatedAt: DateTime.Utc
  /** The live lease, if an instance holds one now; none once it expired or was released. */
  readonly lease: Option.Option<Lease>
}

/**
 * An event set aside after its handler kept failing.
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import { ProjectionStore } from "@chronicle/core"
 *
 * const describe = (parked: ProjectionStore.ParkedEvent): string =>
 *   `${parked.event.streamId}@${parked.event.version} parked ${DateTime.formatIso(parked.parkedAt)}: ${parked.reason}`
 * const parkedOfBalances = Effect.flatMap(ProjectionStore.ProjectionStore, (store) => store.parked({ name: "balances", version: 1 }))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface ParkedEvent {
  readonly key: Key
  readonly event: StoredEvent
  readonly reason: string
  readonly parkedAt: DateTime.Utc
}

/**
 * A checkpoint write was refused because this instance no longer holds the
 * projection's lease (another instance took over). Nothing was written.
 *
 * @example
 * ```ts
 * import { ProjectionStore } from "@chronicle/core"
 *
 * const error = new ProjectionStore.LeaseLostError({ name: "balances", version: 1, owner: "worker-1" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class LeaseLostError extends Schema.TaggedError<LeaseLostError>()("LeaseLostError", {
  name: Schema.String,
  version: Schema.Number,
  owner: Schema.String
}) {
  override get message(): string {
    return `Projection ${this.name} v${this.version}: ${this.owner} no longer holds the lease`
  }
}

/**
 * The projection store service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProjectionStore } from "@chronicle/core"
 *
 * const all = Effect.flatMap(ProjectionStore.ProjectionStore, (store) => store.list)
 * ```
 * @since 0.1.0
 * @category tags
 */
export class ProjectionStore extends Context.Tag("@chronicle/core/ProjectionStore")<
  ProjectionStore,
  {
    /**
     * `true` when `transaction` makes a whole batch atomic (a database
     * transaction). When `false`, runners process one event per transaction.
     */
    readonly atomicBatches: boolean
    /**
     * Runs `effect` so that it commits entirely or not at all: a database
     * transaction, or (in memory) an uninterruptible region.
     */
    readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError, R>
    /** Creates the record of a projection version if missing, and records its filter. */
    readonly register: (key: Key, filter: EventFilter) => Effect.Effect<void, StoreError>
    /** The record of a projection version, if it was registered. */
    readonly get: (key: Key) => Effect.Effect<Option.Option<Record>, StoreError>
    /** Every record, ordered by name, then version. */
    readonly list: Effect.Effect<ReadonlyArray<Record>, StoreError>
    /**
     * Advances the checkpoint; fenced by the lease of `owner`. With
     * `leaseTtl`, the same write renews the lease for that long, so a runner
     * whose connection is busy with back-to-back batches keeps its lease.
     */
    readonly saveCheckpoint: (
      key: Key,
      position: Position.Position,
      owner: string,
      leaseTtl?: Duration.Duration
    ) => Effect.Effect<void, StoreError | LeaseLostError>
    /** Clears the checkpoint (the next run starts from the beginning); fenced by the lease. */
    readonly resetCheckpoint: (key: Key, owner: string) => Effect.Effect<void, StoreError | LeaseLostError>
    /** Records a projection version's state, and the error that stopped it, if any. */
    readonly setState: (key: Key, state: State, error?: string) => Effect.Effect<void, StoreError>
    /** The version readers should use, if any was activated. */
    readonly activeVersion: (name: string) => Effect.Effect<Option.Option<number>, StoreError>
    /** Makes this version the one readers use, and no other version of the projection. */
    readonly activate: (key: Key) => Effect.Effect<void, StoreError>
    /**
     * Takes or renews the lease for `ttl`; `false` when another owner holds a
     * live lease (or no such projection is registered).
     */
    readonly acquireLease: (key: Key, owner: string, ttl: Duration.Duration) => Effect.Effect<boolean, StoreError>
    /** Gives the lease up, when this owner holds it. */
    readonly releaseLease: (key: Key, owner: string) => Effect.Effect<void, StoreError>
    /** Sets an event aside with its reason; parking the same event again replaces the reason. */
    readonly park: (key: Key, event: StoredEvent, reason: string) => Effect.Effect<void, StoreError>
    /** The events set aside for this projection version. */
    readonly parked: (key: Key) => Effect.Effect<ReadonlyArray<ParkedEvent>, StoreError>
    /**
     * Removes an event from the parked list; `true` when this call removed
     * it. Inside `transaction`, two concurrent calls for one event never both
     * get `true` (a replay claims the event with it).
     */
    readonly unpark: (key: Key, eventId: string) => Effect.Effect<boolean, StoreError>
    /** Forgets a projection version entirely (record, lease and parked events). */
    readonly remove: (key: Key) => Effect.Effect<void, StoreError>
  }
>() {}

const keyOf = (key: Key): string => `${key.name}@${key.version}`

interface MemoryRecord {
  record: Record
  lease: Option.Option<{ readonly owner: string; readonly expiresAt: number }>
  parked: Array<ParkedEvent>
}

/**
 * Builds an in-memory projection store. `transaction` is an uninterruptible
 * region, and batches are not atomic (a failure cannot undo in-memory
 * writes), so runners commit one event at a time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProjectionStore } from "@chronicle/core"
 *
 * const program = Effect.flatMap(ProjectionStore.makeMemory, (store) => store.list)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<ProjectionStore["Type"]> = Effect.sync(() => {
  const records = new Map<string, MemoryRecord>()
  const touch = (entry: MemoryRecord, change: Partial<Record>) =>
    Effect.map(DateTime.now, (updatedAt) => {
      entry.record = { ...entry.record, ...change, updatedAt }
    })
  const entryOf = (key: Key) => Option.fromNullable(records.get(keyOf(key)))
  const holds = (entry: MemoryRecord, owner: string, now: number) =>
    Option.isSome(entry.lease) && entry.lease.value.owner === owner && entry.lease.value.expiresAt > now
  const fenced = (key: Key, owner: string, change: Partial<Record>, leaseTtl?: Duration.Duration) =>
    Effect.flatMap(DateTime.now, (now) => {
      const entry = records.get(keyOf(key))
      if (entry === undefined || !holds(entry, owner, now.epochMillis)) {
        return Effect.fail(new LeaseLostError({ name: key.name, version: key.version, owner }))
      }
      if (leaseTtl !== undefined) {
        entry.lease = Option.some({ owner, expiresAt: now.epochMillis + Duration.toMillis(leaseTtl) })
      }
      return touch(entry, change)
    })
  const withLease = (entry: MemoryRecord, now: number): Record => ({
    ...entry.record,
    lease: Option.flatMap(entry.lease, (lease) =>
      lease.expiresAt > now
        ? Option.some({ owner: lease.owner, expiresAt: DateTime.unsafeMake(lease.expiresAt) })
        : Option.none()
    )
  })

  return ProjectionStore.of({
    atomicBatches: false,
    transaction: (effect) => Effect.uninterruptible(effect),
    register: (key, filter) =>
      Effect.flatMap(DateTime.now, (now) =>
        Effect.sync(() => {
          const existing = records.get(keyOf(key))
          if (existing !== undefined) {
            existing.record = { ...existing.record, filter }
            return
          }
          records.set(keyOf(key), {
            record: {
              name: key.name,
              version: key.version,
              checkpoint: Option.none(),
              state: "starting",
              error: Option.none(),
              filter,
              active: false,
              updatedAt: now,
              lease: Option.none()
            },
            lease: Option.none(),
            parked: []
          })
        })
      ),
    get: (key) => Effect.map(DateTime.now, (now) => Option.map(entryOf(key), (e) => withLease(e, now.epochMillis))),
    list: Effect.map(DateTime.now, (now) =>
      [...records.values()]
        .map((e) => withLease(e, now.epochMillis))
        .sort((a, b) => (a.name === b.name ? a.version - b.version : a.name < b.name ? -1 : 1))
    ),
    saveCheckpoint: (key, position, owner, leaseTtl) =>
      fenced(key, owner, { checkpoint: Option.some(position) }, leaseTtl),
    resetCheckpoint: (key, owner) => fenced(key, owner, { checkpoint: Option.none() }),
    setState: (key, state, error) =>
      Option.match(entryOf(key), {
        onNone: () => Effect.void,
        onSome: (entry) => touch(entry, { state, error: Option.fromNullable(error) })
      }),
    activeVersion: (name) =>
      Effect.sync(() =>
        Option.fromNullable([...records.values()].find((e) => e.record.name === name && e.record.active)).pipe(
          Option.map((e) => e.record.version)
        )
      ),
    activate: (key) =>
      Effect.sync(() => {
        for (const entry of records.values()) {
          if (entry.record.name === key.name) {
            entry.record = { ...entry.record, active: entry.record.version === key.version }
          }
        }
      }),
    acquireLease: (key, owner, ttl) =>
      Effect.flatMap(DateTime.now, (now) =>
        Effect.sync(() => {
          const entry = records.get(keyOf(key))
          if (entry === undefined) return false
          const free =
            Option.isNone(entry.lease) ||
            entry.lease.value.owner === owner ||
            entry.lease.value.expiresAt <= now.epochMillis
          if (free) entry.lease = Option.some({ owner, expiresAt: now.epochMillis + Duration.toMillis(ttl) })
          return free
        })
      ),
    releaseLease: (key, owner) =>
      Effect.sync(() => {
        const entry = records.get(keyOf(key))
        if (entry !== undefined && Option.isSome(entry.lease) && entry.lease.value.owner === owner) {
          entry.lease = Option.none()
        }
      }),
    park: (key, event, reason) =>
      Effect.flatMap(DateTime.now, (parkedAt) =>
        Effect.sync(() => {
          // one entry per event: parking it again replaces its reason (as the SQL store does)
          const entry = records.get(keyOf(key))
          if (entry === undefined) return
          entry.parked = [
            ...entry.parked.filter((p) => p.event.eventId !== event.eventId),
            { key, event, reason, parkedAt }
          ]
        })
      ),
    parked: (key) => Effect.sync(() => [...(records.get(keyOf(key))?.parked ?? [])]),
    unpark: (key, eventId) =>
      Effect.sync(() => {
        const entry = records.get(keyOf(key))
        if (entry === undefined) return false
        const before = entry.parked.length
        entry.parked = entry.parked.filter((p) => p.event.eventId !== eventId)
        return entry.parked.length < before
      }),
    remove: (key) =>
      Effect.sync(() => {
        records.delete(keyOf(key))
      })
  })
})

/**
 * A layer with a fresh in-memory projection store.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { ProjectionStore, EventStore } from "@chronicle/core"
 *
 * const stores = Layer.merge(EventStore.layerMemory(), ProjectionStore.layerMemory)
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<ProjectionStore> = Layer.effect(ProjectionStore, makeMemory)

/**
 * Orders two positions, treating none as the start.
 *
 * @internal
 */
export const checkpointOrStart = (checkpoint: Option.Option<Position.Position>): Position.Position =>
  Option.getOrElse(checkpoint, () => Position.start)
