/**
 * Claim: one statement takes the next runnable job (highest priority, then
 * earliest `run_at`, then insertion order) with `FOR UPDATE SKIP LOCKED`,
 * marks it processing under a lease on the database clock, and opens its
 * attempt.
 * @module
 */

import type { Job } from "../../core/types.ts";
import { toJob } from "../rows.ts";
import type { PgDb } from "./db.ts";
import { NOW, query } from "./sql.ts";

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(db: PgDb, worker: string, leaseMs: number): Promise<Job | null> {
  db.markSeen();
  const rows = await db.run("safe", (sql) =>
    query(
      sql,
      `
    WITH next AS MATERIALIZED (
      SELECT seq FROM jobs
      WHERE state IN ('pending', 'failed') AND run_at <= ${NOW}
      ORDER BY priority DESC, run_at, seq
      LIMIT 1
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE jobs
      SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = $2,
          lease_until = ${NOW} + $3::bigint, started_at = ${NOW}, updated_at = ${NOW},
          finished_at = NULL
      WHERE seq = (SELECT seq FROM next)
      RETURNING *
    ), attempt AS (
      INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
      SELECT seq, runs, $2, ${NOW}, 'running' FROM claimed
    )
    SELECT * FROM claimed`,
      [db.now(), worker, leaseMs],
    ));
  return rows.length ? toJob(rows[0]) : null;
}
