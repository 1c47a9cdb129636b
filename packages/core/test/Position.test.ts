import { Position } from "@chronicle/core"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Either, FastCheck, Schema } from "effect"

const position = FastCheck.tuple(
  FastCheck.oneof(FastCheck.constant(0n), FastCheck.bigInt({ min: 0n, max: 2n ** 63n - 1n })),
  FastCheck.bigInt({ min: 0n, max: 2n ** 63n - 1n })
).map(([commit, sequence]) => Position.make(commit, sequence))

/** What the text grammar accepts: 1 to 20 digits, optionally `<digits>/` or `<digits>:` before. */
const wellFormed = /^\s*(\d{1,20}[/:])?\d{1,20}\s*$/

describe("Position", () => {
  it.prop("encode then decode is the identity", [position], ([p]) => {
    expect(Position.decode(Position.encode(p))).toEqual(Either.right(p))
  })

  it.prop("there is one text form: encode, format, toString and toJSON agree", [position], ([p]) => {
    const text = Position.encode(p)
    expect(Position.format(p)).toBe(text)
    expect(p.toString()).toBe(text)
    expect(`${p}`).toBe(text)
    expect(JSON.stringify({ p })).toBe(JSON.stringify({ p: text }))
    expect(text).toBe(p.commit === 0n ? `${p.sequence}` : `${p.commit}/${p.sequence}`)
    expect(Schema.encodeSync(Position.FromString)(p)).toBe(text)
  })

  it.prop("the older <commit>:<sequence> form still decodes", [position], ([p]) => {
    expect(Position.decode(`${p.commit}:${p.sequence}`)).toEqual(Either.right(p))
    expect(Schema.decodeUnknownSync(Position.FromString)(`${p.commit}:${p.sequence}`)).toEqual(p)
  })

  it.prop("any other text is refused with InvalidPosition, naming it", [FastCheck.string()], ([text]) => {
    const decoded = Position.decode(text)
    if (wellFormed.test(text)) {
      expect(Either.isRight(decoded)).toBe(true)
    } else {
      expect(decoded).toEqual(Either.left(new Position.InvalidPosition({ text })))
      if (Either.isLeft(decoded)) {
        expect(decoded.left._tag).toBe("InvalidPosition")
        expect(decoded.left.message).toContain(JSON.stringify(text))
      }
    }
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
    expect(sorted.map(Position.encode)).toEqual(["0", "9", "1/5", "2/1"])
    expect(Position.make(1n, 2n)).toEqual(Position.make(1n, 2n))
  })

  it("reads a bare sequence and rejects malformed text", () => {
    expect(Position.decode("42")).toEqual(Either.right(Position.make(0n, 42n)))
    expect(Position.decode("0/42")).toEqual(Either.right(Position.make(0n, 42n)))
    expect(Position.decode("28629/3")).toEqual(Either.right(Position.make(28629n, 3n)))
    for (const bad of [
      "",
      "x",
      "1:",
      ":1",
      "1/",
      "/1",
      "-1",
      "1:2:3",
      "1/2/3",
      "1/2:3",
      "1.5",
      "1 / 2",
      "0x10",
      "1e3"
    ]) {
      const decoded = Position.decode(bad)
      expect(Either.isLeft(decoded) && decoded.left instanceof Position.InvalidPosition).toBe(true)
    }
    expect(Either.isLeft(Position.decode("1".repeat(21)))).toBe(true)
    expect(() => Schema.decodeUnknownSync(Position.FromString)("nope")).toThrow(/not a position/)
  })

  it("renders compactly", () => {
    expect(Position.make(0n, 7n).toString()).toBe("7")
    expect(Position.make(5n, 7n).toString()).toBe("5/7")
    expect(JSON.stringify({ p: Position.make(5n, 7n) })).toBe('{"p":"5/7"}')
  })
})
