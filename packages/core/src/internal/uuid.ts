/**
 * Name-based (version 5) UUIDs, so that retried commands derive the same
 * event ids and the store can deduplicate them.
 */
import { hash } from "node:crypto"

// A fixed namespace for Chronicle's derived ids (itself a random v4 UUID).
const namespace = Buffer.from("3d0f5a1e6c2b4e8f9a7d1c5b2e4f6a80", "hex")

// The bytes hashed: the namespace, then the name's UTF-8 written after it.
// Reused across calls (each call fills and hashes it synchronously): one
// one-shot `hash` instead of a `Hash` object and two `update`s per id.
let input = Buffer.alloc(256)
namespace.copy(input)

/** A deterministic UUID v5 of `name` in Chronicle's namespace. */
export const uuidV5 = (name: string): string => {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  const longest = namespace.length + name.length * 3
  if (input.length < longest) {
    input = Buffer.alloc(longest * 2)
    namespace.copy(input)
  }
  const written = input.write(name, namespace.length, "utf8")
  const digest = hash("sha1", input.subarray(0, namespace.length + written), "buffer")
  digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x50
  digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80
  const hex = digest.subarray(0, 16).toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
