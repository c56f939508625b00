/**
 * Claim: take the next runnable jobs of the queues a worker serves (highest
 * priority, then earliest `run_at`, then insertion order), mark them
 * processing under a lease, and open their attempts, inside the caller's
 * write transaction.
 *
 * Paused queues, and limited queues with as many jobs processing as their
 * limit, are left out before any job is looked at; a limited queue gives at
 * most its room. The write transaction (`BEGIN IMMEDIATE`) serializes claims,
 * so the count of a queue's processing jobs read here cannot change before
 * the claim commits. Blocked jobs are not in the claim index.
 *
 * Within a queue the walk never scans jobs that are not due: per priority the
 * claim index is sorted by `run_at`, so its first row tells whether anything
 * of that priority is due, and the next priority is one seek away. A claim
 * costs one seek per served queue and per priority that holds only future
 * jobs, whatever their number.
 * @module
 */

import type { Job } from "../../core/types.ts";
import { toJob } from "../rows.ts";
import type { ClaimBefore } from "../store.ts";
import type { Row, SqliteDb } from "./db.ts";

/** Which jobs a claim may take: of these queues (default: all), before a held job. */
export interface ClaimScope {
  queues?: readonly string[] | null;
  before?: ClaimBefore;
}

/** A due job found by the walk, with its place in the claim order. */
interface Due {
  seq: number;
  priority: number;
  runAt: number;
}

/** An open served queue: how many more jobs it may start, and its first job in claim order. */
interface QueueHead {
  queue: string;
  room: number;
  /** The first pending or failed job of the queue (due or not), or `null` for none. */
  first: Due | null;
}

/**
 * The served queues that are not paused and have room, with the first job of
 * each in claim order: one statement, one index seek per queue.
 */
function openQueues(db: SqliteDb, queues?: readonly string[] | null): QueueHead[] {
  const filter = queues ? JSON.stringify(queues) : null;
  const rows = db.sql(`
    SELECT q.name, q.concurrency, q.concurrency - coalesce(
             (SELECT n FROM job_counts WHERE queue = q.name AND state = 'processing'), 0) AS room,
           j.seq, j.priority, j.run_at
    FROM queues AS q
    LEFT JOIN jobs AS j ON j.seq = (
      SELECT seq FROM jobs INDEXED BY jobs_claim
      WHERE queue = q.name AND state IN ('pending', 'failed')
      ORDER BY priority DESC, run_at, seq LIMIT 1)
    WHERE q.paused = 0 AND q.name <> '*'
      AND (? IS NULL OR q.name IN (SELECT value FROM json_each(?)))`).all(filter, filter) as Row[];
  return rows
    .map((row) => ({
      queue: row.name as string,
      room: row.concurrency === 0 ? Infinity : row.room as number,
      first: row.seq === null ? null : {
        seq: row.seq as number,
        priority: row.priority as number,
        runAt: row.run_at as number,
      },
    }))
    .filter((head) => head.room > 0 && head.first !== null);
}

/** The first job of `queue` in claim order with a priority below `below`. */
function head(db: SqliteDb, queue: string, below: number): Row | undefined {
  return db.sql(`
    SELECT priority, run_at FROM jobs INDEXED BY jobs_claim
    WHERE queue = ? AND state IN ('pending', 'failed') AND priority < ?
    ORDER BY priority DESC, run_at, seq LIMIT 1`).get(queue, below) as Row | undefined;
}

/** The latest `run_at` a job of `priority` may have to be claimed now (before `before`). */
function dueBy(priority: number, now: number, before?: ClaimBefore): number {
  return before && priority === before.priority ? Math.min(now, before.runAt - 1) : now;
}

/** Up to `limit` due jobs of a queue in claim order, walking on from its first job. */
function dueInQueue(
  db: SqliteDb,
  { queue, first }: QueueHead,
  now: number,
  limit: number,
  before?: ClaimBefore,
): Due[] {
  const found: Due[] = [];
  let next: { priority: number; runAt: number } | null = first;
  while (next && found.length < limit) {
    const { priority } = next;
    if (before && priority < before.priority) break;
    const until = dueBy(priority, now, before);
    if (next.runAt <= until) {
      const rows = db.sql(`
        SELECT seq, run_at FROM jobs INDEXED BY jobs_claim
        WHERE queue = ? AND state IN ('pending', 'failed') AND priority = ? AND run_at <= ?
        ORDER BY run_at, seq LIMIT ?`).all(queue, priority, until, limit - found.length) as Row[];
      for (const row of rows) {
        found.push({ seq: row.seq as number, priority, runAt: row.run_at as number });
      }
    }
    const below = head(db, queue, priority);
    next = below ? { priority: below.priority as number, runAt: below.run_at as number } : null;
  }
  return found;
}

/**
 * The seqs of up to `limit` due jobs in claim order, only of open served
 * queues (each within its room), only those that run before `scope.before`
 * when it is given. Reads only; safe outside a transaction.
 */
export function dueJobs(
  db: SqliteDb,
  now: number,
  limit: number,
  scope: ClaimScope = {},
): number[] {
  const { before } = scope;
  const found: Due[] = [];
  for (const queue of openQueues(db, scope.queues)) {
    const first = queue.first!;
    const take = Math.min(limit, queue.room);
    if (
      take === 1 && first.runAt <= dueBy(first.priority, now, before) &&
      (!before || first.priority >= before.priority)
    ) {
      found.push(first); // the common case: the queue's first job is due, and one is wanted
    } else {
      found.push(...dueInQueue(db, queue, now, take, before));
    }
  }
  return found
    .sort((a, b) => b.priority - a.priority || a.runAt - b.runAt || a.seq - b.seq)
    .slice(0, limit)
    .map((due) => due.seq);
}

/**
 * Claims up to `limit` due jobs for `worker` inside the caller's write
 * transaction, in claim order, each holding a lease of `leaseMs`.
 */
export function claimRows(
  db: SqliteDb,
  worker: string,
  now: number,
  leaseMs: number,
  limit: number,
  scope: ClaimScope = {},
): Job[] {
  if (limit <= 0) return [];
  const update = db.sql(`
    UPDATE jobs
    SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = ?,
        lease_until = ?, started_at = ?, updated_at = ?, finished_at = NULL
    WHERE seq = ?
    RETURNING *`);
  const open = db.sql(`
    INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
    VALUES (?, ?, ?, ?, 'running')`);
  return dueJobs(db, now, limit, scope).map((seq) => {
    const row = update.get(worker, now + leaseMs, now, now, seq) as Row;
    open.run(row.seq, row.runs, worker, now);
    return toJob(row);
  });
}

/** Takes the next runnable job for `worker`, holding it for `leaseMs`; `null` when none is due. */
export async function claim(
  db: SqliteDb,
  worker: string,
  leaseMs: number,
  options: { queues?: readonly string[] | null } = {},
): Promise<Job | null> {
  const now = db.now();
  db.markSeen();
  const scope = { queues: options.queues };
  // A read first: an idle claim needs no write lock.
  if (dueJobs(db, now, 1, scope).length === 0) return null;
  const [job] = await db.tx(() => claimRows(db, worker, now, leaseMs, 1, scope));
  return job ?? null;
}
