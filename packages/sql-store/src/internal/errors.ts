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

/** The client never got a connection, so nothing was sent. @internal */
export const isAcquireFailure = (error: unknown): boolean =>
  error instanceof SqlError && error.message.startsWith("Failed to acquire connection")

const notSent = /not queryable|Client was closed/i

/**
 * The client refused to send on a connection it already knew was closed:
 * the statement never reached the server.
 *
 * @internal
 */
export const isNotSent = (error: unknown): boolean =>
  error instanceof SqlError && sqlState(error) === undefined && notSent.test(describe(error))

/**
 * A PostgreSQL failure after which a statement (or a COMMIT) that was sent
 * may nevertheless have been committed: the connection broke while the
 * request was in flight, so its answer was lost. That is any failure with no
 * SQLSTATE (the socket closed or reset), or one of class 08 (connection
 * exception) or 57P01-57P03 (the server ended the session), except when the
 * client never had a connection or refused to send on a closed one.
 *
 * @internal
 */
export const isOutcomeUnknown = (error: unknown): boolean => {
  if (!(error instanceof SqlError) || isAcquireFailure(error)) return false
  const state = sqlState(error)
  if (state === undefined) return !notSent.test(describe(error))
  return state.startsWith("08") || state === "57P01" || state === "57P02" || state === "57P03"
}

const transientSqliteCodes = ["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR"]

// PostgreSQL classes that no retry can fix: a missing table, column, schema
// or database, a missing privilege, failed authentication, bad SQL, data
// that is not valid for its column. Every other SQLSTATE (a lost or refused
// connection, a shutdown, a deadlock, a serialization failure, a timeout, a
// lock, an overloaded server, and whatever the driver reports without one)
// is taken as passing: a reader retries it rather than ending.
const permanentPgClasses = ["0A", "22", "23", "26", "28", "2B", "3D", "3F", "42", "44"]

/**
 * A failure that passes by itself: the database is unreachable, restarting,
 * overloaded, locked, or ended the session or the statement (a lost
 * connection, a deadlock, a serialization failure, a statement timeout).
 * Bad SQL, missing tables, missing privileges and rows that do not decode
 * are not.
 *
 * @internal
 */
export const isTransient = (error: unknown): boolean => {
  const cause = error instanceof EventStore.StoreError ? error.cause : error
  if (!(cause instanceof SqlError)) return false
  const state = sqlState(cause)
  if (state === undefined) return true
  if (state.startsWith("SQLITE_")) return transientSqliteCodes.some((code) => state.startsWith(code))
  return !permanentPgClasses.some((prefix) => state.startsWith(prefix))
}

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
