/**
 * Claim: take the next runnable jobs (highest priority, then earliest
 * `run_at`, then insertion order) with `FOR UPDATE SKIP LOCKED`, mark them
 * processing under a lease on the database clock, and open their attempts.
 *
 * The walk never scans jobs that are not due: within one priority the claim
 * index is sorted by `run_at`, so its first row tells whether anything of
 * that priority is due, and a recursive step seeks the next priority. An idle
 * claim costs one seek per priority, whatever the number of delayed jobs.
 * @module
 */

import type { Job } from "../../core/types.ts";
import { toJob } from "../rows.ts";
import type { PgDb } from "./db.ts";
import { NOW, query, type Row } from "./sql.ts";

/**
 * CTEs (for a `WITH RECURSIVE` list) that claim up to `$limit` due jobs for
 * worker `$worker` with a lease of `$lease` ms, as `claimed` (the updated job
 * rows). Parameters are named by their positions in the caller's statement;
 * with `before`, only jobs that run before ($beforePriority, $beforeRunAt).
 */
export function claimCtes(
  p: {
    worker: number;
    lease: number;
    limit: number;
    beforePriority?: number;
    beforeRunAt?: number;
  },
): string {
  const before = p.beforePriority !== undefined;
  const floor = before ? `AND priority >= $${p.beforePriority}::integer` : "";
  // With `before`, one priority only (the best due one, never below the held job's); else
  // from the best due priority down, so rows locked by other claimers are skipped, not waited on.
  const rows = before
    ? `priority = (SELECT priority FROM best)
       AND run_at <= CASE WHEN (SELECT priority FROM best) = $${p.beforePriority}::integer
                          THEN LEAST(${NOW}, $${p.beforeRunAt}::bigint - 1) ELSE ${NOW} END`
    : `priority <= (SELECT priority FROM best) AND run_at <= ${NOW}`;
  return `
    walk AS (
      (SELECT priority, run_at FROM jobs WHERE state IN ('pending', 'failed')
       ORDER BY priority DESC, run_at, seq LIMIT 1)
      UNION ALL
      (SELECT next.priority, next.run_at FROM walk CROSS JOIN LATERAL (
         SELECT priority, run_at FROM jobs
         WHERE state IN ('pending', 'failed') AND priority < walk.priority
         ORDER BY priority DESC, run_at, seq LIMIT 1) AS next
       WHERE walk.run_at > ${NOW} ${before ? `AND walk.priority > $${p.beforePriority}` : ""})
    ), best AS (
      SELECT max(priority) AS priority FROM walk WHERE run_at <= ${NOW} ${floor}
    ), next AS MATERIALIZED (
      SELECT seq FROM jobs
      WHERE state IN ('pending', 'failed') AND ${rows}
      ORDER BY priority DESC, run_at, seq
      LIMIT $${p.limit}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE jobs
      SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = $${p.worker},
          lease_until = ${NOW} + $${p.lease}::bigint, started_at = ${NOW}, updated_at = ${NOW},
          finished_at = NULL
      WHERE seq IN (SELECT seq FROM next)
      RETURNING *
    ), opened AS (
      INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
      SELECT seq, runs, $${p.worker}, ${NOW}, 'running' FROM claimed
    )`;
}

/** Claimed rows (any order) as jobs in claim order. */
export function inClaimOrder(rows: Row[]): Job[] {
  const key = (row: Row, column: string) => row[column] as number;
  return rows.sort((a, b) =>
    key(b, "priority") - key(a, "priority") || key(a, "run_at") - key(b, "run_at") ||
    key(a, "seq") - key(b, "seq")
  ).map(toJob);
}

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(db: PgDb, worker: string, leaseMs: number): Promise<Job | null> {
  db.markSeen();
  const rows = await db.run("safe", (sql) =>
    query(
      sql,
      `WITH RECURSIVE ${claimCtes({ worker: 2, lease: 3, limit: 4 })}
       SELECT * FROM claimed`,
      [db.now(), worker, leaseMs, 1],
    ));
  return rows.length ? toJob(rows[0]) : null;
}
