/**
 * Enqueue: a batch of new jobs, all or nothing, durable when it returns.
 * Large batches are pipelined in chunks inside one transaction.
 * @module
 */

import { invalid, QueueError, quote } from "../../core/errors.ts";
import { DEFAULT_QUEUE } from "../../core/queue.ts";
import type { JobState, NewJob } from "../../core/types.ts";
import type { PgDb } from "./db.ts";
import { initialStates, insertDependencies } from "./deps.ts";
import { errorCode } from "./errors.ts";
import { ensureQueuesCte } from "./queues.ts";
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
 * Stores `jobs` in their queues (made on first use) and records their
 * dependencies; throws `conflict` naming an id that repeats or already exists,
 * or `invalid` naming a dependency that does not.
 */
export async function enqueue(db: PgDb, jobs: NewJob[]): Promise<void> {
  if (jobs.length === 0) return;
  checkBatch(jobs);
  const now = db.now();
  const insert = `
    WITH ${ensureQueuesCte(3)}
    INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                      queue, after_ids, created_at, updated_at)
    SELECT v ->> 0, v ->> 1, v ->> 9, (v ->> 2)::integer, (v ->> 3)::integer,
           (v ->> 4)::double precision, v ->> 5, (v ->> 6)::bigint, v ->> 7, v ->> 8,
           ${NOW}, ${NOW}
    FROM json_array_elements($2::text::json) AS v`;
  const queues = JSON.stringify([...new Set(jobs.map((job) => job.queue ?? DEFAULT_QUEUE))]);
  const encode = (start: number, states: Map<string, JobState>) =>
    JSON.stringify(
      jobs.slice(start, start + ENQUEUE_CHUNK).map((job) => [
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
      ]),
    );
  const withDependencies = jobs.some((job) => job.after?.length);
  try {
    if (jobs.length <= ENQUEUE_CHUNK && !db.worker && !withDependencies) {
      // One statement is atomic by itself: no BEGIN/COMMIT round trips.
      await db.run("safe", (sql) => query(sql, insert, [now, encode(0, new Map()), queues]));
      return;
    }
    await db.transaction(async (tx) => {
      if (db.worker) await tx.unsafe("SET LOCAL synchronous_commit = on");
      const states = await initialStates(tx, jobs);
      // Chunks are pipelined: each is sent as soon as it is encoded, and the
      // next is encoded while the server stores it.
      const pending: Promise<Row[]>[] = [];
      for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
        const inserted = query(tx, insert, [now, encode(start, states), start ? "[]" : queues]);
        inserted.catch(() => {}); // starts it; Promise.all below reports the error
        pending.push(inserted);
        await new Promise((resolve) => setTimeout(resolve, 0)); // let the socket write it
      }
      await Promise.all(pending);
      await insertDependencies(tx, jobs);
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
