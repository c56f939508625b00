/**
 * The worker's hot path in one statement (one round trip): record the runs
 * that completed since the last exchange, give back jobs held but never
 * started, and claim the next jobs. Data-modifying CTEs of one statement see
 * one snapshot, and each touches other rows, so they cannot interfere.
 * @module
 */

import { Buffer } from "node:buffer";
import type { ExchangeReply, ExchangeRequest } from "../store.ts";
import { claimCtes, inClaimOrder } from "./claim.ts";
import type { PgDb } from "./db.ts";
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
  const completed = (request.completed ?? []).map(({ id, result }) => ({
    id,
    exit_code: result.exitCode,
    error: text(result.error),
    stdout: base64(result.stdout),
    stderr: base64(result.stderr),
    started_at: result.startedAt ?? null,
  }));
  const before = request.before;
  const params: unknown[] = [
    db.now(),
    worker,
    request.leaseMs,
    request.claim ?? 0,
    JSON.stringify(completed),
    JSON.stringify(request.release ?? []),
    ...(before ? [before.priority, before.runAt] : []),
  ];
  const claim = claimCtes({
    worker: 2,
    lease: 3,
    limit: 4,
    ...(before ? { beforePriority: 7, beforeRunAt: 8 } : {}),
  });
  const [row] = await db.run("safe", (sql) =>
    query(
      sql,
      `
    WITH RECURSIVE input AS (
      SELECT * FROM json_to_recordset($5::text::json)
        AS input (id text, exit_code integer, error text, stdout text, stderr text,
                  started_at bigint)
    ), done AS (
      UPDATE jobs AS j
      SET state = 'completed', finished_at = ${NOW}, updated_at = ${NOW},
          exit_code = input.exit_code, last_error = NULL, worker = NULL, lease_until = NULL,
          started_at = coalesce(input.started_at, j.started_at)
      FROM input
      WHERE j.id = input.id AND j.state = 'processing' AND j.worker = $2
      RETURNING j.seq, j.runs, j.id
    ), done_attempts AS (
      UPDATE attempts AS a
      SET finished_at = ${NOW}, outcome = 'completed', exit_code = input.exit_code,
          error = input.error, stdout = decode(input.stdout, 'base64'),
          stderr = decode(input.stderr, 'base64'),
          started_at = coalesce(input.started_at, a.started_at)
      FROM done JOIN input ON input.id = done.id
      WHERE a.job_seq = done.seq AND a.attempt = done.runs
    ), ${releaseCtes({ worker: 2, released: 6 })}, ${claim}
    SELECT (SELECT coalesce(json_agg(id), '[]') FROM done) AS completed,
           (SELECT coalesce(json_agg(claimed), '[]') FROM claimed) AS claimed`,
      params,
    ));
  return {
    completed: row.completed as string[],
    claimed: inClaimOrder(row.claimed as Row[]),
  };
}
