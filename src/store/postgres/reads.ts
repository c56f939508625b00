/**
 * Reads: one job, pages of jobs, counts per state (summed over the counter
 * shards), the oldest pending job, a job's attempts and their output.
 * @module
 */

import {
  type Attempt,
  type AttemptLogs,
  type Job,
  type JobState,
  type StateCounts,
  UNFINISHED_STATES,
} from "../../core/types.ts";
import { emptyCounts, toJob } from "../rows.ts";
import type { JobFilter, ListOptions } from "../store.ts";
import type { PgDb } from "./db.ts";
import { notFound } from "./errors.ts";
import { bytes, query, storable } from "./sql.ts";

export async function getJob(db: PgDb, id: string): Promise<Job | null> {
  if (!storable(id)) return null;
  const rows = await db.run(
    "idempotent",
    (sql) => query(sql, "SELECT * FROM jobs WHERE id = $1", [id]),
  );
  return rows.length ? toJob(rows[0]) : null;
}

/** Jobs, newest first. */
export async function listJobs(db: PgDb, options: ListOptions = {}): Promise<Job[]> {
  const limit = options.limit ?? 50;
  const offset = options.offset ?? 0;
  const { state, queue } = options;
  // One statement per filter, so each walks its own index newest first.
  const rows = await db.run("idempotent", (sql) =>
    state && queue
      ? query(
        sql,
        "SELECT * FROM jobs WHERE queue = $1 AND state = $2 ORDER BY seq DESC LIMIT $3 OFFSET $4",
        [queue, state, limit, offset],
      )
      : queue
      ? query(sql, "SELECT * FROM jobs WHERE queue = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3", [
        queue,
        limit,
        offset,
      ])
      : state
      ? query(sql, "SELECT * FROM jobs WHERE state = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3", [
        state,
        limit,
        offset,
      ])
      : query(sql, "SELECT * FROM jobs ORDER BY seq DESC LIMIT $1 OFFSET $2", [limit, offset]));
  return rows.map(toJob);
}

/** How many jobs match `filter`, from the sharded counters the triggers keep. */
export async function countJobs(db: PgDb, filter: JobFilter = {}): Promise<number> {
  const [row] = await db.run("idempotent", (sql) =>
    query(
      sql,
      `SELECT coalesce(sum(n), 0)::bigint AS n FROM job_counts
       WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR queue = $2)`,
      [filter.state ?? null, filter.queue ?? null],
    ));
  return row.n as number;
}

/** Ids of the jobs that have not finished (of `queue`, if given), oldest first. */
export async function unfinishedIds(db: PgDb, queue?: string): Promise<string[]> {
  const states = UNFINISHED_STATES.map((state) => `'${state}'`).join(", ");
  const rows = await db.run(
    "idempotent",
    (sql) =>
      queue === undefined
        ? query(sql, `SELECT id FROM jobs WHERE state IN (${states}) ORDER BY seq`)
        : query(sql, `SELECT id FROM jobs WHERE queue = $1 AND state IN (${states}) ORDER BY seq`, [
          queue,
        ]),
  );
  return rows.map((row) => row.id as string);
}

/** Jobs per state, from the sharded counters the triggers keep. */
export async function counts(db: PgDb): Promise<StateCounts> {
  const counts = emptyCounts();
  const rows = await db.run(
    "idempotent",
    (sql) => query(sql, "SELECT state, sum(n)::bigint AS n FROM job_counts GROUP BY state"),
  );
  for (const row of rows) counts[row.state as JobState] = row.n as number;
  return counts;
}

/** Creation time of the oldest pending job, or `null`. */
export async function oldestPending(db: PgDb): Promise<number | null> {
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      "SELECT created_at FROM jobs WHERE state = 'pending' ORDER BY seq LIMIT 1",
    ));
  return rows.length ? rows[0].created_at as number : null;
}

/** Every run of a job, oldest first. Throws `not_found`. */
export async function attempts(db: PgDb, id: string): Promise<Attempt[]> {
  if (!storable(id)) throw notFound(id);
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `SELECT a.attempt, a.worker, a.started_at, a.finished_at, a.outcome, a.exit_code, a.error,
              coalesce(length(a.stdout), 0) AS stdout_bytes,
              coalesce(length(a.stderr), 0) AS stderr_bytes
       FROM jobs AS j LEFT JOIN attempts AS a ON a.job_seq = j.seq
       WHERE j.id = $1 ORDER BY a.attempt`,
      [id],
    ));
  if (rows.length === 0) throw notFound(id);
  return rows.filter((row) => row.attempt !== null).map((row) => ({
    attempt: row.attempt as number,
    worker: row.worker as string | null,
    startedAt: row.started_at as number,
    finishedAt: row.finished_at as number | null,
    outcome: row.outcome as Attempt["outcome"],
    exitCode: row.exit_code as number | null,
    error: row.error as string | null,
    stdoutBytes: row.stdout_bytes as number,
    stderrBytes: row.stderr_bytes as number,
  }));
}

/** Output of run `attempt` (default: the last). Throws `not_found`. */
export async function logs(db: PgDb, id: string, attempt?: number): Promise<AttemptLogs | null> {
  if (!storable(id)) throw notFound(id);
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `SELECT a.attempt, a.stdout, a.stderr
       FROM jobs AS j LEFT JOIN LATERAL (
         SELECT attempt, stdout, stderr FROM attempts
         WHERE job_seq = j.seq AND ($2::integer IS NULL OR attempt = $2)
         ORDER BY attempt DESC LIMIT 1
       ) AS a ON true
       WHERE j.id = $1`,
      [id, attempt ?? null],
    ));
  if (rows.length === 0) throw notFound(id);
  const row = rows[0];
  if (row.attempt === null) return null;
  return { attempt: row.attempt as number, stdout: bytes(row.stdout), stderr: bytes(row.stderr) };
}
