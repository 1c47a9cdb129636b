/**
 * The `PgClient` service tag, without loading `@effect/sql-pg`.
 *
 * `@effect/sql-pg` is an optional peer: an app on SQLite does not install it,
 * so the store must not import it at run time. This tag has the same key as
 * `PgClient.PgClient` of `@effect/sql-pg` (`"@effect/sql-pg/PgClient"`), so
 * it finds the client that `PgClient.layer` provides; only its type comes
 * from `@effect/sql-pg`, and types are erased. A test checks that the keys
 * still match, so a version of `@effect/sql-pg` that renames it is caught.
 *
 * @internal
 */
import type { PgClient as PgClientService } from "@effect/sql-pg/PgClient"
import { Context } from "effect"

/** The `PgClient` of `@effect/sql-pg`, found by its key. @internal */
export const PgClient: Context.Tag<PgClientService, PgClientService> =
  Context.GenericTag<PgClientService>("@effect/sql-pg/PgClient")
