/**
 * Claim: one write transaction takes the next runnable job of the queues a
 * worker serves (highest priority, then earliest `run_at`, then insertion
 * order), marks it processing under a lease, and opens its attempt.
 *
 * Paused queues, and limited queues with as many jobs processing as their
 * limit, are left out before any job is looked at: the claim walks the claim
 * index once per remaining queue and stops at that queue's first due job.
 * Blocked jobs are not in that index. The write transaction (`BEGIN
 * IMMEDIATE`) serializes claims, so the count of a queue's processing jobs
 * read in the statement cannot change before the claim commits.
 * @module
 */

import type { Job } from "../../core/types.ts";
import { toJob } from "../rows.ts";
import type { ClaimOptions } from "../store.ts";
import type { Row, SqliteDb } from "./db.ts";

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(
  db: SqliteDb,
  worker: string,
  leaseMs: number,
  options: ClaimOptions = {},
): Promise<Job | null> {
  const now = db.now();
  const queues = options.queues ? JSON.stringify(options.queues) : null;
  return await db.tx(() => {
    // INDEXED BY pins the walk of the partial claim index: the planner would
    // otherwise sort every pending row.
    const row = db.sql(`
      WITH open AS (
        SELECT (SELECT seq FROM jobs INDEXED BY jobs_claim
                WHERE queue = q.name AND state IN ('pending', 'failed') AND run_at <= ?
                ORDER BY priority DESC, run_at, seq
                LIMIT 1) AS seq
        FROM queues AS q
        WHERE q.paused = 0 AND q.name <> '*'
          AND (? IS NULL OR q.name IN (SELECT value FROM json_each(?)))
          AND (q.concurrency = 0 OR q.concurrency > coalesce(
                (SELECT n FROM job_counts WHERE queue = q.name AND state = 'processing'), 0))
      )
      UPDATE jobs
      SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = ?,
          lease_until = ?, started_at = ?, updated_at = ?, finished_at = NULL
      WHERE seq = (
        SELECT j.seq FROM open CROSS JOIN jobs AS j ON j.seq = open.seq
        ORDER BY j.priority DESC, j.run_at, j.seq
        LIMIT 1)
      RETURNING *`).get(now, queues, queues, worker, now + leaseMs, now, now) as
      | Row
      | undefined;
    if (!row) return null;
    db.sql(`
      INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
      VALUES (?, ?, ?, ?, 'running')`).run(row.seq, row.runs, worker, now);
    return toJob(row);
  });
}
