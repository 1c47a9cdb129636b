/**
 * Issue 12 (W4): decoding a page of PostgreSQL event rows builds the values
 * consecutive rows share (the transaction id, the timestamp, the metadata of
 * one append) once, from the previous row. These properties prove that a
 * page decodes to exactly what decoding each row alone gives, whatever
 * repeats or changes from row to row, bad rows included.
 *
 * The timestamp is selected as text and parsed by the store, once per
 * distinct text, instead of by the driver into a `Date` on every row: it must
 * give the very value the driver's `Date` gave, checked against the `pg`
 * driver's own timestamptz parser, on generated texts and on what PostgreSQL
 * itself writes in several time zones (microseconds are cut to the
 * millisecond, as the driver cuts them).
 */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Either, FastCheck } from "effect"
import pg from "pg"
import * as Rows from "../src/internal/rows.js"
import * as Postgres from "./support/postgres.js"

/** What the `pg` driver reads a timestamptz column as (postgres-date): a `Date`, or `Infinity`, `null`… */
const driverParse: (text: string) => unknown = pg.types.getTypeParser(1184, "text")

/** The driver's value as the store's `DateTime`, `undefined` when it is no valid `Date`. */
const viaDriver = (text: string): number | undefined => {
  const parsed = driverParse(text)
  return parsed instanceof Date && !Number.isNaN(parsed.getTime()) ? parsed.getTime() : undefined
}

const viaStore = (text: string): number | undefined => {
  const parsed = Rows.pgTimestamp(text)
  return parsed === undefined ? undefined : DateTime.toEpochMillis(parsed)
}

const pad = (n: number, width: number) => String(n).padStart(width, "0")

/** A timestamptz as PostgreSQL writes it in the ISO DateStyle. */
const pgText = FastCheck.record({
  year: FastCheck.oneof(FastCheck.integer({ min: 1, max: 120 }), FastCheck.integer({ min: 1, max: 300_000 })),
  bc: FastCheck.boolean(),
  month: FastCheck.integer({ min: 1, max: 12 }),
  day: FastCheck.integer({ min: 1, max: 28 }),
  hour: FastCheck.integer({ min: 0, max: 23 }),
  minute: FastCheck.integer({ min: 0, max: 59 }),
  second: FastCheck.integer({ min: 0, max: 59 }),
  micros: FastCheck.oneof(
    FastCheck.constantFrom(0, 1, 999, 1_000, 1_001, 9_000, 290_000, 570_000, 999_999, 123_456),
    FastCheck.integer({ min: 0, max: 999_999 })
  ),
  offsetSign: FastCheck.constantFrom("+", "-"),
  offsetHours: FastCheck.integer({ min: 0, max: 15 }),
  offsetMinutes: FastCheck.constantFrom(0, 0, 30, 45, 53),
  offsetSeconds: FastCheck.constantFrom(0, 0, 28)
}).map((t) => {
  const fraction = t.micros === 0 ? "" : `.${pad(t.micros, 6)}`.replace(/0+$/, "")
  const zone =
    t.offsetSeconds !== 0
      ? `:${pad(t.offsetMinutes, 2)}:${pad(t.offsetSeconds, 2)}`
      : t.offsetMinutes !== 0
        ? `:${pad(t.offsetMinutes, 2)}`
        : ""
  const sign = t.offsetHours === 0 && zone === "" ? "+" : t.offsetSign
  return `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)} ${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${fraction}${sign}${pad(t.offsetHours, 2)}${zone}${t.bc ? " BC" : ""}`
})

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

/** The metadata column as the event reads select it: its JSON text. */
const metadata = FastCheck.oneof(
  FastCheck.record({
    correlationId: FastCheck.constantFrom("c-1", "c-2"),
    causationId: FastCheck.constantFrom<string | null>("c-1", "x", null),
    user
  }).map((value) => JSON.stringify(value)),
  // excess keys are dropped
  FastCheck.record({
    correlationId: FastCheck.constantFrom("c-1", "c-2"),
    causationId: FastCheck.constantFrom<string | null>("c-1", null),
    user,
    extra: FastCheck.integer()
  }).map((value) => JSON.stringify(value)),
  // the same values in another text (spacing): equal metadata, not the same text
  FastCheck.constantFrom(
    '{"correlationId":"c-1","causationId":null,"user":{}}',
    '{ "correlationId": "c-1", "causationId": null, "user": {} }'
  ),
  // not the metadata: the row is decoded leniently and marked corrupt
  FastCheck.constantFrom<unknown>(
    '{"correlationId":1,"causationId":null,"user":{}}',
    '{"correlationId":"c-1","causationId":null}',
    '{"correlationId":"c-1","causationId":null,"user":null}',
    '"text"',
    "null",
    '{"correlationId":',
    "",
    { correlationId: "c-1", causationId: null, user: {} },
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
  recorded_at: FastCheck.constantFrom<unknown>(
    "1970-01-01 00:00:00+00",
    "1970-01-01 00:00:00+00",
    "1970-01-01 00:00:01+00",
    "1970-01-01 00:00:01.001+00",
    "1970-01-01 00:00:01.001999+00",
    "1970-01-01 05:30:01.001+05:30",
    "infinity",
    "yesterday",
    null,
    new Date(0)
  )
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
    const text = (value: unknown) => JSON.stringify(value)
    const base = {
      transaction_id: "700",
      event_id: "00000000-0000-4000-8000-000000000000",
      stream_id: "Acct-1",
      event_type: "Deposited",
      schema_version: 1,
      data: { amount: 1 }
    }
    const [a, b, c, d] = decode([
      { ...base, position: "1", stream_version: "1", metadata: text(meta), recorded_at: "1970-01-01 00:00:00.005+00" },
      { ...base, position: "2", stream_version: "2", metadata: text(meta), recorded_at: "1970-01-01 00:00:00.005+00" },
      {
        ...base,
        position: "3",
        stream_version: "3",
        metadata: text({ ...meta, user: { id: "u-2" } }),
        recorded_at: "1970-01-01 00:00:00.006+00"
      },
      {
        ...base,
        position: "4",
        stream_version: "4",
        metadata: text({ ...meta, user: { id: ["u-2"] } }),
        recorded_at: "1970-01-01 00:00:00.006+00"
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

describe("Rows.pgTimestamp", () => {
  it("reads a timestamptz text as the pg driver's Date reads it (microseconds cut to the millisecond)", () => {
    FastCheck.assert(
      FastCheck.property(pgText, (text) => {
        expect(viaStore(text)).toBe(viaDriver(text))
      }),
      { numRuns: 5000 }
    )
    // the cases the driver reads specially, spelled out
    expect(viaStore("2024-01-31 12:34:56.789999+00")).toBe(Date.UTC(2024, 0, 31, 12, 34, 56, 789))
    expect(viaStore("2024-01-31 12:34:56.1+00")).toBe(Date.UTC(2024, 0, 31, 12, 34, 56, 100))
    expect(viaStore("2024-01-31 12:34:56.000999-03:30")).toBe(Date.UTC(2024, 0, 31, 16, 4, 56, 0))
    expect(viaStore("1969-12-31 23:59:59.999999+00")).toBe(-1)
    expect(viaStore("0044-03-15 12:00:00+00:53:28 BC")).toBe(viaDriver("0044-03-15 12:00:00+00:53:28 BC"))
    expect(viaStore("0099-01-01 00:00:00+00")).toBe(viaDriver("0099-01-01 00:00:00+00"))
  })

  it("reads no timestamp where the driver read no valid Date: infinity, out of range, another DateStyle", () => {
    for (const text of [
      "infinity",
      "-infinity",
      "294276-12-31 23:59:59.999999+00",
      "Sat Jan 01 00:00:00 2000 UTC",
      "01/01/2000 00:00:00 UTC",
      "2000-01-01T00:00:00Z",
      ""
    ]) {
      expect({ text, store: viaStore(text), driver: viaDriver(text) }).toEqual({
        text,
        store: undefined,
        driver: undefined
      })
    }
    for (const value of [null, undefined, 0, new Date(0)]) expect(Rows.pgTimestamp(value)).toBeUndefined()
  })

  it("refuses texts PostgreSQL never writes for a timestamptz, which the driver's lenient parser would read", () => {
    // no zone (the driver would read local time), an empty fraction, an era other than BC
    for (const text of ["2000-01-01 00:00:00", "2000-01-01 00:00:00.+00", "2000-01-01 00:00:00+00 AD"]) {
      expect(viaDriver(text)).toBeDefined()
      expect(viaStore(text)).toBeUndefined()
    }
  })

  it.skipIf(!Postgres.available)(
    "reads what PostgreSQL writes, in any session time zone, as the driver reads it",
    async () => {
      const client = new pg.Client({ connectionString: Postgres.databaseUrl })
      await client.connect()
      try {
        for (const zone of ["UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Pacific/Chatham"]) {
          await client.query(`SET TimeZone = '${zone}'`)
          const { rows } = await client.query<{ text: string; value: unknown }>(
            `SELECT t::text AS text, t AS value FROM unnest(ARRAY[
               '2024-01-31 12:34:56.789999+00', '2024-07-01 00:00:00.000001+00', '2024-07-01 00:00:00+00',
               '1900-01-01 00:00:00.5+00', '0044-03-15 12:00:00.123456+00 BC', '0099-12-31 23:59:59.999+00',
               '1969-12-31 23:59:59.999999+00', '275000-01-01 00:00:00.1234+00', '294276-12-31 23:59:59+00',
               'infinity', '-infinity'
             ]::timestamptz[]) AS t`
          )
          expect(rows).toHaveLength(11)
          for (const row of rows) {
            const driver =
              row.value instanceof Date && !Number.isNaN(row.value.getTime()) ? row.value.getTime() : undefined
            expect({ zone, text: row.text, millis: viaStore(row.text) }).toEqual({
              zone,
              text: row.text,
              millis: driver
            })
          }
        }
      } finally {
        await client.end()
      }
    }
  )
})

const sqliteRow = FastCheck.record({
  position: FastCheck.constantFrom<unknown>(1, 2, 3, "4", 1.5),
  event_id: FastCheck.uuid(),
  stream_id: FastCheck.constantFrom("Acct-1", "Acct-2"),
  stream_version: FastCheck.integer({ min: 1, max: 100 }),
  event_type: FastCheck.constantFrom("Deposited", "Withdrawn"),
  schema_version: FastCheck.constant(1),
  data: FastCheck.constantFrom('{"amount":1}', '{"amount":', "null"),
  metadata: FastCheck.constantFrom(
    '{"correlationId":"c-1","causationId":null,"user":{}}',
    '{"correlationId":1,"causationId":null,"user":{}}'
  ),
  recorded_at: FastCheck.constantFrom<unknown>(
    "2024-01-01T00:00:00.000Z",
    "2024-01-01T00:00:00.000Z",
    "2024-01-01T00:00:00.001Z",
    "yesterday",
    null,
    0
  )
})

describe("Rows.decodeSqliteEvents", () => {
  const attemptSqlite = (rows: ReadonlyArray<unknown>) =>
    Effect.runSync(Effect.either(Rows.decodeSqliteEvents(rows, { needVersion: true })))

  it("decodes a page exactly as it decodes each of its rows alone, sharing a repeated timestamp", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.array(sqliteRow, { maxLength: 12 }), (rows) => {
        const page = attemptSqlite(rows)
        const alone: Array<unknown> = []
        let failed: unknown
        for (const one of rows) {
          const decoded = attemptSqlite([one])
          if (Either.isLeft(decoded)) {
            failed = decoded
            break
          }
          alone.push(...decoded.right)
        }
        expect(page).toEqual(failed ?? Either.right(alone))
      }),
      { numRuns: 500 }
    )
    const base = {
      event_id: "00000000-0000-4000-8000-000000000000",
      stream_id: "Acct-1",
      event_type: "Deposited",
      schema_version: 1,
      data: "{}",
      metadata: '{"correlationId":"c-1","causationId":null,"user":{}}'
    }
    const [a, b, c] = Effect.runSync(
      Rows.decodeSqliteEvents(
        [
          { ...base, position: 1, stream_version: 1, recorded_at: "2024-01-01T00:00:00.005Z" },
          { ...base, position: 2, stream_version: 2, recorded_at: "2024-01-01T00:00:00.005Z" },
          { ...base, position: 3, stream_version: 3, recorded_at: "2024-01-01T00:00:00.006Z" }
        ],
        { needVersion: true }
      )
    )
    expect(b?.recordedAt).toBe(a?.recordedAt)
    expect(b?.metadata).toBe(a?.metadata)
    expect(c?.metadata).toBe(a?.metadata)
    expect(a?.recordedAt.epochMillis).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 5))
    expect(c?.recordedAt.epochMillis).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 6))
  })
})
