/**
 * Purge: deleting finished jobs with their attempts and logs, for `purge` and
 * for retention, in small transactions (`SKIP LOCKED`, so a purge never waits
 * on a job another session is changing). Freed space is left to PostgreSQL's
 * autovacuum, which makes it reusable for new rows.
 * @module
 */

import { DEFAULT_QUEUE } from "../../core/queue_name.ts";
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

/** The finished jobs of `state` older than the cutoff, by the partial index jobs_finished. */
function oldest(state: PurgeableState): string {
  return `SELECT seq FROM jobs
          WHERE state = '${state}' AND finished_at < ${NOW} - $2::bigint`;
}

/** Deletes (or counts) finished jobs as `options` say. */
export async function purge(db: PgDb, options: PurgeOptions): Promise<PurgeResult> {
  const counts: Record<PurgeableState, number> = { completed: 0, cancelled: 0, dead: 0 };
  // TODO(queues, SPEC §9): until jobs have a queue column every job is in "default".
  if (options.queue !== undefined && options.queue !== DEFAULT_QUEUE) {
    return { counts, done: true };
  }
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
          query(sql, `SELECT count(*)::bigint AS n FROM (${oldest(state)}) AS old`, [now, ms]),
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
             ${oldest(state)} ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED
           ), gone AS (
             DELETE FROM jobs WHERE seq IN (SELECT seq FROM doomed) RETURNING seq
           ), logs AS (
             DELETE FROM attempts WHERE job_seq IN (SELECT seq FROM gone)
           )
           SELECT count(*)::integer AS n FROM gone`,
          [now, ms, batch],
        ));
      const deleted = row.n as number;
      counts[state] += deleted;
      if (deleted < batch) break;
      await new Promise((resolve) => setTimeout(resolve, PURGE_PAUSE_MS));
    }
  }
  return { counts, done: true };
}
