/**
 * A least-recently-used cache bounded by a number of entries: a `Map` kept
 * in use order, the oldest entry evicted first.
 *
 * @internal
 */

/** @internal */
export interface LruCache<K, V> {
  /** The entry, marked as most recently used. */
  readonly get: (key: K) => V | undefined
  /** The entry, without touching its place in the use order. */
  readonly peek: (key: K) => V | undefined
  /** Stores the entry as the most recently used, evicting the oldest ones beyond the capacity. */
  readonly set: (key: K, value: V) => void
  readonly delete: (key: K) => void
  readonly size: () => number
}

/** @internal */
export const make = <K, V>(capacity: number): LruCache<K, V> => {
  const entries = new Map<K, V>()
  return {
    get: (key) => {
      const value = entries.get(key)
      if (value !== undefined) {
        entries.delete(key)
        entries.set(key, value)
      }
      return value
    },
    peek: (key) => entries.get(key),
    set: (key, value) => {
      entries.delete(key)
      entries.set(key, value)
      while (entries.size > capacity) {
        const oldest = entries.keys().next()
        if (oldest.done === true) break
        entries.delete(oldest.value)
      }
    },
    delete: (key) => {
      entries.delete(key)
    },
    size: () => entries.size
  }
}
