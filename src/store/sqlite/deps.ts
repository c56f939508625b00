/**
 * Dependencies (`after`): checking them at enqueue, unblocking a job's
 * dependents when it completes, cancelling blocked dependents with a job
 * (transitively), and reading what a blocked job waits for. Every function
 * runs inside the caller's write transaction, so the whole change is atomic.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import { checkBatchOrder } from "../../core/job_spec.ts";
import type { Dependency, JobStanding, JobState, NewJob } from "../../core/types.ts";
import { missingDependency } from "../rows.ts";
import type { Row, SqliteDb } from "./db.ts";
import { seqOf } from "./reads.ts";

/**
 * The state each job of a batch starts in: `blocked` while a dependency has
 * not completed, else `pending`. Throws (nothing stored) when a dependency
 * names no stored job nor an earlier one of the batch, or is cancelled.
 */
export function initialStates(db: SqliteDb, jobs: readonly NewJob[]): Map<string, JobState> {
  const states = new Map<string, JobState>();
  if (!jobs.some((job) => job.after?.length)) return states;
  checkBatchOrder(jobs);
  const inBatch = new Set(jobs.map((job) => job.id));
  const stored = [...new Set(jobs.flatMap((job) => job.after ?? []))].filter((id) =>
    !inBatch.has(id)
  );
  const rows = db.sql("SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))")
    .all(JSON.stringify(stored)) as Row[];
  const stateOf = new Map(rows.map((row) => [row.id as string, row.state as JobState]));
  for (const job of jobs) {
    let blocked = false;
    for (const dependency of job.after ?? []) {
      if (inBatch.has(dependency)) {
        blocked = true;
        continue;
      }
      const state = stateOf.get(dependency);
      if (state === undefined) throw missingDependency(job.id, dependency);
      if (state === "cancelled") {
        throw new QueueError(
          "conflict",
          `Job ${quote(job.id)} cannot run after ${
            quote(dependency)
          }: it is cancelled; nothing was enqueued`,
        );
      }
      if (state !== "completed") blocked = true;
    }
    states.set(job.id, blocked ? "blocked" : "pending");
  }
  return states;
}

/** Records the dependencies of freshly inserted jobs and marks the jobs they wait for. */
export function insertDependencies(db: SqliteDb, jobs: readonly NewJob[]): void {
  const pairs = jobs.flatMap((job) =>
    [...new Set(job.after ?? [])].map((dependency) => [job.id, dependency])
  );
  if (pairs.length === 0) return;
  const text = JSON.stringify(pairs);
  db.sql(`
    INSERT INTO job_deps (job_seq, dep_seq)
    SELECT j.seq, d.seq FROM json_each(?) AS e
    JOIN jobs AS j ON j.id = e.value ->> 0
    JOIN jobs AS d ON d.id = e.value ->> 1`).run(text);
  db.sql(`
    UPDATE jobs SET has_dependents = 1
    WHERE id IN (SELECT DISTINCT value ->> 1 FROM json_each(?)) AND has_dependents = 0`)
    .run(text);
}

/** After job `seq` completed: its blocked dependents whose dependencies all completed become pending. */
export function unblockDependents(db: SqliteDb, seq: number, now: number): void {
  db.sql(`
    UPDATE jobs SET state = 'pending', updated_at = ?
    WHERE seq IN (SELECT job_seq FROM job_deps WHERE dep_seq = ?) AND state = 'blocked'
      AND NOT EXISTS (
        SELECT 1 FROM job_deps AS d JOIN jobs AS x ON x.seq = d.dep_seq
        WHERE d.job_seq = jobs.seq AND x.state <> 'completed')`).run(now, seq);
}

/**
 * After job `seq` was cancelled: cancels its blocked dependents, theirs, and
 * so on; each one's `last_error` names the dependency whose cancel reached it.
 * Returns their ids in the order they were cancelled.
 */
export function cancelDependents(db: SqliteDb, seq: number, now: number): string[] {
  const cascaded: string[] = [];
  const find = db.sql(`
    SELECT j.seq, j.id, c.id AS cause
    FROM json_each(?) AS f
    JOIN job_deps AS d ON d.dep_seq = f.value
    JOIN jobs AS j ON j.seq = d.job_seq
    JOIN jobs AS c ON c.seq = d.dep_seq
    WHERE j.state = 'blocked'
    ORDER BY j.seq, c.seq`);
  const cancel = db.sql(`
    UPDATE jobs SET state = 'cancelled', updated_at = ?, finished_at = ?, last_error = ?
    WHERE seq = ? AND state = 'blocked'`);
  let frontier = [seq];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const row of find.all(JSON.stringify(frontier)) as Row[]) {
      const error = `dependency ${quote(row.cause)} was cancelled`;
      if (cancel.run(now, now, error, row.seq).changes === 0) continue; // reached twice
      next.push(row.seq as number);
      cascaded.push(row.id as string);
    }
    frontier = next;
  }
  return cascaded;
}

/** The jobs `id` runs after, in the order it named them, with their states. Throws `not_found`. */
export async function dependencies(db: SqliteDb, id: string): Promise<Dependency[]> {
  return db.read(() => {
    const rows = db.sql(`
      SELECT d.id, d.state FROM job_deps AS x JOIN jobs AS d ON d.seq = x.dep_seq
      WHERE x.job_seq = ?`).all(seqOf(db, id)) as Row[];
    const job = db.sql("SELECT after_ids FROM jobs WHERE id = ?").get(id) as Row;
    const order: string[] = job.after_ids ? JSON.parse(job.after_ids as string) : [];
    return rows
      .map((row) => ({ id: row.id as string, state: row.state as JobState }))
      .sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  });
}

/**
 * Where each of `ids` stands (unknown ids are left out), and for blocked jobs
 * the dead job they wait for, directly or through other blocked jobs.
 */
export async function standings(db: SqliteDb, ids: readonly string[]): Promise<JobStanding[]> {
  return db.read(() => {
    const rows = db.sql(`
      SELECT seq, id, state, last_error FROM jobs
      WHERE id IN (SELECT value FROM json_each(?)) ORDER BY seq`)
      .all(JSON.stringify(ids)) as Row[];
    const blocked = rows.filter((row) => row.state === "blocked").map((row) => row.seq);
    const dead = new Map<number, string>();
    if (blocked.length > 0) {
      const found = db.sql(`
        WITH RECURSIVE walk (root, seq) AS (
          SELECT value, value FROM json_each(?)
          UNION
          SELECT w.root, d.dep_seq FROM walk AS w
          JOIN jobs AS x ON x.seq = w.seq AND x.state = 'blocked'
          JOIN job_deps AS d ON d.job_seq = w.seq
        )
        SELECT w.root, min(x.id) AS dead FROM walk AS w JOIN jobs AS x ON x.seq = w.seq
        WHERE x.state = 'dead' GROUP BY w.root`).all(JSON.stringify(blocked)) as Row[];
      for (const row of found) dead.set(row.root as number, row.dead as string);
    }
    return rows.map((row) => ({
      id: row.id as string,
      state: row.state as JobState,
      lastError: row.last_error as string | null,
      deadDependency: dead.get(row.seq as number) ?? null,
    }));
  });
}
