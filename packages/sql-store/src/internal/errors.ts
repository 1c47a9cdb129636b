/**
 * Maps driver failures to the store's typed errors, so that no raw
 * `SqlError`, `ParseError` or defect escapes the store.
 *
 * @internal
 */
import { StoreError } from "@chronicle/core"
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

/** How a failure reads as a store error: its reason and whether a retry can fix it. @internal */
export interface Classified {
  readonly reason: StoreError.Reason
  readonly retryable: boolean
}

const classified = (reason: StoreError.Reason, retryable = StoreError.isRetryableReason(reason)): Classified => ({
  reason,
  retryable
})

// Errors a socket reports (node's `code`), before any SQLSTATE exists.
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN"
])

// What a missing piece of setup reports: a missing table, column, database
// or role, a failed authentication, a missing privilege.
const misconfiguredStates = new Set(["42P01", "42703", "3D000", "3F000", "28000", "28P01", "42501", "42883"])

// PostgreSQL classes no retry can fix (besides the states above): a
// feature not supported, data not valid for its column, a constraint, an
// invalid transaction or SQL statement name, an external routine, other
// syntax or access rule violations, WITH CHECK OPTION.
const permanentPgClasses = ["0A", "22", "23", "26", "2B", "42", "44"]

const sqliteMisconfigured =
  /no such (table|column|function|module)|has no column named|unable to open database|readonly database|not authorized/i

const classifySqlError = (error: SqlError): Classified => {
  const state = sqlState(error)
  if (state === undefined) {
    // No code at all: the driver lost, or never had, its connection.
    return classified("unavailable")
  }
  if (networkCodes.has(state)) return classified("unavailable")
  if (state.startsWith("SQLITE_")) {
    if (state.startsWith("SQLITE_BUSY") || state.startsWith("SQLITE_LOCKED")) return classified("contention")
    if (state.startsWith("SQLITE_IOERR")) return classified("unavailable")
    if (state.startsWith("SQLITE_CORRUPT") || state.startsWith("SQLITE_NOTADB")) return classified("corrupt")
    if (state.startsWith("SQLITE_CANTOPEN") || state.startsWith("SQLITE_PERM") || state.startsWith("SQLITE_AUTH"))
      return classified("misconfigured")
    if (sqliteMisconfigured.test(describe(error))) return classified("misconfigured")
    return classified("internal", false)
  }
  if (state === "57014" || state === "55P03") return classified("timeout")
  if (state === "40001" || state === "40P01") return classified("contention")
  if (misconfiguredStates.has(state) || state.startsWith("28") || state.startsWith("3D") || state.startsWith("3F"))
    return classified("misconfigured")
  if (state.startsWith("08") || state.startsWith("53") || state.startsWith("57P")) return classified("unavailable")
  if (state === "XX001" || state === "XX002") return classified("corrupt")
  if (permanentPgClasses.some((prefix) => state.startsWith(prefix))) return classified("internal", false)
  // Anything else (a server in recovery, an operator intervention, a
  // resource limit) is taken as passing: readers retry rather than end.
  return classified("internal", true)
}

/**
 * The reason of a failure and whether it passes by itself: connection
 * failures are `unavailable`, statement and lock timeouts `timeout`,
 * deadlocks, serialization failures and a busy SQLite `contention` (all
 * retryable); missing tables, columns, databases, roles or privileges are
 * `misconfigured`, rows that do not decode `corrupt` (not retryable);
 * everything else is `internal`.
 *
 * @internal
 */
export const classify = (error: unknown): Classified => {
  if (StoreError.isStoreError(error)) return { reason: error.reason, retryable: error.retryable }
  if (error instanceof SqlError) return classifySqlError(error)
  if (ParseResult.isParseError(error)) return classified("corrupt")
  return classified("internal", false)
}

/** @internal */
export const toStoreError =
  (operation: string) =>
  (error: unknown): StoreError.StoreError => {
    if (StoreError.isStoreError(error)) return error
    const { reason, retryable } = classify(error)
    return new StoreError.StoreError({ operation, reason, retryable, detail: describe(error), cause: error })
  }

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
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreError.StoreError, R> =>
    Effect.catchAllCause(effect, (cause): Effect.Effect<never, E | StoreError.StoreError> => {
      const defect = Cause.dieOption(cause)
      if (
        defect._tag === "Some" &&
        (defect.value instanceof SqlError || StoreError.isStoreError(defect.value) || alsoCatch(defect.value))
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
export const inconsistent = (reason: string): StoreError.StoreError =>
  StoreError.make({ operation: "append", reason: "internal", detail: `inconsistent result: ${reason}` })

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

/**
 * A failure that passes by itself, so a reader retries it rather than
 * ending: a retryable one (see `classify`: the database is unreachable,
 * timed out, busy or deadlocked, or reported a fault of its own). Missing
 * tables, roles or privileges (`misconfigured`), rows that do not decode
 * (`corrupt`) and statements no retry can fix are not.
 *
 * @internal
 */
export const isTransient = (error: unknown): boolean => classify(error).retryable

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
