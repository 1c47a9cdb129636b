/** How the explorer shows money, times and positions. */

/** Cents as major units with two decimals and thousands separators: 123456 → "1,234.56". */
export const money = (cents: number): string => {
  const sign = cents < 0 ? "−" : ""
  const abs = Math.abs(cents)
  return `${sign}${Math.trunc(abs / 100).toLocaleString("en-US")}.${String(abs % 100).padStart(2, "0")}`
}

/** An amount typed by a person ("12.50", "12,5", "1 000") as whole cents, or undefined if it is not one. */
export const parseAmount = (input: string): number | undefined => {
  const normalized = input.trim().replace(/[\s_]/g, "").replace(",", ".")
  if (!/^\d{1,13}(\.\d{1,2})?$/.test(normalized)) return undefined
  const [units = "0", fraction = ""] = normalized.split(".")
  return Number(units) * 100 + Number(fraction.padEnd(2, "0"))
}

/** An ISO instant in the reader's locale, to the second. */
export const time = (iso: string): string => {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" })
}

/** A value of a diff or a state, in a few characters. */
export const value = (v: unknown): string => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v))
