/**
 * Issue 12 (W4): decoding a page of PostgreSQL event rows builds the values
 * consecutive rows share (the transaction id, the timestamp, the metadata of
 * one append) once, from the previous row. These properties prove that a
 * page decodes to exactly what decoding each row alone gives, whatever
 * repeats or changes from row to row, bad rows included.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck } from "effect"
import * as Rows from "../src/internal/rows.js"

const user = FastCheck.oneof(
  FastCheck.constant({}),
  FastCheck.constant({ id: "u-1" }),
  FastCheck.constant({ id: "u-1", admin: true }),
  FastCheck.constant({ id: "u-2" }),
  FastCheck.constant({ zero: 0 }),
  FastCheck.constant({ zero: -0 }),
  FastCheck.constant({ id: "u-1", roles: ["a"] }),
  FastCheck.constant({ nested: { id: "u-1" } }),
  FastCheck.dictionary(FastCheck.string({ maxLength: 3 }), FastCheck.oneof(FastCheck.string(), FastCheck.integer()))
)

const metadata = FastCheck.oneof(
  FastCheck.record({
    correlationId: FastCheck.constantFrom("c-1", "c-2"),
    causationId: FastCheck.constantFrom<string | null>("c-1", "x", null),
    user
  }),
  // excess keys are dropped
  FastCheck.record({
    correlationId: FastCheck.constantFrom("c-1", "c-2"),
    causationId: FastCheck.constantFrom<string | null>("c-1", null),
    user,
    extra: FastCheck.integer()
  }),
  // not the metadata: the row is decoded leniently and marked corrupt
  FastCheck.constantFrom<unknown>(
    { correlationId: 1, causationId: null, user: {} },
    { correlationId: "c-1", causationId: null },
    { correlationId: "c-1", causationId: null, user: null },
    "text",
    null
  )
)

const row = FastCheck.record({
  transaction_id: FastCheck.constantFrom<unknown>("700", "701", "702", "7x", 700),
  position: FastCheck.nat({ max: 1000 }).map(String),
  event_id: FastCheck.uuid(),
  stream_id: FastCheck.constantFrom("Acct-1", "Acct-2"),
  stream_version: FastCheck.integer({ min: 1, max: 100 }).map(String),
  event_type: FastCheck.constantFrom("Deposited", "Withdrawn"),
  schema_version: FastCheck.constant(1),
  data: FastCheck.record({ amount: FastCheck.integer() }),
  metadata,
  recorded_at: FastCheck.constantFrom(0, 0, 1_000, 1_001, Number.NaN).map((millis) => new Date(millis))
})

/** A deep copy of driver rows (decoding freezes what it keeps). */
const copy = <A>(rows: A): A => structuredClone(rows)

const decode = (rows: ReadonlyArray<unknown>) => Effect.runSync(Rows.decodePgEvents(rows, { needVersion: true }))

const attempt = (rows: ReadonlyArray<unknown>) =>
  Effect.runSync(Effect.either(Rows.decodePgEvents(rows, { needVersion: true })))

/** Each row decoded alone; a row that cannot be placed fails the whole read, as it fails a page. */
const oneByOne = (rows: ReadonlyArray<unknown>) => {
  const events = []
  for (const one of rows) {
    const decoded = attempt([one])
    if (Either.isLeft(decoded)) return decoded
    events.push(...decoded.right)
  }
  return Either.right(events)
}

describe("Rows.decodePgEvents", () => {
  it("decodes a page exactly as it decodes each of its rows alone", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.array(row, { maxLength: 12 }), (rows) => {
        const page = attempt(copy(rows))
        expect(page).toEqual(oneByOne(copy(rows)))
        for (const event of Either.getOrElse(page, () => [])) {
          expect(Object.isFrozen(event)).toBe(true)
          expect(Object.isFrozen(event.metadata)).toBe(true)
          expect(Object.isFrozen(event.metadata.user)).toBe(true)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("shares the metadata and timestamp of consecutive rows of one append, not of rows that differ", () => {
    const meta = { correlationId: "c-1", causationId: "c-1", user: { id: "u-1" } }
    const base = {
      transaction_id: "700",
      event_id: "00000000-0000-4000-8000-000000000000",
      stream_id: "Acct-1",
      event_type: "Deposited",
      schema_version: 1,
      data: { amount: 1 }
    }
    const [a, b, c, d] = decode([
      { ...base, position: "1", stream_version: "1", metadata: copy(meta), recorded_at: new Date(5) },
      { ...base, position: "2", stream_version: "2", metadata: copy(meta), recorded_at: new Date(5) },
      {
        ...base,
        position: "3",
        stream_version: "3",
        metadata: { ...meta, user: { id: "u-2" } },
        recorded_at: new Date(6)
      },
      {
        ...base,
        position: "4",
        stream_version: "4",
        metadata: { ...meta, user: { id: ["u-2"] } },
        recorded_at: new Date(6)
      }
    ])
    expect(b?.metadata).toBe(a?.metadata)
    expect(b?.recordedAt).toBe(a?.recordedAt)
    expect(c?.metadata).not.toBe(b?.metadata)
    expect(c?.metadata.user).toEqual({ id: "u-2" })
    expect(c?.recordedAt.epochMillis).toBe(6)
    expect(d?.metadata).not.toBe(c?.metadata)
    expect(d?.metadata.user).toEqual({ id: ["u-2"] })
    expect(d?.recordedAt).toBe(c?.recordedAt)
  })
})
