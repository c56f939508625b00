/**
 * Enqueue: a batch of new jobs in one transaction, all or nothing, durable
 * when it returns.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import type { NewJob } from "../../core/types.ts";
import type { EnqueueOptions } from "../store.ts";
import type { Row, SqliteDb } from "./db.ts";

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
 * Stores `jobs`; throws `conflict` naming an id that repeats or already exists,
 * unless `ifAbsent` (then such jobs are skipped). Returns how many were stored.
 */
export async function enqueue(
  db: SqliteDb,
  jobs: NewJob[],
  options: EnqueueOptions = {},
): Promise<number> {
  const now = db.now();
  // An upsert's SELECT needs a WHERE clause (SQLite's parsing rule).
  const insert = db.sql(`
    INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                      created_at, updated_at)
    SELECT value ->> 0, value ->> 1, 'pending', value ->> 2, value ->> 3, value ->> 4,
           value ->> 5, value ->> 6, ?, ?
    FROM json_each(?)${options.ifAbsent ? " WHERE true ON CONFLICT (id) DO NOTHING" : ""}`);
  let stored = 0;
  // A worker's connection (and a running purge) relaxes durability; an enqueue keeps it.
  db.raw.exec("PRAGMA synchronous = FULL");
  try {
    await db.tx(() => {
      for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
        const chunk = jobs.slice(start, start + ENQUEUE_CHUNK).map((job) => [
          job.id,
          job.command,
          job.priority,
          job.maxRetries,
          job.timeout,
          job.cwd,
          job.runAt,
        ]);
        const text = JSON.stringify(chunk);
        try {
          stored += Number(insert.run(now, now, text).changes);
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
    });
  } finally {
    if (db.worker) db.raw.exec("PRAGMA synchronous = NORMAL");
  }
  return stored;
}
