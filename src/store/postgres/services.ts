/**
 * Turns of periodic services (retention): one row per service says who holds
 * the current turn, until when, and when the next one is due, on the database
 * clock, so only one process on any machine runs it at a time.
 * @module
 */

import type { PgDb } from "./db.ts";
import { NOW, query } from "./sql.ts";

/** Takes the turn of service `name` for `holder` if it is due and free; returns whether it did. */
export async function serviceTurn(
  db: PgDb,
  name: string,
  holder: string,
  leaseMs: number,
): Promise<boolean> {
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `INSERT INTO services AS s (name, holder, lease_until, due_at)
       VALUES ($2, $3, ${NOW} + $4::bigint, 0)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
       WHERE s.due_at <= ${NOW}
         AND (s.holder IS NULL OR s.holder = excluded.holder OR s.lease_until < ${NOW})
       RETURNING holder`,
      [db.now(), name, holder, leaseMs],
    ));
  return rows.length > 0;
}

/** Ends `holder`'s turn; the service is due again `againMs` from now. */
export async function serviceDone(
  db: PgDb,
  name: string,
  holder: string,
  againMs: number,
): Promise<void> {
  await db.run("idempotent", (sql) =>
    query(
      sql,
      `UPDATE services SET holder = NULL, lease_until = 0, due_at = ${NOW} + $4::bigint
       WHERE name = $2 AND holder = $3`,
      [db.now(), name, holder, againMs],
    ));
}
