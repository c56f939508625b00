/**
 * Purge: deleting finished jobs with their attempts and logs, for `purge` and
 * for retention. Deletes go in small transactions with a pause between them,
 * so a claim waiting for the write lock gets it within one batch. Afterwards a
 * database in incremental auto-vacuum mode returns the freed pages to the file
 * system, in small steps as well.
 * @module
 */

import {
  PURGEABLE_STATES,
  type PurgeableState,
  type PurgeOptions,
  type PurgeResult,
} from "../store.ts";
import type { Row, SqliteDb } from "./db.ts";

/** Jobs deleted per transaction: a few milliseconds of holding the write lock. */
export const PURGE_BATCH = 500;
/** Pause between two batches (ms): longer than a waiting writer's retry gap (db.ts). */
const PURGE_PAUSE_MS = 3;
/**
 * Free pages returned to the file system per transaction by incremental vacuum:
 * about 10 ms of holding the write lock (each page moved is written to the WAL).
 */
const VACUUM_PAGES = 200;

function zero(): Record<PurgeableState, number> {
  return { completed: 0, cancelled: 0, dead: 0 };
}

/**
 * The finished jobs of `state` older than the cutoff (`?`, then the queue or
 * NULL, twice), by the partial index jobs_finished. A dead job that blocked
 * jobs wait for stays: `dlq retry` of it must still let their chain go on.
 */
function oldest(state: PurgeableState): string {
  return `SELECT seq FROM jobs INDEXED BY jobs_finished
          WHERE state = '${state}' AND finished_at < ? AND (? IS NULL OR queue = ?)${
    state === "dead"
      ? ` AND NOT EXISTS (SELECT 1 FROM job_deps AS d JOIN jobs AS b ON b.seq = d.job_seq
                          WHERE d.dep_seq = jobs.seq AND b.state = 'blocked')`
      : ""
  }`;
}

/** Deletes (or counts) finished jobs as `options` say. */
export async function purge(db: SqliteDb, options: PurgeOptions): Promise<PurgeResult> {
  const counts = zero();
  const now = db.now();
  const deadline = options.budgetMs === undefined ? Infinity : performance.now() + options.budgetMs;
  let done = true;
  // A purge batch lost in a power cut is only done again: no need to sync each one.
  if (!db.worker && !options.dryRun) db.raw.exec("PRAGMA synchronous = NORMAL");
  try {
    done = await deleteOld(db, options, counts, now, deadline);
    if (!options.dryRun && PURGEABLE_STATES.some((state) => counts[state] > 0)) {
      await returnFreePages(db, deadline);
    }
  } finally {
    if (!db.worker && !options.dryRun) db.raw.exec("PRAGMA synchronous = FULL");
  }
  return { counts, done };
}

/** Deletes (or counts, for a dry run) into `counts`; returns false when the budget ran out. */
async function deleteOld(
  db: SqliteDb,
  options: PurgeOptions,
  counts: Record<PurgeableState, number>,
  now: number,
  deadline: number,
): Promise<boolean> {
  const batch = options.batch ?? PURGE_BATCH;
  for (const state of PURGEABLE_STATES) {
    const ms = options.olderThanMs[state];
    if (ms === undefined) continue;
    const cutoff = now - ms;
    const queue = options.queue ?? null;
    if (options.dryRun) {
      const row = db.sql(`SELECT count(*) AS n FROM (${oldest(state)})`)
        .get(cutoff, queue, queue) as Row;
      counts[state] = row.n as number;
      continue;
    }
    while (true) {
      if (performance.now() > deadline) return false;
      const deleted = await db.tx(() => {
        const gone = db.sql(
          `DELETE FROM jobs WHERE seq IN (${oldest(state)} ORDER BY finished_at LIMIT ?)
           RETURNING seq`,
        ).all(cutoff, queue, queue, batch) as Row[];
        if (gone.length === 0) return 0;
        const seqs = JSON.stringify(gone.map((row) => row.seq));
        db.sql("DELETE FROM attempts WHERE job_seq IN (SELECT value FROM json_each(?))").run(seqs);
        // Their dependency links go too: a finished job waits for nothing any more, and a job
        // that waited for it is not held back by a job that is gone (dead ones it waits for stay).
        db.sql("DELETE FROM job_deps WHERE job_seq IN (SELECT value FROM json_each(?))").run(seqs);
        db.sql("DELETE FROM job_deps WHERE dep_seq IN (SELECT value FROM json_each(?))").run(seqs);
        return gone.length;
      });
      counts[state] += deleted;
      if (deleted < batch) break;
      await pause();
    }
  }
  return true;
}

/**
 * Hands the database's free pages back to the file system when it was made
 * with `auto_vacuum = INCREMENTAL` (every database since housekeeping came);
 * older databases keep them on SQLite's free list, where new jobs reuse them.
 */
async function returnFreePages(db: SqliteDb, deadline: number): Promise<void> {
  const mode = db.sql("PRAGMA auto_vacuum").get() as Row;
  if (mode.auto_vacuum !== 2) return;
  while (performance.now() <= deadline) {
    const free = db.sql("PRAGMA freelist_count").get() as Row;
    if ((free.freelist_count as number) === 0) return;
    // The pragma frees one page per step of its statement: run it to the end.
    await db.tx(() => db.sql(`PRAGMA incremental_vacuum(${VACUUM_PAGES})`).all());
    await pause();
  }
}

function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, PURGE_PAUSE_MS));
}
