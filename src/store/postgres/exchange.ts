/**
 * The worker's hot path in one statement (one round trip): record the runs
 * that completed since the last exchange, give back jobs held but never
 * started, and claim the next jobs. Data-modifying CTEs of one statement see
 * one snapshot, and each touches other rows, so they cannot interfere.
 *
 * Two cases take more: a completed job that others depend on is recorded
 * with its dependents in a transaction of its own (see deps.ts), and a claim
 * whose best job is in a limited queue goes on under that queue's lock (see
 * claim.ts).
 * @module
 */

import { Buffer } from "node:buffer";
import type { ExchangeReply, ExchangeRequest } from "../store.ts";
import {
  claimCtes,
  claimJobs,
  claimLimited,
  claimParams,
  claimResult,
  inClaimOrder,
} from "./claim.ts";
import type { PgDb } from "./db.ts";
import { completeWithDependents } from "./settle.ts";
import { NOW, query, type Row, text } from "./sql.ts";

/** Base64 of captured output for the JSON input; empty output is NULL, as in a single settle. */
function base64(bytes: Uint8Array): string | null {
  return bytes.length === 0 ? null : Buffer.from(bytes).toString("base64");
}

/**
 * CTEs over `$released` (a JSON array of ids) that give back jobs `$worker`
 * holds but never started: each returns to its state before the claim, its
 * attempt count and times restored and the attempt that never ran removed.
 * `$1` is the time, as for every statement.
 */
export function releaseCtes(p: { worker: number; released: number }): string {
  return `
    released AS (
      UPDATE jobs AS j
      SET state = CASE WHEN j.attempts > 1 THEN 'failed' ELSE 'pending' END,
          attempts = j.attempts - 1, runs = j.runs - 1, worker = NULL, lease_until = NULL,
          updated_at = ${NOW}, started_at = (SELECT a.started_at FROM attempts a
                        WHERE a.job_seq = j.seq AND a.attempt = j.runs - 1),
          finished_at = (SELECT a.finished_at FROM attempts a
                         WHERE a.job_seq = j.seq AND a.attempt = j.runs - 1)
      WHERE j.id IN (SELECT json_array_elements_text($${p.released}::text::json))
        AND j.state = 'processing' AND j.worker = $${p.worker}
      RETURNING j.seq, j.runs + 1 AS attempt, j.id
    ), forgotten AS (
      DELETE FROM attempts AS a USING released AS r
      WHERE a.job_seq = r.seq AND a.attempt = r.attempt
    )`;
}

/** See Store.exchange. */
export async function exchange(
  db: PgDb,
  worker: string,
  request: ExchangeRequest,
): Promise<ExchangeReply> {
  db.markSeen();
  const runs = request.completed ?? [];
  const completed = runs.map(({ id, result }) => ({
    id,
    exit_code: result.exitCode,
    error: text(result.error),
    stdout: base64(result.stdout),
    stderr: base64(result.stderr),
    started_at: result.startedAt ?? null,
  }));
  const want = request.claim ?? 0;
  const claim = {
    worker,
    leaseMs: request.leaseMs,
    limit: want,
    queues: request.queues,
    before: request.before,
  };
  const { values, p } = claimParams(claim, 4, { skipLimited: false });
  const [row] = await db.run("safe", (sql) =>
    query(
      sql,
      `
    WITH RECURSIVE input AS (
      SELECT * FROM json_to_recordset($2::text::json)
        AS input (id text, exit_code integer, error text, stdout text, stderr text,
                  started_at bigint)
    ), done AS (
      UPDATE jobs AS j
      SET state = 'completed', finished_at = ${NOW}, updated_at = ${NOW},
          exit_code = input.exit_code, last_error = NULL, worker = NULL, lease_until = NULL,
          started_at = coalesce(input.started_at, j.started_at)
      FROM input
      WHERE j.id = input.id AND j.state = 'processing' AND j.worker = $4
        AND NOT j.has_dependents
      RETURNING j.seq, j.runs, j.id, j.queue
    ), done_attempts AS (
      UPDATE attempts AS a
      SET finished_at = ${NOW}, outcome = 'completed', exit_code = input.exit_code,
          error = input.error, stdout = decode(input.stdout, 'base64'),
          stderr = decode(input.stderr, 'base64'),
          started_at = coalesce(input.started_at, a.started_at)
      FROM done JOIN input ON input.id = done.id
      WHERE a.job_seq = done.seq AND a.attempt = done.runs
    ), ${releaseCtes({ worker: 4, released: 3 })}, ${claimCtes(p)}
    SELECT (SELECT coalesce(json_agg(id), '[]') FROM done) AS completed,
           EXISTS (SELECT 1 FROM done JOIN queues AS q ON q.name = done.queue
                   WHERE q.concurrency > 0) AS freed_limited,
           ${claimResult(p)}`,
      [
        db.now(),
        JSON.stringify(completed),
        JSON.stringify(request.release ?? []),
        ...values,
      ],
    ));
  const recorded = row.completed as string[];
  let claimed = inClaimOrder(row.claimed as Row[]);
  if (claimed.length === 0 && want > 0 && row.limited_queue !== null) {
    claimed = await claimLimited(db, claim, row.limited_queue as string);
  }
  // Completed jobs that others depend on: each with its dependents, in its own transaction.
  // Then the batch is filled up if jobs were unblocked or a limited queue got room: the
  // statement's claim saw neither (its snapshot predates its own completions).
  const done = new Set(recorded);
  let moreDue = row.freed_limited as boolean;
  for (const { id, result } of runs) {
    if (done.has(id) || !await completeWithDependents(db, id, worker, result)) continue;
    recorded.push(id);
    moreDue = true;
  }
  if (moreDue && claimed.length < want) {
    const more = await claimJobs(db, { ...claim, limit: want - claimed.length });
    claimed = [...claimed, ...more].sort((a, b) => b.priority - a.priority || a.runAt - b.runAt);
  }
  return { completed: recorded, claimed };
}
