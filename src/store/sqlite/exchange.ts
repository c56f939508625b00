/**
 * The worker's hot path in one write transaction: record the runs that
 * completed since the last exchange, give back jobs held but never started,
 * and claim the next jobs. A worker that claims a few jobs ahead does one of
 * these per batch instead of a claim and a settle per job.
 * @module
 */

import type { ExchangeReply, ExchangeRequest } from "../store.ts";
import { claimRows, dueJobs } from "./claim.ts";
import type { Row, SqliteDb } from "./db.ts";
import { completeRow } from "./settle.ts";

/** See Store.exchange. */
export async function exchange(
  db: SqliteDb,
  worker: string,
  request: ExchangeRequest,
): Promise<ExchangeReply> {
  const now = db.now();
  db.markSeen();
  const completed = request.completed ?? [];
  const release = request.release ?? [];
  const want = request.claim ?? 0;
  const scope = { queues: request.queues, before: request.before };
  // Nothing to write and nothing (better) due: a read, no write lock.
  if (
    completed.length === 0 && release.length === 0 &&
    (want === 0 || dueJobs(db, now, 1, scope).length === 0)
  ) {
    return { completed: [], claimed: [] };
  }
  return await db.tx(() => {
    releaseHeld(db, worker, release, now);
    const recorded = completed.filter(({ id, result }) => completeRow(db, id, worker, result, now))
      .map(({ id }) => id);
    const claimed = claimRows(db, worker, now, request.leaseMs, want, scope);
    return { completed: recorded, claimed };
  });
}

/**
 * Gives back jobs `worker` claimed but never started, inside the caller's
 * transaction: each returns to its state before the claim (pending, or failed
 * and due when it had run before), its attempt count and times restored and
 * the attempt that never ran removed. Returns the ids given back.
 */
export function releaseHeld(
  db: SqliteDb,
  worker: string,
  ids: readonly string[],
  now: number,
): string[] {
  const released: string[] = [];
  const release = db.sql(`
    UPDATE jobs
    SET state = CASE WHEN attempts > 1 THEN 'failed' ELSE 'pending' END,
        attempts = attempts - 1, runs = runs - 1, worker = NULL, lease_until = NULL,
        updated_at = ?, started_at = (SELECT a.started_at FROM attempts a
                      WHERE a.job_seq = jobs.seq AND a.attempt = jobs.runs - 1),
        finished_at = (SELECT a.finished_at FROM attempts a
                       WHERE a.job_seq = jobs.seq AND a.attempt = jobs.runs - 1)
    WHERE id = ? AND state = 'processing' AND worker = ?
    RETURNING seq, runs`);
  const forget = db.sql("DELETE FROM attempts WHERE job_seq = ? AND attempt = ?");
  for (const id of ids) {
    const row = release.get(now, id, worker) as Row | undefined;
    if (!row) continue;
    forget.run(row.seq, (row.runs as number) + 1);
    released.push(id);
  }
  return released;
}
