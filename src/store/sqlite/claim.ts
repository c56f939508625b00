/**
 * Claim: one write transaction takes the next runnable job (highest priority,
 * then earliest `run_at`, then insertion order), marks it processing under a
 * lease, and opens its attempt.
 * @module
 */

import type { Job } from "../../core/types.ts";
import { toJob } from "../rows.ts";
import type { Row, SqliteDb } from "./db.ts";

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(db: SqliteDb, worker: string, leaseMs: number): Promise<Job | null> {
  const now = db.now();
  return await db.tx(() => {
    // INDEXED BY pins the walk of the partial claim index: the planner would
    // otherwise sort every pending row.
    const row = db.sql(`
      UPDATE jobs
      SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = ?,
          lease_until = ?, started_at = ?, updated_at = ?, finished_at = NULL
      WHERE seq = (
        SELECT seq FROM jobs INDEXED BY jobs_claim
        WHERE state IN ('pending', 'failed') AND run_at <= ?
        ORDER BY priority DESC, run_at, seq
        LIMIT 1)
      RETURNING *`).get(worker, now + leaseMs, now, now, now) as Row | undefined;
    if (!row) return null;
    db.sql(`
      INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
      VALUES (?, ?, ?, ?, 'running')`).run(row.seq, row.runs, worker, now);
    return toJob(row);
  });
}
