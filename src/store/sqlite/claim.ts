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

/** The served queues that are not paused, with how many more jobs each may start now. */
function openQueues(db: SqliteDb, queues?: readonly string[] | null): [string, number][] {
  const filter = queues ? JSON.stringify(queues) : null;
  const rows = db.sql(`
    SELECT q.name, q.concurrency - coalesce(
             (SELECT n FROM job_counts WHERE queue = q.name AND state = 'processing'), 0) AS room,
           q.concurrency
    FROM queues AS q
    WHERE q.paused = 0 AND q.name <> '*'
      AND (? IS NULL OR q.name IN (SELECT value FROM json_each(?)))`).all(filter, filter) as Row[];
  return rows
    .map((row): [string, number] => [
      row.name as string,
      row.concurrency === 0 ? Infinity : row.room as number,
    ])
    .filter(([, room]) => room > 0);
}

/** The first job of `queue` in claim order with a priority below `below` (any, when `null`). */
function head(db: SqliteDb, queue: string, below: number | null): Row | undefined {
  return (below === null
    ? db.sql(`
        SELECT priority, run_at FROM jobs INDEXED BY jobs_claim
        WHERE queue = ? AND state IN ('pending', 'failed')
        ORDER BY priority DESC, run_at, seq LIMIT 1`).get(queue)
    : db.sql(`
        SELECT priority, run_at FROM jobs INDEXED BY jobs_claim
        WHERE queue = ? AND state IN ('pending', 'failed') AND priority < ?
        ORDER BY priority DESC, run_at, seq LIMIT 1`).get(queue, below)) as Row | undefined;
}

/** Up to `limit` due jobs of `queue` in claim order (see {@linkcode dueJobs}). */
function dueInQueue(
  db: SqliteDb,
  queue: string,
  now: number,
  limit: number,
  before?: ClaimBefore,
): Due[] {
  const found: Due[] = [];
  let below: number | null = null;
  while (found.length < limit) {
    const first = head(db, queue, below);
    if (!first) break;
    const priority = first.priority as number;
    if (before && priority < before.priority) break;
    if ((first.run_at as number) <= now) {
      // Same priority as `before`: only jobs due earlier than it run before it.
      const until = before && priority === before.priority ? Math.min(now, before.runAt - 1) : now;
      const rows = db.sql(`
        SELECT seq, run_at FROM jobs INDEXED BY jobs_claim
        WHERE queue = ? AND state IN ('pending', 'failed') AND priority = ? AND run_at <= ?
        ORDER BY run_at, seq LIMIT ?`).all(queue, priority, until, limit - found.length) as Row[];
      for (const row of rows) {
        found.push({ seq: row.seq as number, priority, runAt: row.run_at as number });
      }
    }
    below = priority;
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
  const found: Due[] = [];
  for (const [queue, room] of openQueues(db, scope.queues)) {
    found.push(...dueInQueue(db, queue, now, Math.min(limit, room), scope.before));
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
