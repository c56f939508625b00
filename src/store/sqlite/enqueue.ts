/**
 * Enqueue: a batch of new jobs in one transaction, all or nothing, durable
 * when it returns; each in its queue (made on first use), blocked while a
 * dependency has not completed.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import { DEFAULT_QUEUE } from "../../core/queue_name.ts";
import type { NewJob } from "../../core/types.ts";
import type { EnqueueOptions } from "../store.ts";
import type { SQLInputValue } from "node:sqlite";
import type { Row, SqliteDb } from "./db.ts";
import { initialStates, insertDependencies } from "./deps.ts";
import { ensureQueues } from "./queues.ts";

/** Jobs per INSERT statement in a batch enqueue (12 parameters each). */
const ENQUEUE_CHUNK = 500;

/** The first id that occurs twice in a batch, if any. */
function repeatedId(jobs: NewJob[]): string | undefined {
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.id)) return job.id;
    seen.add(job.id);
  }
  return undefined;
}

/**
 * The jobs of a batch that `ifAbsent` stores: those whose id is not taken,
 * the first of each id. Runs inside the caller's transaction.
 */
function absent(db: SqliteDb, jobs: NewJob[]): NewJob[] {
  const taken = new Set(
    (db.sql("SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?))")
      .all(JSON.stringify(jobs.map((job) => job.id))) as Row[]).map((row) => row.id as string),
  );
  return jobs.filter((job) => {
    if (taken.has(job.id)) return false;
    taken.add(job.id);
    return true;
  });
}

/**
 * Stores `jobs` in their queues and records their dependencies; throws
 * `conflict` naming an id that repeats or already exists, unless `ifAbsent`
 * (then such jobs are skipped, their dependencies unchecked), or naming a
 * cancelled dependency; `invalid` naming a dependency that does not exist.
 * Returns how many were stored.
 */
export async function enqueue(
  db: SqliteDb,
  jobs: NewJob[],
  options: EnqueueOptions = {},
): Promise<number> {
  const now = db.now();
  // A worker's connection (and a running purge) relaxes durability; an enqueue keeps it.
  db.raw.exec("PRAGMA synchronous = FULL");
  try {
    return await db.tx(() => storeJobs(db, jobs, now, options));
  } finally {
    if (db.worker) db.raw.exec("PRAGMA synchronous = NORMAL");
  }
}

/** {@linkcode enqueue} inside the caller's write transaction. */
export function storeJobs(
  db: SqliteDb,
  jobs: NewJob[],
  now: number,
  options: EnqueueOptions = {},
): number {
  // Rows go in as bound parameters of multi-row INSERTs: cheaper for SQLite than reading
  // the same values back out of a JSON text.
  const insert = (rows: number) =>
    db.sql(`
      INSERT INTO jobs (id, command, priority, max_retries, timeout, cwd, run_at,
                        queue, after_ids, state, created_at, updated_at)
      VALUES ${Array(rows).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`);
  const batch = options.ifAbsent ? absent(db, jobs) : jobs;
  const states = initialStates(db, batch);
  ensureQueues(db, batch.map((job) => job.queue ?? DEFAULT_QUEUE));
  for (let start = 0; start < batch.length; start += ENQUEUE_CHUNK) {
    const chunk = batch.slice(start, start + ENQUEUE_CHUNK);
    const values: SQLInputValue[] = [];
    for (const job of chunk) {
      values.push(
        job.id,
        job.command,
        job.priority,
        job.maxRetries,
        job.timeout,
        job.cwd,
        job.runAt,
        job.queue ?? DEFAULT_QUEUE,
        job.after?.length ? JSON.stringify(job.after) : null,
        states.get(job.id) ?? "pending",
        now,
        now,
      );
    }
    try {
      insert(chunk.length).run(...values);
    } catch (error) {
      if (!/UNIQUE constraint failed/.test((error as Error).message)) throw error;
      const repeated = repeatedId(batch);
      if (repeated !== undefined) {
        const id = quote(repeated);
        throw new QueueError(
          "conflict",
          `A job with id ${id} appears twice in the batch; nothing was enqueued`,
        );
      }
      const taken = db.sql(
        "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) LIMIT 1",
      ).get(JSON.stringify(chunk.map((job) => job.id))) as Row | undefined;
      throw new QueueError(
        "conflict",
        `A job with id ${quote(taken?.id ?? "?")} already exists; nothing was enqueued`,
      );
    }
  }
  insertDependencies(db, batch);
  return batch.length;
}
