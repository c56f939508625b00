/**
 * Claim: one statement takes the next runnable job of the queues a worker
 * serves (highest priority, then earliest `run_at`, then insertion order)
 * with `FOR UPDATE SKIP LOCKED`, marks it processing under a lease on the
 * database clock, and opens its attempt.
 *
 * Paused queues are left out before any job is looked at; each remaining
 * queue's part of the claim index is walked to its first due job (blocked
 * jobs are not in that index).
 *
 * Queues with a concurrency limit cannot be claimed from that way: claims run
 * concurrently, and a count of a queue's processing jobs read by one would
 * not see another's. So the statement claims only from unlimited queues, and
 * only when no limited queue with room has a better job. If one has, that
 * queue is claimed from in a transaction that first locks the queue's row:
 * claims of one limited queue take turns, and each counts the queue's
 * processing jobs in a snapshot taken after the one before it committed.
 * Unlimited queues never wait for that lock.
 * @module
 */

import type { Job } from "../../core/types.ts";
import { toJob } from "../rows.ts";
import type { ClaimOptions } from "../store.ts";
import type { PgDb } from "./db.ts";
import { NOW, query, type Row, type Sql } from "./sql.ts";

/** Processing jobs of queue `${q}` (a column or parameter), summed over the counter shards. */
const processing = (q: string) =>
  `(SELECT coalesce(sum(n), 0) FROM job_counts WHERE queue = ${q} AND state = 'processing')`;

/** The best due job of queue `${q}` (a column of the outer query), in claim order. */
const firstDue = (q: string, lock: string) => `
  SELECT seq, priority, run_at FROM jobs
  WHERE queue = ${q} AND state IN ('pending', 'failed') AND run_at <= ${NOW}
  ORDER BY priority DESC, run_at, seq
  LIMIT 1 ${lock}`;

/** Marks the job `next` names processing and opens its attempt; the CTEs `next` must precede. */
const TAKE = `
  claimed AS (
    UPDATE jobs
    SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = $2,
        lease_until = ${NOW} + $3::bigint, started_at = ${NOW}, updated_at = ${NOW},
        finished_at = NULL
    WHERE seq = (SELECT seq FROM next)
    RETURNING *
  ), attempt AS (
    INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
    SELECT seq, runs, $2, ${NOW}, 'running' FROM claimed
  )`;

/**
 * From unlimited queues, unless a limited queue with room (as this statement
 * sees it) has a better job: then it claims nothing and names that queue.
 * `$5` true leaves limited queues out of the comparison.
 */
const CLAIM_UNLIMITED = `
  WITH served AS MATERIALIZED (
    SELECT name, concurrency FROM queues
    WHERE NOT paused AND name <> '*'
      AND ($4::text IS NULL OR name IN (SELECT json_array_elements_text($4::text::json)))
  ), limited AS MATERIALIZED (
    SELECT q.name AS queue, c.priority, c.run_at, c.seq
    FROM (SELECT * FROM served
          WHERE NOT $5::boolean AND concurrency > 0 AND ${processing("name")} < concurrency) AS q
    CROSS JOIN LATERAL (${firstDue("q.name", "")}) AS c
    ORDER BY c.priority DESC, c.run_at, c.seq
    LIMIT 1
  ), best AS MATERIALIZED (
    SELECT c.seq, c.priority, c.run_at
    FROM (SELECT name FROM served WHERE concurrency = 0) AS q
    CROSS JOIN LATERAL (${firstDue("q.name", "FOR UPDATE SKIP LOCKED")}) AS c
    ORDER BY c.priority DESC, c.run_at, c.seq
    LIMIT 1
  ), next AS (
    SELECT b.seq FROM best AS b
    WHERE NOT EXISTS (
      SELECT 1 FROM limited AS l
      WHERE l.priority > b.priority
         OR (l.priority = b.priority AND (l.run_at, l.seq) < (b.run_at, b.seq)))
  ), ${TAKE}
  SELECT c.*, l.queue AS limited_queue
  FROM (SELECT 1) AS one LEFT JOIN claimed AS c ON true LEFT JOIN limited AS l ON c.seq IS NULL`;

/** From limited queue `$4` while holding its row's lock, if it still has room. */
const CLAIM_LIMITED = `
  WITH next AS MATERIALIZED (
    SELECT seq FROM jobs
    WHERE queue = $4 AND state IN ('pending', 'failed') AND run_at <= ${NOW}
      AND ${processing("$4")} < $5::integer
    ORDER BY priority DESC, run_at, seq
    LIMIT 1
    FOR UPDATE SKIP LOCKED
  ), ${TAKE}
  SELECT * FROM claimed`;

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(
  db: PgDb,
  worker: string,
  leaseMs: number,
  options: ClaimOptions = {},
): Promise<Job | null> {
  db.markSeen();
  const queues = options.queues ? JSON.stringify(options.queues) : null;
  const unlimited = (skipLimited: boolean) =>
    db.run(
      "safe",
      (sql) => query(sql, CLAIM_UNLIMITED, [db.now(), worker, leaseMs, queues, skipLimited]),
    );
  const [row] = await unlimited(false);
  if (row.seq !== null) return toJob(row);
  if (row.limited_queue === null) return null;
  const limited = await claimLimited(db, worker, leaseMs, row.limited_queue as string);
  if (limited) return toJob(limited);
  // That queue filled up meanwhile: take the best job of the others.
  const [other] = await unlimited(true);
  return other.seq === null ? null : toJob(other);
}

/** Claims from limited queue `queue` under its row's lock; `undefined` if it had no room. */
async function claimLimited(
  db: PgDb,
  worker: string,
  leaseMs: number,
  queue: string,
): Promise<Row | undefined> {
  return await db.transaction(async (tx: Sql) => {
    const [settings] = await query(
      tx,
      "SELECT concurrency FROM queues WHERE name = $1 AND NOT paused FOR UPDATE",
      [queue],
    );
    if (!settings || settings.concurrency === 0) return undefined;
    // A new statement, so its snapshot sees every claim committed before the lock was ours.
    const [row] = await query(tx, CLAIM_LIMITED, [
      db.now(),
      worker,
      leaseMs,
      queue,
      settings.concurrency,
    ]);
    return row;
  });
}
