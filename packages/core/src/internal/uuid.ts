/**
 * Name-based (version 5) UUIDs, so that retried commands derive the same
 * event ids and the store can deduplicate them.
 */
import { createHash } from "node:crypto"

// A fixed namespace for Chronicle's derived ids (itself a random v4 UUID).
const namespace = Buffer.from("3d0f5a1e6c2b4e8f9a7d1c5b2e4f6a80", "hex")

/** A deterministic UUID v5 of `name` in Chronicle's namespace. */
export const uuidV5 = (name: string): string => {
  const hash = createHash("sha1").update(namespace).update(name, "utf8").digest()
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
