/**
 * Money in the bank: integer minor units ("cents"), never floating point.
 *
 * Amounts are bounded so that every sum the bank computes stays an exact
 * JavaScript integer, and so that `Arbitrary.make` never generates
 * `Infinity`, `NaN` or fractions (see STACK.md).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The largest single amount the bank accepts: 1,000,000,000,000 cents
 * (ten billion in major units).
 *
 * @example
 * ```ts
 * import { Money } from "@chronicle/example-bank"
 *
 * Money.format(Money.maxAmount) // "10,000,000,000.00"
 * ```
 * @since 0.1.0
 * @category constants
 */
export const maxAmount = 1_000_000_000_000

/**
 * A positive amount of money in integer minor units, at most {@link maxAmount}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Money } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Money.Cents)(500) // 500
 * Schema.decodeUnknownSync(Money.Cents)(-5) // throws: not a positive amount
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const Cents = Schema.Int.pipe(
  Schema.positive({ message: () => "an amount must be a positive whole number of cents" }),
  Schema.lessThanOrEqualTo(maxAmount, { message: () => `an amount is at most ${maxAmount} cents` })
).annotations({ identifier: "Cents", description: "a positive whole number of cents" })

/**
 * A non-negative amount in integer minor units, at most {@link maxAmount}:
 * used for limits that may be zero, such as an overdraft limit.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Money } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Money.NonNegativeCents)(0) // 0
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const NonNegativeCents = Schema.Int.pipe(
  Schema.nonNegative({ message: () => "a limit must be zero or a positive whole number of cents" }),
  Schema.lessThanOrEqualTo(maxAmount, { message: () => `a limit is at most ${maxAmount} cents` })
).annotations({ identifier: "NonNegativeCents", description: "zero or a positive whole number of cents" })

/**
 * The currencies the bank knows, as ISO 4217 codes (all with two decimals,
 * so an amount is always whole cents).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Money } from "@chronicle/example-bank"
 *
 * Schema.decodeUnknownSync(Money.Currency)("USD") // "USD"
 * ```
 * @since 0.2.0
 * @category schemas
 */
export const Currency = Schema.Literal("EUR", "USD", "GBP", "CHF").annotations({
  identifier: "Currency",
  description: "an ISO 4217 currency code: EUR, USD, GBP or CHF"
})

/**
 * @example
 * ```ts
 * import { Account, Money } from "@chronicle/example-bank"
 *
 * const deposit = (amount: number, currency: Money.Currency) => new Account.Deposit({ amount, currency })
 * ```
 * @since 0.2.0
 * @category schemas
 */
export type Currency = typeof Currency.Type

/**
 * The currency codes of {@link Currency}, in order.
 *
 * @example
 * ```ts
 * import { Money } from "@chronicle/example-bank"
 *
 * Money.currencies.join(", ") // "EUR, USD, GBP, CHF"
 * ```
 * @since 0.2.0
 * @category constants
 */
export const currencies: ReadonlyArray<Currency> = Currency.literals

/**
 * The currency of a deposit that names none, and of every deposit recorded
 * before deposits carried a currency (`MoneyDeposited` v1).
 *
 * @example
 * ```ts
 * import { Account, Money } from "@chronicle/example-bank"
 *
 * new Account.Deposit({ amount: 500 }).currency === Money.defaultCurrency // true: "EUR"
 * ```
 * @since 0.2.0
 * @category constants
 */
export const defaultCurrency: Currency = "EUR"

/**
 * Renders integer cents as major units with two decimals and thousands
 * separators. Negative amounts get a leading minus sign.
 *
 * @example
 * ```ts
 * import { Money } from "@chronicle/example-bank"
 *
 * Money.format(123456) // "1,234.56"
 * Money.format(-5) // "-0.05"
 * ```
 * @since 0.1.0
 * @category formatting
 */
export const format = (cents: number): string => {
  const sign = cents < 0 ? "-" : ""
  const abs = Math.abs(cents)
  const major = Math.trunc(abs / 100)
  const minor = abs % 100
  return `${sign}${major.toLocaleString("en-US")}.${minor.toString().padStart(2, "0")}`
}

/**
 * Renders a signed change of balance: `+1,000.00` or `-30.00`.
 *
 * @example
 * ```ts
 * import { Money } from "@chronicle/example-bank"
 *
 * Money.formatSigned(100000) // "+1,000.00"
 * ```
 * @since 0.1.0
 * @category formatting
 */
export const formatSigned = (cents: number): string => (cents > 0 ? `+${format(cents)}` : format(cents))
