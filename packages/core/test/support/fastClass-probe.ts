/**
 * Run by fastClass.test.ts in a child Node process started with
 * `--allow-natives-syntax`: prints, as JSON, whether V8 holds each class in
 * fast mode before and after the code under test touched it. The classes
 * are named the way esbuild's `keepNames` names them (tsx, vitest), by
 * redefining `name`, which turns them into dictionary-mode objects.
 */
import { Either, Schema } from "effect"
import { EventCodec, Position } from "../../src/index.js"
import { keepFast } from "../../src/internal/fastClass.js"

// `%HasFastProperties` is V8 syntax, not TypeScript: built at run time.
const hasFastProperties = new Function("o", "return %HasFastProperties(o)") as (o: unknown) => boolean

// What esbuild emits for `keepNames`, written out (so that the check does
// not depend on how this file is compiled).
const named = (klass: object, name: string): void => {
  Object.defineProperty(klass, "name", { value: name, configurable: true })
}

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {
  static {
    named(Deposited, "Deposited")
  }
}
class Plain {
  readonly plain = true
  static {
    named(Plain, "Plain")
  }
}

const before = {
  deposited: hasFastProperties(Deposited),
  plain: hasFastProperties(Plain)
}
// One event type, as W4's aggregate (building a Schema.Union of classes
// happens to put them back in fast mode by itself).
const codec = EventCodec.make(Deposited)
const decoded = codec.decodePayload("Deposited", { amount: 3 })
keepFast(Plain)
const after = {
  deposited: hasFastProperties(Deposited),
  // never decoded: the codec keeps a class fast from its first decoded value
  plain: hasFastProperties(Plain),
  position: hasFastProperties(Position.Position)
}
console.log(JSON.stringify({ before, after, decoded: Either.isRight(decoded) && decoded.right instanceof Deposited }))
