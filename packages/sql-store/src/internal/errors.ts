/**
 * Maps driver failures to the store's typed errors, so that no raw
 * `SqlError`, `ParseError` or defect escapes the store.
 *
 * @internal
 */
import { EventStore } from "@chronicle/core"
import { SqlError } from "@effect/sql/SqlError"
import { Cause, Effect, ParseResult } from "effect"

const causeMessage = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "string") return cause
  return String(cause)
}

/** @internal */
export const describe = (error: unknown): string => {
  if (error instanceof SqlError) {
    const inner = error.cause === undefined ? "" : `: ${causeMessage(error.cause)}`
    return `${error.message}${inner}`
  }
  if (ParseResult.isParseError(error))
    return `a stored row does not decode: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
  return causeMessage(error)
}

/** @internal */
export const toStoreError =
  (operation: string) =>
  (error: unknown): EventStore.StoreError =>
    error instanceof EventStore.StoreError
      ? error
      : new EventStore.StoreError({ operation, reason: describe(error), cause: error })

/**
 * `SqlClient.withTransaction` turns a failed COMMIT or ROLLBACK (for example
 * on a lost connection) into a defect carrying the `SqlError`. This turns
 * such defects back into a `StoreError` (as well as any defect `alsoCatch`
 * accepts, such as the Migrator's `MigrationError`); any other defect stays
 * a defect.
 *
 * @internal
 */
export const catchSqlDefects =
  (operation: string, alsoCatch: (defect: unknown) => boolean = () => false) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | EventStore.StoreError, R> =>
    Effect.catchAllCause(effect, (cause): Effect.Effect<never, E | EventStore.StoreError> => {
      const defect = Cause.dieOption(cause)
      if (
        defect._tag === "Some" &&
        (defect.value instanceof SqlError || defect.value instanceof EventStore.StoreError || alsoCatch(defect.value))
      ) {
        return Effect.fail(toStoreError(operation)(defect.value))
      }
      return Effect.failCause(cause)
    })

/** The SQLSTATE of a driver error, when it has one. @internal */
export const sqlState = (error: SqlError): string | undefined => {
  const cause: unknown = error.cause
  if (typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string") {
    return cause.code
  }
  return undefined
}

/** The violated constraint of a driver error, when it names one. @internal */
export const constraintName = (error: SqlError): string | undefined => {
  const cause: unknown = error.cause
  if (typeof cause === "object" && cause !== null && "constraint" in cause && typeof cause.constraint === "string") {
    return cause.constraint
  }
  return undefined
}

/** A result that breaks the store's own invariants (never expected). @internal */
export const inconsistent = (reason: string): EventStore.StoreError =>
  new EventStore.StoreError({ operation: "append", reason: `inconsistent result: ${reason}`, cause: null })

const staleConnection = /not queryable|Connection terminated|ECONNRESET|EPIPE|Client was closed/i

/**
 * A client-side connection failure with no server SQLSTATE: typically a
 * pooled connection whose backend is already gone, so the statement never
 * ran on the server. (A statement the server aborted, e.g. with
 * `terminating connection due to administrator command`, carries a SQLSTATE
 * and is not matched.)
 *
 * @internal
 */
export const isStaleConnection = (error: unknown): boolean =>
  error instanceof SqlError && sqlState(error) === undefined && staleConnection.test(describe(error))
