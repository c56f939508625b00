/**
 * Enqueue: a batch of new jobs, all or nothing, durable when it returns;
 * each in its queue (made on first use), blocked while a dependency has not
 * completed. Large batches are pipelined in chunks inside one transaction.
 * @module
 */

import { invalid, QueueError, quote } from "../../core/errors.ts";
import { DEFAULT_QUEUE } from "../../core/queue_name.ts";
import type { JobState, NewJob } from "../../core/types.ts";
import type { EnqueueOptions } from "../store.ts";
import type { PgDb } from "./db.ts";
import { initialStates, insertDependencies } from "./deps.ts";
import { errorCode } from "./errors.ts";
import { ensureQueuesCte } from "./queues.ts";
import { NOW, query, type Row, type Sql } from "./sql.ts";

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

/** The jobs of `jobs` whose id is not taken yet (for `ifAbsent`). */
async function absent(tx: Sql, jobs: NewJob[]): Promise<NewJob[]> {
  const rows = await query(
    tx,
    "SELECT id FROM jobs WHERE id IN (SELECT json_array_elements_text($1::text::json))",
    [JSON.stringify(jobs.map((job) => job.id))],
  );
  const taken = new Set(rows.map((row) => row.id as string));
  return jobs.filter((job) => !taken.has(job.id));
}

/**
 * Stores `jobs` in their queues and records their dependencies; throws
 * `conflict` naming an id that repeats or already exists, unless `ifAbsent`
 * (then such jobs are skipped, their dependencies unchecked), or naming a
 * cancelled dependency; `invalid` naming a dependency that does not exist.
 * Returns how many were stored.
 */
export async function enqueue(
  db: PgDb,
  jobs: NewJob[],
  options: EnqueueOptions = {},
): Promise<number> {
  if (jobs.length === 0) return 0;
  checkBatch(jobs);
  const now = db.now();
  // $2: the jobs of a chunk; $3: the names of their queues.
  const insert = `
    INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                      queue, after_ids, created_at, updated_at)
    SELECT v ->> 0, v ->> 1, v ->> 9, (v ->> 2)::integer, (v ->> 3)::integer,
           (v ->> 4)::double precision, v ->> 5, (v ->> 6)::bigint, v ->> 7, v ->> 8,
           ${NOW}, ${NOW}
    FROM json_array_elements($2::text::json) AS v
    ${options.ifAbsent ? "ON CONFLICT (id) DO NOTHING" : ""}
    RETURNING id`;
  const statement = `WITH ${ensureQueuesCte(3)}, stored AS (${insert})
    SELECT coalesce(json_agg(id), '[]') AS ids FROM stored`;
  const encode = (list: NewJob[], start: number, states: Map<string, JobState>) =>
    JSON.stringify(
      list.slice(start, start + ENQUEUE_CHUNK).map((job) => [
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
  const queuesOf = (list: NewJob[]) =>
    JSON.stringify([...new Set(list.map((job) => job.queue ?? DEFAULT_QUEUE))]);
  const withDependencies = jobs.some((job) => job.after?.length);
  try {
    if (jobs.length <= ENQUEUE_CHUNK && !db.worker && !withDependencies) {
      // One statement is atomic by itself: no BEGIN/COMMIT round trips.
      const [row] = await db.run(
        "safe",
        (sql) => query(sql, statement, [now, encode(jobs, 0, new Map()), queuesOf(jobs)]),
      );
      return (row.ids as string[]).length;
    }
    return await db.transaction(async (tx) => {
      if (db.worker) await tx.unsafe("SET LOCAL synchronous_commit = on");
      const batch = options.ifAbsent ? await absent(tx, jobs) : jobs;
      const states = await initialStates(tx, batch);
      // Chunks are pipelined: each is sent as soon as it is encoded, and the
      // next is encoded while the server stores it.
      const pending: Promise<Row[]>[] = [];
      for (let start = 0; start < batch.length; start += ENQUEUE_CHUNK) {
        const inserted = query(tx, statement, [
          now,
          encode(batch, start, states),
          start ? "[]" : queuesOf(batch),
        ]);
        inserted.catch(() => {}); // starts it; Promise.all below reports the error
        pending.push(inserted);
        await new Promise((resolve) => setTimeout(resolve, 0)); // let the socket write it
      }
      const stored = new Set((await Promise.all(pending)).flatMap(([row]) => row.ids as string[]));
      // Only jobs stored now get dependencies: one that another enqueue stored meanwhile is left.
      await insertDependencies(tx, batch.filter((job) => stored.has(job.id)));
      return stored.size;
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
