/**
 * Enqueue: a batch of new jobs in one transaction, all or nothing, durable
 * when it returns.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import { DEFAULT_QUEUE } from "../../core/queue.ts";
import type { NewJob } from "../../core/types.ts";
import type { Row, SqliteDb } from "./db.ts";
import { initialStates, insertDependencies } from "./deps.ts";
import { ensureQueues } from "./queues.ts";

/** Jobs per INSERT statement in a batch enqueue. */
const ENQUEUE_CHUNK = 20_000;

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
 * Stores `jobs` in their queues (made on first use) and records their
 * dependencies; throws `conflict` naming an id that repeats or already exists,
 * or `invalid` naming a dependency that does not.
 */
export async function enqueue(db: SqliteDb, jobs: NewJob[]): Promise<void> {
  const now = db.now();
  const insert = db.sql(`
    INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                      queue, after_ids, created_at, updated_at)
    SELECT value ->> 0, value ->> 1, value ->> 9, value ->> 2, value ->> 3, value ->> 4,
           value ->> 5, value ->> 6, value ->> 7, value ->> 8, ?, ?
    FROM json_each(?)`);
  // A worker's connection relaxes durability for settles; an enqueue keeps it.
  if (db.worker) db.raw.exec("PRAGMA synchronous = FULL");
  try {
    await db.tx(() => {
      const states = initialStates(db, jobs);
      ensureQueues(db, jobs.map((job) => job.queue ?? DEFAULT_QUEUE));
      for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
        const chunk = jobs.slice(start, start + ENQUEUE_CHUNK).map((job) => [
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
        ]);
        const text = JSON.stringify(chunk);
        try {
          insert.run(now, now, text);
        } catch (error) {
          if (!/UNIQUE constraint failed/.test((error as Error).message)) throw error;
          const repeated = repeatedId(jobs);
          if (repeated !== undefined) {
            const id = quote(repeated);
            throw new QueueError(
              "conflict",
              `A job with id ${id} appears twice in the batch; nothing was enqueued`,
            );
          }
          const taken = db.sql(
            "SELECT id FROM jobs WHERE id IN (SELECT value ->> 0 FROM json_each(?)) LIMIT 1",
          ).get(text) as Row | undefined;
          throw new QueueError(
            "conflict",
            `A job with id ${quote(taken?.id ?? "?")} already exists; nothing was enqueued`,
          );
        }
      }
      insertDependencies(db, jobs);
    });
  } finally {
    if (db.worker) db.raw.exec("PRAGMA synchronous = NORMAL");
  }
}
