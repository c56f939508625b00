/**
 * Purge: deleting finished jobs with their attempts and logs, for `purge` and
 * for retention, in small transactions (`SKIP LOCKED`, so a purge never waits
 * on a job another session is changing). Freed space is left to PostgreSQL's
 * autovacuum, which makes it reusable for new rows.
 * @module
 */

import {
  PURGEABLE_STATES,
  type PurgeableState,
  type PurgeOptions,
  type PurgeResult,
} from "../store.ts";
import type { PgDb } from "./db.ts";
import { NOW, query } from "./sql.ts";

/** Jobs deleted per transaction. */
export const PURGE_BATCH = 500;
/** Pause between two batches (ms), so a purge never hogs a shared server. */
const PURGE_PAUSE_MS = 2;

/**
 * The finished jobs of `state` older than the cutoff (`$2` ms before `$1`),
 * of queue `$3` when it is not NULL, by the partial index jobs_finished. A
 * dead job that blocked jobs wait for stays: `dlq retry` of it must still let
 * their chain go on.
 */
function oldest(state: PurgeableState): string {
  return `SELECT seq FROM jobs
          WHERE state = '${state}' AND finished_at < ${NOW} - $2::bigint
            AND ($3::text IS NULL OR queue = $3)${
    state === "dead"
      ? ` AND NOT EXISTS (SELECT 1 FROM job_deps AS d JOIN jobs AS b ON b.seq = d.job_seq
                          WHERE d.dep_seq = jobs.seq AND b.state = 'blocked')`
      : ""
  }`;
}

/** Deletes (or counts) finished jobs as `options` say. */
export async function purge(db: PgDb, options: PurgeOptions): Promise<PurgeResult> {
  const counts: Record<PurgeableState, number> = { completed: 0, cancelled: 0, dead: 0 };
  const queue = options.queue ?? null;
  const batch = options.batch ?? PURGE_BATCH;
  const deadline = options.budgetMs === undefined ? Infinity : performance.now() + options.budgetMs;
  // One reading of the clock for the whole purge, as on SQLite.
  const [clock] = await db.run(
    "idempotent",
    (sql) => query(sql, `SELECT ${NOW} AS now`, [db.now()]),
  );
  const now = clock.now as number;
  for (const state of PURGEABLE_STATES) {
    const ms = options.olderThanMs[state];
    if (ms === undefined) continue;
    if (options.dryRun) {
      const [row] = await db.run(
        "idempotent",
        (sql) =>
          query(
            sql,
            `SELECT count(*)::bigint AS n FROM (${oldest(state)}) AS old`,
            [now, ms, queue],
          ),
      );
      counts[state] = row.n as number;
      continue;
    }
    while (true) {
      if (performance.now() > deadline) return { counts, done: false };
      const [row] = await db.run("idempotent", (sql) =>
        query(
          sql,
          `WITH doomed AS (
             ${oldest(state)} ORDER BY finished_at LIMIT $4 FOR UPDATE SKIP LOCKED
           ), gone AS (
             DELETE FROM jobs WHERE seq IN (SELECT seq FROM doomed) RETURNING seq
           ), logs AS (
             DELETE FROM attempts WHERE job_seq IN (SELECT seq FROM gone)
           ), links AS (
             -- A finished job waits for nothing any more, and a job that waited for it is
             -- not held back by a job that is gone (dead ones it waits for stay).
             DELETE FROM job_deps
             WHERE job_seq IN (SELECT seq FROM gone) OR dep_seq IN (SELECT seq FROM gone)
           )
           SELECT count(*)::integer AS n FROM gone`,
          [now, ms, queue, batch],
        ));
      const deleted = row.n as number;
      counts[state] += deleted;
      if (deleted < batch) break;
      await new Promise((resolve) => setTimeout(resolve, PURGE_PAUSE_MS));
    }
  }
  return { counts, done: true };
}
