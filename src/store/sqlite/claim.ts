/**
 * Claim: take the next runnable jobs (highest priority, then earliest
 * `run_at`, then insertion order), mark them processing under a lease, and
 * open their attempts, inside the caller's write transaction.
 *
 * The walk never scans jobs that are not due: within one priority the claim
 * index is sorted by `run_at`, so its first row tells whether anything of
 * that priority is due, and the next priority is one seek away. A claim costs
 * one seek per priority that holds only future jobs, whatever their number.
 * @module
 */

import type { Job } from "../../core/types.ts";
import { toJob } from "../rows.ts";
import type { ClaimBefore } from "../store.ts";
import type { Row, SqliteDb } from "./db.ts";

/** The first job of the claim order with a priority below `below` (any, when `null`). */
function head(db: SqliteDb, below: number | null): Row | undefined {
  return (below === null
    ? db.sql(`
        SELECT priority, run_at FROM jobs INDEXED BY jobs_claim
        WHERE state IN ('pending', 'failed')
        ORDER BY priority DESC, run_at, seq LIMIT 1`).get()
    : db.sql(`
        SELECT priority, run_at FROM jobs INDEXED BY jobs_claim
        WHERE state IN ('pending', 'failed') AND priority < ?
        ORDER BY priority DESC, run_at, seq LIMIT 1`).get(below)) as Row | undefined;
}

/**
 * The seqs of up to `limit` due jobs in claim order, only those that run
 * before `before` when it is given. Reads only; safe outside a transaction.
 */
export function dueJobs(db: SqliteDb, now: number, limit: number, before?: ClaimBefore): number[] {
  const seqs: number[] = [];
  let below: number | null = null;
  while (seqs.length < limit) {
    const first = head(db, below);
    if (!first) break;
    const priority = first.priority as number;
    if (before && priority < before.priority) break;
    if ((first.run_at as number) <= now) {
      // Same priority as `before`: only jobs due earlier than it run before it.
      const until = before && priority === before.priority ? Math.min(now, before.runAt - 1) : now;
      const rows = db.sql(`
        SELECT seq FROM jobs INDEXED BY jobs_claim
        WHERE state IN ('pending', 'failed') AND priority = ? AND run_at <= ?
        ORDER BY run_at, seq LIMIT ?`).all(priority, until, limit - seqs.length) as Row[];
      for (const row of rows) seqs.push(row.seq as number);
    }
    below = priority;
  }
  return seqs;
}

/**
 * Claims up to `limit` due jobs for `worker` inside the caller's write
 * transaction, in claim order, each holding a lease of `leaseMs`.
 */
export function claimRows(
  db: SqliteDb,
  worker: string,
  now: number,
  leaseMs: number,
  limit: number,
  before?: ClaimBefore,
): Job[] {
  if (limit <= 0) return [];
  const update = db.sql(`
    UPDATE jobs
    SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = ?,
        lease_until = ?, started_at = ?, updated_at = ?, finished_at = NULL
    WHERE seq = ?
    RETURNING *`);
  const open = db.sql(`
    INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
    VALUES (?, ?, ?, ?, 'running')`);
  return dueJobs(db, now, limit, before).map((seq) => {
    const row = update.get(worker, now + leaseMs, now, now, seq) as Row;
    open.run(row.seq, row.runs, worker, now);
    return toJob(row);
  });
}

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(db: SqliteDb, worker: string, leaseMs: number): Promise<Job | null> {
  const now = db.now();
  db.markSeen();
  // A read first: an idle claim needs no write lock.
  if (dueJobs(db, now, 1).length === 0) return null;
  const [job] = await db.tx(() => claimRows(db, worker, now, leaseMs, 1));
  return job ?? null;
}
