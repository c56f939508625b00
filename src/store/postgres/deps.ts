/**
 * Dependencies (`after`): checking them at enqueue, unblocking a job's
 * dependents when it completes, cancelling blocked dependents with a job
 * (transitively), and reading what a blocked job waits for.
 *
 * Under READ COMMITTED each of these must see what the others committed, so
 * they meet on row locks. An enqueue updates (and so locks) every stored job
 * it depends on, marking it `has_dependents`. A completion of a job so marked
 * runs in a transaction: it completes the job (waiting for any such enqueue
 * to commit), then locks the blocked dependents, then, in a statement whose
 * snapshot is newer than those locks, unblocks the ones whose dependencies
 * have all completed. Two dependencies of one job that complete at once thus
 * take turns on that job's row, and the second sees the first.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import { checkBatchOrder } from "../../core/job_spec.ts";
import type { Dependency, JobStanding, JobState, NewJob } from "../../core/types.ts";
import { missingDependency } from "../rows.ts";
import type { PgDb } from "./db.ts";
import { notFound } from "./errors.ts";
import { NOW, query, type Row, type Sql, storable } from "./sql.ts";

/**
 * The state each job of a batch starts in: `blocked` while a dependency has
 * not completed, else `pending`. Locks (and marks) the stored dependencies
 * until the caller's transaction ends. Throws when a dependency names no
 * stored job nor an earlier one of the batch, or is cancelled.
 */
export async function initialStates(
  tx: Sql,
  jobs: readonly NewJob[],
): Promise<Map<string, JobState>> {
  const states = new Map<string, JobState>();
  if (!jobs.some((job) => job.after?.length)) return states;
  checkBatchOrder(jobs);
  const inBatch = new Set(jobs.map((job) => job.id));
  const stored = [...new Set(jobs.flatMap((job) => job.after ?? []))].filter((id) =>
    !inBatch.has(id)
  );
  const rows = stored.length === 0 ? [] : await query(
    tx,
    `UPDATE jobs SET has_dependents = true
     WHERE seq IN (SELECT seq FROM jobs
                   WHERE id IN (SELECT json_array_elements_text($1::text::json))
                   ORDER BY seq FOR UPDATE)
     RETURNING id, state`,
    [JSON.stringify(stored.filter(storable))],
  );
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

/** Records the dependencies of freshly inserted jobs, and marks the ones of the batch. */
export async function insertDependencies(tx: Sql, jobs: readonly NewJob[]): Promise<void> {
  const pairs = jobs.flatMap((job) =>
    [...new Set(job.after ?? [])].map((dependency) => [job.id, dependency])
  );
  if (pairs.length === 0) return;
  await query(
    tx,
    `WITH pairs AS (
       SELECT p ->> 0 AS job, p ->> 1 AS dep FROM json_array_elements($1::text::json) AS p
     ), deps AS (
       INSERT INTO job_deps (job_seq, dep_seq)
       SELECT j.seq, d.seq FROM pairs
       JOIN jobs AS j ON j.id = pairs.job
       JOIN jobs AS d ON d.id = pairs.dep
     )
     UPDATE jobs SET has_dependents = true
     WHERE id IN (SELECT dep FROM pairs) AND NOT has_dependents`,
    [JSON.stringify(pairs)],
  );
}

/**
 * After job `seq` completed in the caller's transaction: its blocked
 * dependents whose dependencies all completed become pending (see the module
 * notes for why this takes two statements).
 */
export async function unblockDependents(db: PgDb, tx: Sql, seq: number): Promise<void> {
  const locked = await query(
    tx,
    `SELECT seq FROM jobs
     WHERE seq IN (SELECT job_seq FROM job_deps WHERE dep_seq = $1) AND state = 'blocked'
     ORDER BY seq FOR UPDATE`,
    [seq],
  );
  if (locked.length === 0) return;
  await query(
    tx,
    `UPDATE jobs AS j SET state = 'pending', updated_at = ${NOW}
     WHERE j.seq IN (SELECT value::bigint FROM json_array_elements_text($2::text::json))
       AND j.state = 'blocked'
       AND NOT EXISTS (
         SELECT 1 FROM job_deps AS d JOIN jobs AS x ON x.seq = d.dep_seq
         WHERE d.job_seq = j.seq AND x.state <> 'completed')`,
    [db.now(), JSON.stringify(locked.map((row) => row.seq))],
  );
}

/**
 * After job `seq` was cancelled in the caller's transaction: cancels its
 * blocked dependents, theirs, and so on; each one's `last_error` names the
 * dependency whose cancel reached it. Returns their ids in that order.
 */
export async function cancelDependents(db: PgDb, tx: Sql, seq: number): Promise<string[]> {
  const cascaded: string[] = [];
  let frontier = [seq];
  while (frontier.length > 0) {
    const rows = await query(
      tx,
      `SELECT DISTINCT ON (j.seq) j.seq, j.id, c.id AS cause
       FROM job_deps AS d
       JOIN jobs AS j ON j.seq = d.job_seq
       JOIN jobs AS c ON c.seq = d.dep_seq
       WHERE d.dep_seq IN (SELECT value::bigint FROM json_array_elements_text($1::text::json))
         AND j.state = 'blocked'
       ORDER BY j.seq, c.seq`,
      [JSON.stringify(frontier)],
    );
    if (rows.length === 0) break;
    const input = rows.map((row) => ({
      seq: row.seq,
      error: `dependency ${quote(row.cause)} was cancelled`,
    }));
    const done = await query(
      tx,
      `UPDATE jobs AS j
       SET state = 'cancelled', updated_at = ${NOW}, finished_at = ${NOW}, last_error = i.error
       FROM json_to_recordset($2::text::json) AS i (seq bigint, error text)
       WHERE j.seq = i.seq AND j.state = 'blocked'
       RETURNING j.seq, j.id`,
      [db.now(), JSON.stringify(input)],
    );
    done.sort((a, b) => (a.seq as number) - (b.seq as number));
    cascaded.push(...done.map((row) => row.id as string));
    frontier = done.map((row) => row.seq as number);
  }
  return cascaded;
}

/** The jobs `id` runs after, in the order it named them, with their states. Throws `not_found`. */
export async function dependencies(db: PgDb, id: string): Promise<Dependency[]> {
  if (!storable(id)) throw notFound(id);
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `SELECT j.after_ids, d.id, d.state
       FROM jobs AS j
       LEFT JOIN job_deps AS x ON x.job_seq = j.seq
       LEFT JOIN jobs AS d ON d.seq = x.dep_seq
       WHERE j.id = $1`,
      [id],
    ));
  if (rows.length === 0) throw notFound(id);
  const order: string[] = rows[0].after_ids ? JSON.parse(rows[0].after_ids as string) : [];
  return rows
    .filter((row) => row.id !== null)
    .map((row) => ({ id: row.id as string, state: row.state as JobState }))
    .sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
}

/**
 * Where each of `ids` stands (unknown ids are left out), and for blocked jobs
 * the dead job they wait for, directly or through other blocked jobs.
 */
export async function standings(db: PgDb, ids: readonly string[]): Promise<JobStanding[]> {
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `WITH RECURSIVE wanted AS (
         SELECT seq, id, state, last_error FROM jobs
         WHERE id IN (SELECT json_array_elements_text($1::text::json))
       ), walk (root, seq) AS (
         SELECT seq, seq FROM wanted WHERE state = 'blocked'
         UNION
         SELECT w.root, d.dep_seq FROM walk AS w
         JOIN jobs AS x ON x.seq = w.seq AND x.state = 'blocked'
         JOIN job_deps AS d ON d.job_seq = w.seq
       ), dead AS (
         SELECT w.root, min(x.id COLLATE "C") AS id FROM walk AS w
         JOIN jobs AS x ON x.seq = w.seq
         WHERE x.state = 'dead' GROUP BY w.root
       )
       SELECT wanted.id, wanted.state, wanted.last_error, dead.id AS dead
       FROM wanted LEFT JOIN dead ON dead.root = wanted.seq
       ORDER BY wanted.seq`,
      [JSON.stringify(ids.filter(storable))],
    ));
  return rows.map((row: Row) => ({
    id: row.id as string,
    state: row.state as JobState,
    lastError: row.last_error as string | null,
    deadDependency: row.dead as string | null,
  }));
}
