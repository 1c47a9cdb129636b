/**
 * The conformance suite's journal on SQL: one table per journal, written
 * through the `SqlClient` inside the projection store's transaction, with no
 * unique key (so a double application shows).
 */
import type { ProjectionStoreConformance } from "@chronicle/core/testing"
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"

const table = (journal: string) => `journal_${journal}`

const Rows = Schema.Array(Schema.Struct({ event_id: Schema.String }))

export const sqlJournal: ProjectionStoreConformance.Journal<SqlClient.SqlClient> = {
  create: (journal) =>
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql`CREATE TABLE IF NOT EXISTS ${sql(table(journal))} (event_id TEXT NOT NULL)`
    ),
  record: (journal, eventId) =>
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql`INSERT INTO ${sql(table(journal))} (event_id) VALUES (${eventId})`
    ),
  read: (journal) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.flatMap(sql`SELECT event_id FROM ${sql(table(journal))}`, Schema.decodeUnknown(Rows))
    ).pipe(Effect.map((rows) => rows.map((row) => row.event_id)))
}
