import { Position } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Either, FastCheck, Schema } from "effect"

const position = FastCheck.tuple(
  FastCheck.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
  FastCheck.bigInt({ min: 0n, max: 2n ** 63n - 1n })
).map(([commit, sequence]) => Position.make(commit, sequence))

describe("Position", () => {
  it.prop("encode then decode is the identity", [position], ([p]) => {
    expect(Position.decode(Position.encode(p))).toEqual(Either.right(p))
  })

  it.prop("the order is lexicographic on (commit, sequence)", [position, position], ([a, b]) => {
    const expected = a.commit === b.commit ? Math.sign(Number(a.sequence - b.sequence)) : a.commit < b.commit ? -1 : 1
    expect(Position.Order(a, b)).toBe(expected)
    expect(Position.isAfter(a, b)).toBe(expected === 1)
  })

  it("start sorts before everything and positions compare by value", () => {
    const sorted = Arr.sort(
      [Position.make(2n, 1n), Position.make(0n, 9n), Position.start, Position.make(1n, 5n)],
      Position.Order
    )
    expect(sorted.map(Position.encode)).toEqual(["0:0", "0:9", "1:5", "2:1"])
    expect(Position.make(1n, 2n)).toEqual(Position.make(1n, 2n))
  })

  it("reads a bare sequence and rejects malformed text", () => {
    expect(Position.decode("42")).toEqual(Either.right(Position.make(0n, 42n)))
    for (const bad of ["", "x", "1:", ":1", "-1", "1:2:3", "1.5"])
      expect(Either.isLeft(Position.decode(bad))).toBe(true)
    expect(() => Schema.decodeUnknownSync(Position.FromString)("nope")).toThrow(/not a position/)
    expect(Schema.encodeSync(Position.FromString)(Position.make(3n, 4n))).toBe("3:4")
  })

  it("renders compactly", () => {
    expect(Position.make(0n, 7n).toString()).toBe("7")
    expect(Position.make(5n, 7n).toString()).toBe("5/7")
    expect(JSON.stringify({ p: Position.make(5n, 7n) })).toBe('{"p":"5:7"}')
  })
})
