/**
 * Claim: take the next runnable jobs of the queues a worker serves (highest
 * priority, then earliest `run_at`, then insertion order) with `FOR UPDATE
 * SKIP LOCKED`, mark them processing under a lease on the database clock,
 * and open their attempts.
 *
 * Paused queues are left out before any job is looked at. Within each served
 * queue the walk never scans jobs that are not due: per priority the claim
 * index is sorted by `run_at`, so its first row tells whether anything of
 * that priority is due, and a recursive step seeks the next priority. An idle
 * claim costs one seek per served queue and priority, whatever the number of
 * delayed jobs; blocked jobs are not in the index at all.
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
import type { ClaimBefore } from "../store.ts";
import type { PgDb } from "./db.ts";
import { NOW, query, type Row, type Sql } from "./sql.ts";

/** Processing jobs of queue `q` (a column or parameter), summed over the counter shards. */
const processing = (q: string) =>
  `(SELECT coalesce(sum(n), 0) FROM job_counts WHERE queue = ${q} AND state = 'processing')`;

/**
 * Positions of a claim's parameters in the caller's statement (`$1` is the
 * time), and the number of jobs wanted.
 */
export interface ClaimParams {
  worker: number;
  lease: number;
  /**
   * Jobs wanted: written into the statement as a literal, not sent as a
   * parameter. With `LIMIT $n` a generic plan is costed as if a tenth of the
   * table were claimed, so on a large table PostgreSQL would plan every claim
   * anew (about 0.6 ms, more than running it); with the number in the text
   * the generic plan is costed right and reused at any size. A worker asks
   * for few distinct numbers (1 to `claim-ahead`), so few statements.
   */
  limit: number;
  /** A JSON array of queue names, or NULL for every queue (unlimited mode only). */
  queues: number;
  /**
   * Unlimited mode (the default): a boolean; true leaves limited queues out
   * entirely. Limited mode: the one queue, locked by the caller.
   */
  skipLimited?: number;
  limitedQueue?: number;
  beforePriority?: number;
  beforeRunAt?: number;
}

/** A claim's job count as SQL text: a whole number, never anything else. */
function literalLimit(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`bad claim limit ${limit}`);
  return String(limit);
}

/**
 * CTEs (for a `WITH RECURSIVE` list) that claim up to `$limit` due jobs as
 * `claimed` (the updated job rows), and name in `limited` the best due job of
 * a limited queue with room (unlimited mode; claimed only when it is not
 * better than every job of the unlimited queues).
 */
export function claimCtes(p: ClaimParams): string {
  const before = p.beforePriority !== undefined;
  const limitedMode = p.limitedQueue !== undefined;
  const due = (priority: string) =>
    before
      ? `CASE WHEN ${priority} = $${p.beforePriority}::integer
              THEN LEAST(${NOW}, $${p.beforeRunAt}::bigint - 1) ELSE ${NOW} END`
      : NOW;
  // With `before`, one priority only (the best due one, never below the held job's); else
  // from the best due priority down, so rows locked by other claimers are skipped, not waited on.
  const rows = before
    ? `priority = b.priority AND run_at <= ${due("b.priority")}`
    : `priority <= b.priority AND run_at <= ${NOW}`;
  const served = limitedMode
    ? `SELECT name, concurrency > 0 AS limited,
              GREATEST(0, concurrency - ${processing("name")})::bigint AS room
       FROM queues WHERE name = $${p.limitedQueue} AND NOT paused AND concurrency > 0`
    : `SELECT name, concurrency > 0 AS limited, NULL::bigint AS room FROM queues
       WHERE NOT paused AND name <> '*'
         AND ($${p.queues}::text IS NULL
              OR name IN (SELECT json_array_elements_text($${p.queues}::text::json)))
         AND (concurrency = 0
              OR (NOT $${p.skipLimited}::boolean AND ${processing("name")} < concurrency))`;
  const own = limitedMode ? "limited" : "NOT limited";
  const limit = literalLimit(p.limit);
  const take = limitedMode ? `LEAST(${limit}, b.room)` : `${limit}`;
  // The due jobs of queue b.queue in claim order, locked, skipping rows other claimers hold.
  const lockDue = `
      CROSS JOIN LATERAL (
        SELECT seq, priority, run_at FROM jobs
        WHERE queue = b.queue AND state IN ('pending', 'failed') AND ${rows}
        ORDER BY priority DESC, run_at, seq
        LIMIT ${take}
        FOR UPDATE SKIP LOCKED) AS c`;
  return `
    served AS MATERIALIZED (${served}
    ), walk AS (
      (SELECT q.name AS queue, h.priority, h.run_at, h.seq FROM served AS q CROSS JOIN LATERAL (
         SELECT priority, run_at, seq FROM jobs
         WHERE queue = q.name AND state IN ('pending', 'failed')
         ORDER BY priority DESC, run_at, seq LIMIT 1) AS h)
      UNION ALL
      (SELECT w.queue, nx.priority, nx.run_at, nx.seq FROM walk AS w CROSS JOIN LATERAL (
         SELECT priority, run_at, seq FROM jobs
         WHERE queue = w.queue AND state IN ('pending', 'failed') AND priority < w.priority
         ORDER BY priority DESC, run_at, seq LIMIT 1) AS nx
       WHERE w.run_at > ${NOW} ${before ? `AND w.priority > $${p.beforePriority}` : ""})
    ), best AS MATERIALIZED (
      -- Per queue, its first due job: the walk's row of the best priority that has one.
      SELECT DISTINCT ON (w.queue) w.queue, s.limited, s.room, w.priority, w.run_at, w.seq
      FROM walk AS w JOIN served AS s ON s.name = w.queue
      WHERE w.run_at <= ${due("w.priority")}
        ${before ? `AND w.priority >= $${p.beforePriority}::integer` : ""}
      ORDER BY w.queue, w.priority DESC
    ), limited AS MATERIALIZED (
      SELECT queue, priority, run_at, seq FROM best WHERE limited AND ${!limitedMode}
      ORDER BY priority DESC, run_at, seq
      LIMIT 1
    ), fast AS MATERIALIZED (
      -- One job wanted: only the queue whose first due job is best is locked into.
      SELECT c.seq, c.priority, c.run_at
      FROM (SELECT * FROM best WHERE ${own} AND ${limit} = 1
            ORDER BY priority DESC, run_at, seq LIMIT 1) AS b ${lockDue}
    ), next AS MATERIALIZED (
      SELECT seq, priority, run_at FROM fast
      UNION ALL
      -- More wanted, or that queue's due jobs are all held by other claimers: every queue.
      (SELECT c.seq, c.priority, c.run_at
       FROM (SELECT * FROM best WHERE ${own} AND NOT EXISTS (SELECT 1 FROM fast)) AS b ${lockDue}
       ORDER BY c.priority DESC, c.run_at, c.seq
       LIMIT ${limit})
    ), chosen AS (
      SELECT seq FROM next WHERE NOT EXISTS (
        SELECT 1 FROM limited AS l, (SELECT * FROM next ORDER BY priority DESC, run_at, seq
                                     LIMIT 1) AS f
        WHERE l.priority > f.priority
           OR (l.priority = f.priority AND (l.run_at, l.seq) < (f.run_at, f.seq)))
    ), claimed AS (
      UPDATE jobs
      SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = $${p.worker},
          lease_until = ${NOW} + $${p.lease}::bigint, started_at = ${NOW}, updated_at = ${NOW},
          finished_at = NULL
      WHERE seq IN (SELECT seq FROM chosen)
      RETURNING *
    ), opened AS (
      INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
      SELECT seq, runs, $${p.worker}, ${NOW}, 'running' FROM claimed
    )`;
}

/**
 * The select list that reports a claim of {@linkcode claimCtes} with these
 * parameters: its rows as JSON, and a limited queue to try. A claim of no job
 * (an exchange that only records) looks at no queue.
 */
export function claimResult(p: ClaimParams): string {
  return `
  (SELECT coalesce(json_agg(claimed), '[]') FROM claimed) AS claimed,
  (SELECT queue FROM limited
   WHERE ${literalLimit(p.limit)} > 0 AND NOT EXISTS (SELECT 1 FROM chosen)) AS limited_queue`;
}

/** Claimed rows (any order) as jobs in claim order. */
export function inClaimOrder(rows: Row[]): Job[] {
  const key = (row: Row, column: string) => row[column] as number;
  return rows.sort((a, b) =>
    key(b, "priority") - key(a, "priority") || key(a, "run_at") - key(b, "run_at") ||
    key(a, "seq") - key(b, "seq")
  ).map(toJob);
}

/** What to claim after a first statement, and how. */
export interface ClaimRequest {
  worker: string;
  leaseMs: number;
  limit: number;
  queues?: readonly string[] | null;
  before?: ClaimBefore;
}

/**
 * The parameters after `$1` (the time) of a claim statement, from position
 * `first` on, and where each is; in limited mode (a queue given) the queue
 * takes the place of the queue filter.
 */
export function claimParams(
  request: ClaimRequest,
  first: number,
  mode: { skipLimited: boolean } | { limitedQueue: string },
): { values: unknown[]; p: ClaimParams } {
  const values: unknown[] = [request.worker, request.leaseMs];
  const at = (i: number) => first + i;
  const p: ClaimParams = { worker: at(0), lease: at(1), limit: request.limit, queues: at(2) };
  if ("limitedQueue" in mode) {
    values.push(mode.limitedQueue);
    p.limitedQueue = at(2);
  } else {
    values.push(request.queues ? JSON.stringify(request.queues) : null, mode.skipLimited);
    p.skipLimited = at(3);
  }
  if (request.before) {
    p.beforePriority = at(values.length);
    p.beforeRunAt = at(values.length + 1);
    values.push(request.before.priority, request.before.runAt);
  }
  return { values, p };
}

/**
 * The rest of a claim whose first statement named `limitedQueue`: claims from
 * that queue under its row's lock (as many as it has room for), then the
 * rest of the batch from the unlimited queues. Returns the jobs, in claim order.
 */
export async function claimLimited(
  db: PgDb,
  request: ClaimRequest,
  limitedQueue: string,
): Promise<Job[]> {
  const { text: statement, values } = claimStatement(request, { limitedQueue });
  const rows: Row[] = await db.transaction(async (tx: Sql) => {
    // Sent together, run in order: the claim is a new statement, so its snapshot is taken
    // once the lock is ours and sees every claim committed before. (Its own conditions
    // cover a queue that was paused or lost its limit meanwhile.)
    const [, [row]] = await Promise.all([
      query(tx, "SELECT 1 FROM queues WHERE name = $1 FOR UPDATE", [limitedQueue]),
      query(tx, statement, [db.now(), ...values]),
    ]);
    return row.claimed as Row[];
  });
  const more = request.limit - rows.length;
  if (more > 0) {
    // The queue had no more room: the best jobs of the others.
    const [other] = await unlimited(db, { ...request, limit: more }, true);
    rows.push(...other.claimed as Row[]);
  }
  return inClaimOrder(rows);
}

/**
 * A claim on its own: its text, and its parameters after `$1` (the time).
 * In limited mode the caller holds the queue's row lock.
 */
export function claimStatement(
  request: ClaimRequest,
  mode: { skipLimited: boolean } | { limitedQueue: string },
): { text: string; values: unknown[] } {
  const { values, p } = claimParams(request, 2, mode);
  return { text: `WITH RECURSIVE ${claimCtes(p)} SELECT ${claimResult(p)}`, values };
}

/** The claim statement over unlimited queues (see {@linkcode claimCtes}). */
function unlimited(db: PgDb, request: ClaimRequest, skipLimited: boolean): Promise<Row[]> {
  const { text, values } = claimStatement(request, { skipLimited });
  return db.run("safe", (sql) => query(sql, text, [db.now(), ...values]));
}

/** Claims up to `request.limit` jobs, in claim order (see the module notes). */
export async function claimJobs(db: PgDb, request: ClaimRequest): Promise<Job[]> {
  const [row] = await unlimited(db, request, false);
  const claimed = row.claimed as Row[];
  if (claimed.length > 0 || row.limited_queue === null) return inClaimOrder(claimed);
  return await claimLimited(db, request, row.limited_queue as string);
}

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(
  db: PgDb,
  worker: string,
  leaseMs: number,
  options: { queues?: readonly string[] | null } = {},
): Promise<Job | null> {
  db.markSeen();
  const [job] = await claimJobs(db, { worker, leaseMs, limit: 1, queues: options.queues });
  return job ?? null;
}
