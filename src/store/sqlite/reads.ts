/**
 * Reads: one job, pages of jobs, counts per state, the oldest pending job,
 * a job's attempts and their captured output.
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
import { notFound, type Row, type SqliteDb } from "./db.ts";

export async function getJob(db: SqliteDb, id: string): Promise<Job | null> {
  const row = db.sql("SELECT * FROM jobs WHERE id = ?").get(id) as Row | undefined;
  return row ? toJob(row) : null;
}

/** Jobs, newest first. */
export async function listJobs(db: SqliteDb, options: ListOptions = {}): Promise<Job[]> {
  const limit = options.limit ?? 50;
  const offset = options.offset ?? 0;
  const { state, queue } = options;
  // One statement per filter, so each walks its own index newest first.
  const rows = state && queue
    ? db.sql("SELECT * FROM jobs WHERE queue = ? AND state = ? ORDER BY seq DESC LIMIT ? OFFSET ?")
      .all(queue, state, limit, offset)
    : queue
    ? db.sql("SELECT * FROM jobs WHERE queue = ? ORDER BY seq DESC LIMIT ? OFFSET ?")
      .all(queue, limit, offset)
    : state
    ? db.sql("SELECT * FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ? OFFSET ?")
      .all(state, limit, offset)
    : db.sql("SELECT * FROM jobs ORDER BY seq DESC LIMIT ? OFFSET ?").all(limit, offset);
  return (rows as Row[]).map(toJob);
}

/** Jobs per state, from the counters the triggers keep (the same cost at any size). */
export function counts(db: SqliteDb): StateCounts {
  const counts = emptyCounts();
  const rows = db.sql("SELECT state, sum(n) AS n FROM job_counts GROUP BY state").all() as Row[];
  for (const row of rows) counts[row.state as JobState] = row.n as number;
  return counts;
}

/** How many jobs match `filter`, from the same counters. */
export async function countJobs(db: SqliteDb, filter: JobFilter = {}): Promise<number> {
  const row = db.sql(`
    SELECT coalesce(sum(n), 0) AS n FROM job_counts
    WHERE (? IS NULL OR state = ?) AND (? IS NULL OR queue = ?)`).get(
    filter.state ?? null,
    filter.state ?? null,
    filter.queue ?? null,
    filter.queue ?? null,
  ) as Row;
  return row.n as number;
}

/** Ids of the jobs that have not finished (of `queue`, if given), oldest first. */
export async function unfinishedIds(db: SqliteDb, queue?: string): Promise<string[]> {
  const states = UNFINISHED_STATES.map((state) => `'${state}'`).join(", ");
  const rows =
    (queue === undefined
      ? db.sql(`SELECT id FROM jobs WHERE state IN (${states}) ORDER BY seq`).all()
      : db.sql(`SELECT id FROM jobs WHERE queue = ? AND state IN (${states}) ORDER BY seq`)
        .all(queue)) as Row[];
  return rows.map((row) => row.id as string);
}

/** Creation time of the oldest pending job, or `null`. */
export function oldestPending(db: SqliteDb): number | null {
  const row = db.sql(
    "SELECT created_at FROM jobs WHERE state = 'pending' ORDER BY seq LIMIT 1",
  ).get() as Row | undefined;
  return row ? row.created_at as number : null;
}

/** The internal key of job `id`; throws `not_found`. */
export function seqOf(db: SqliteDb, id: string): number {
  const row = db.sql("SELECT seq FROM jobs WHERE id = ?").get(id) as Row | undefined;
  if (!row) throw notFound(id);
  return row.seq as number;
}

/** Every run of a job, oldest first. Throws `not_found`. */
export async function attempts(db: SqliteDb, id: string): Promise<Attempt[]> {
  const rows = db.sql(`
    SELECT attempt, worker, started_at, finished_at, outcome, exit_code, error,
           coalesce(length(stdout), 0) AS stdout_bytes, coalesce(length(stderr), 0) AS stderr_bytes
    FROM attempts WHERE job_seq = ? ORDER BY attempt`).all(seqOf(db, id)) as Row[];
  return rows.map((row) => ({
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
export async function logs(
  db: SqliteDb,
  id: string,
  attempt?: number,
): Promise<AttemptLogs | null> {
  const seq = seqOf(db, id);
  const row = (attempt === undefined
    ? db.sql(
      "SELECT attempt, stdout, stderr FROM attempts WHERE job_seq = ? ORDER BY attempt DESC LIMIT 1",
    ).get(seq)
    : db.sql("SELECT attempt, stdout, stderr FROM attempts WHERE job_seq = ? AND attempt = ?")
      .get(seq, attempt)) as Row | undefined;
  if (!row) return null;
  return {
    attempt: row.attempt as number,
    stdout: (row.stdout as Uint8Array | null) ?? new Uint8Array(),
    stderr: (row.stderr as Uint8Array | null) ?? new Uint8Array(),
  };
}
