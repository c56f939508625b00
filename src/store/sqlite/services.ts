/**
 * Turns of periodic services (retention): one row per service says who holds
 * the current turn, until when, and when the next one is due, so only one
 * process at a time runs it, whatever the number of supervisors.
 * @module
 */

import type { Row, SqliteDb } from "./db.ts";

/** Takes the turn of service `name` for `holder` if it is due and free; returns whether it did. */
export async function serviceTurn(
  db: SqliteDb,
  name: string,
  holder: string,
  leaseMs: number,
): Promise<boolean> {
  const now = db.now();
  // A cheap read first: most calls find the service not due and need no write lock.
  const row = db.sql("SELECT holder, lease_until, due_at FROM services WHERE name = ?").get(name) as
    | Row
    | undefined;
  if (row && !isFree(row, holder, now)) return false;
  return await db.tx(() => {
    const taken = db.sql(`
      INSERT INTO services (name, holder, lease_until, due_at) VALUES (?, ?, ?, 0)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
      WHERE services.due_at <= ?
        AND (services.holder IS NULL OR services.holder = excluded.holder
             OR services.lease_until < ?)
      RETURNING holder`).get(name, holder, now + leaseMs, now, now) as Row | undefined;
    return taken !== undefined;
  });
}

function isFree(row: Row, holder: string, now: number): boolean {
  const leased = row.holder !== null && row.holder !== holder &&
    (row.lease_until as number) >= now;
  return (row.due_at as number) <= now && !leased;
}

/** Ends `holder`'s turn; the service is due again `againMs` from now. */
export async function serviceDone(
  db: SqliteDb,
  name: string,
  holder: string,
  againMs: number,
): Promise<void> {
  const now = db.now();
  await db.tx(() =>
    db.sql(`
      UPDATE services SET holder = NULL, lease_until = 0, due_at = ?
      WHERE name = ? AND holder = ?`).run(now + againMs, name, holder)
  );
}
