/**
 * Enqueue: a batch of new jobs, all or nothing, durable when it returns.
 * Large batches are pipelined in chunks inside one transaction.
 * @module
 */

import { invalid, QueueError, quote } from "../../core/errors.ts";
import type { NewJob } from "../../core/types.ts";
import type { EnqueueOptions } from "../store.ts";
import type { PgDb } from "./db.ts";
import { errorCode } from "./errors.ts";
import { NOW, query, type Row } from "./sql.ts";

/** Jobs per INSERT statement in a batch enqueue. */
const ENQUEUE_CHUNK = 10_000;

/** Refuses what PostgreSQL cannot store (NUL characters) and ids repeated in the batch. */
function checkBatch(jobs: NewJob[]): void {
  const seen = new Set<string>();
  for (const job of jobs) {
    if (job.id.includes("\0") || job.command.includes("\0") || job.cwd.includes("\0")) {
      const field = job.id.includes("\0") ? "id" : job.command.includes("\0") ? "command" : "cwd";
      const what = quote(job.id);
      throw invalid(`Job ${what} has a NUL character in its ${field}; PostgreSQL cannot store it`);
    }
    if (seen.has(job.id)) {
      throw new QueueError(
        "conflict",
        `A job with id ${quote(job.id)} appears twice in the batch; nothing was enqueued`,
      );
    }
    seen.add(job.id);
  }
}

/**
 * Stores `jobs`; throws `conflict` naming an id that repeats or already exists,
 * unless `ifAbsent` (then such jobs are skipped). Returns how many were stored.
 */
export async function enqueue(
  db: PgDb,
  jobs: NewJob[],
  options: EnqueueOptions = {},
): Promise<number> {
  if (jobs.length === 0) return 0;
  checkBatch(jobs);
  const now = db.now();
  const values = `
    INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                      created_at, updated_at)
    SELECT v ->> 0, v ->> 1, 'pending', (v ->> 2)::integer, (v ->> 3)::integer,
           (v ->> 4)::double precision, v ->> 5, (v ->> 6)::bigint, ${NOW}, ${NOW}
    FROM json_array_elements($2::text::json) AS v`;
  const insert = options.ifAbsent
    ? `WITH stored AS (${values} ON CONFLICT (id) DO NOTHING RETURNING 1)
       SELECT count(*)::integer AS n FROM stored`
    : values;
  const count = (rows: Row[]) => options.ifAbsent ? rows[0].n as number : 0;
  const encode = (start: number) =>
    JSON.stringify(
      jobs.slice(start, start + ENQUEUE_CHUNK).map((job) => [
        job.id,
        job.command,
        job.priority,
        job.maxRetries,
        job.timeout,
        job.cwd,
        job.runAt,
      ]),
    );
  try {
    if (jobs.length <= ENQUEUE_CHUNK && !db.worker) {
      // One statement is atomic by itself: no BEGIN/COMMIT round trips.
      const rows = await db.run("safe", (sql) => query(sql, insert, [now, encode(0)]));
      return options.ifAbsent ? count(rows) : jobs.length;
    }
    return await db.transaction(async (tx) => {
      if (db.worker) await tx.unsafe("SET LOCAL synchronous_commit = on");
      // Chunks are pipelined: each is sent as soon as it is encoded, and the
      // next is encoded while the server stores it.
      const pending: Promise<Row[]>[] = [];
      for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
        const inserted = query(tx, insert, [now, encode(start)]);
        inserted.catch(() => {}); // starts it; Promise.all below reports the error
        pending.push(inserted);
        await new Promise((resolve) => setTimeout(resolve, 0)); // let the socket write it
      }
      const results = await Promise.all(pending);
      return options.ifAbsent ? results.reduce((sum, rows) => sum + count(rows), 0) : jobs.length;
    });
  } catch (error) {
    if (errorCode(error) !== "23505") throw error;
    const ids = jobs.map((job) => job.id);
    const [taken] = await db.run("idempotent", (sql) =>
      query(
        sql,
        `SELECT id FROM jobs
         WHERE id IN (SELECT json_array_elements_text($1::text::json)) LIMIT 1`,
        [JSON.stringify(ids)],
      ));
    throw new QueueError(
      "conflict",
      `A job with id ${
        quote(taken ? taken.id as string : "?")
      } already exists; nothing was enqueued`,
    );
  }
}
