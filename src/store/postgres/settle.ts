/**
 * Settle: a run's end recorded on its job and attempt — completed, or failed
 * and then retried after its backoff or buried in the DLQ. A settle changes a
 * job only while it is still that run and still held.
 * @module
 */

import type { Config } from "../../core/config.ts";
import { backoffSeconds, canRetry } from "../../core/retry.ts";
import type { FailOutcome, RunResult } from "../../core/types.ts";
import type { PgDb } from "./db.ts";
import { unblockDependents } from "./deps.ts";
import { blob, NOW, query, readConfig, type Row, type Sql, text } from "./sql.ts";

/** What a settle records of a run: output is optional (a lost run has none). */
export type RunEnd = Pick<RunResult, "exitCode" | "error"> & Partial<RunResult>;

/**
 * Completes the job and its attempt if `worker` still holds it; `$8` true
 * leaves alone a job that others depend on (that takes a transaction, below).
 */
const COMPLETE = `
  WITH done AS (
    UPDATE jobs
    SET state = 'completed', finished_at = ${NOW}, updated_at = ${NOW}, exit_code = $4,
        last_error = NULL, worker = NULL, lease_until = NULL,
        started_at = coalesce($9::bigint, started_at)
    WHERE id = $2 AND state = 'processing' AND worker = $3
      AND NOT ($8::boolean AND has_dependents)
    RETURNING seq, runs
  ), attempt AS (
    UPDATE attempts AS a
    SET finished_at = ${NOW}, outcome = 'completed', exit_code = $4, error = $5,
        stdout = $6::bytea, stderr = $7::bytea, started_at = coalesce($9::bigint, a.started_at)
    FROM done WHERE a.job_seq = done.seq AND a.attempt = done.runs
  )
  SELECT seq FROM done`;

/** Parameters of {@linkcode COMPLETE}. */
function completeParams(db: PgDb, id: string, worker: string, result: RunResult, alone: boolean) {
  return [
    db.now(),
    id,
    worker,
    result.exitCode,
    text(result.error),
    blob(result.stdout),
    blob(result.stderr),
    alone,
    result.startedAt ?? null,
  ];
}

/**
 * Marks a job completed if `worker` still holds it; returns whether it did.
 * A job nobody depends on takes one statement. Otherwise (see deps.ts) the
 * completion and the unblocking of its dependents share a transaction.
 */
export async function complete(
  db: PgDb,
  id: string,
  worker: string,
  result: RunResult,
): Promise<boolean> {
  const rows = await db.run(
    "safe",
    (sql) => query(sql, COMPLETE, completeParams(db, id, worker, result, true)),
  );
  if (rows.length > 0) return true;
  // Not held by `worker` any more, or others depend on it.
  return await completeWithDependents(db, id, worker, result);
}

/**
 * Marks a job completed if `worker` still holds it, and in the same
 * transaction unblocks its dependents whose dependencies have all completed
 * (see deps.ts); returns whether it did.
 */
export async function completeWithDependents(
  db: PgDb,
  id: string,
  worker: string,
  result: RunResult,
): Promise<boolean> {
  return await db.transaction(async (tx: Sql) => {
    const [done] = await query(tx, COMPLETE, completeParams(db, id, worker, result, false));
    if (!done) return false;
    await unblockDependents(db, tx, done.seq as number);
    return true;
  });
}

/** Records a failed run if `worker` still holds the job: retry later or dead. */
export async function fail(
  db: PgDb,
  id: string,
  worker: string,
  result: RunResult,
): Promise<FailOutcome | null> {
  const [rows, config] = await db.run("idempotent", (sql) =>
    Promise.all([
      query(
        sql,
        `SELECT seq, runs, attempts, max_retries FROM jobs
         WHERE id = $1 AND state = 'processing' AND worker = $2`,
        [id, worker],
      ),
      readConfig(sql),
    ]));
  const [outcome] = await failRows(db, rows, { worker }, "failed", result, config);
  return outcome ?? null;
}

/**
 * Records failed runs of processing jobs read as `rows` (seq, runs, attempts,
 * max_retries): each is retried after its backoff or buried. A row changes
 * only if it is still that run and still passes `guard`.
 */
export async function failRows(
  db: PgDb,
  rows: Row[],
  guard: { worker?: string; expired?: boolean },
  outcome: "failed" | "lost",
  result: RunEnd,
  config: Config,
): Promise<FailOutcome[]> {
  if (rows.length === 0) return [];
  const input = rows.map((row) => ({
    seq: row.seq as number,
    runs: row.runs as number,
    retry: canRetry(row.attempts as number, row.max_retries as number),
    backoff: Math.round(
      backoffSeconds(row.attempts as number, config.backoffBase, config.backoffMax) * 1000,
    ),
  }));
  const error = text(result.error ?? "failed")!;
  const settled = await db.run("safe", (sql) =>
    query(
      sql,
      `
    WITH input AS (
      SELECT * FROM json_to_recordset($2::text::json)
        AS input (seq bigint, runs integer, retry boolean, backoff bigint)
    ), failed AS (
      UPDATE jobs AS j
      SET state = CASE WHEN input.retry THEN 'failed' ELSE 'dead' END,
          run_at = CASE WHEN input.retry THEN ${NOW} + input.backoff ELSE j.run_at END,
          updated_at = ${NOW}, finished_at = ${NOW}, exit_code = $3, last_error = $4,
          worker = NULL, lease_until = NULL, started_at = coalesce($11::bigint, j.started_at)
      FROM input
      WHERE j.seq = input.seq AND j.runs = input.runs AND j.state = 'processing'
        AND ($5::text IS NULL OR j.worker = $5)
        AND (NOT $6::boolean OR j.lease_until < ${NOW})
      RETURNING j.seq, j.runs, j.id, j.state, j.run_at, j.attempts
    ), attempt AS (
      UPDATE attempts AS a
      SET finished_at = ${NOW}, outcome = $7, exit_code = $3, error = $8,
          stdout = $9::bytea, stderr = $10::bytea, started_at = coalesce($11::bigint, a.started_at)
      FROM failed WHERE a.job_seq = failed.seq AND a.attempt = failed.runs
    )
    SELECT * FROM failed`,
      [
        db.now(),
        JSON.stringify(input),
        result.exitCode,
        error,
        guard.worker ?? null,
        guard.expired ?? false,
        outcome,
        text(result.error),
        blob(result.stdout),
        blob(result.stderr),
        result.startedAt ?? null,
      ],
    ));
  const bySeq = new Map(settled.map((row) => [row.seq as number, row]));
  const outcomes: FailOutcome[] = [];
  for (const row of rows) {
    const done = bySeq.get(row.seq as number);
    if (!done) continue;
    const id = done.id as string;
    const attempts = done.attempts as number;
    outcomes.push(
      done.state === "failed"
        ? { id, state: "failed", runAt: done.run_at as number, attempts, error }
        : { id, state: "dead", attempts, error },
    );
  }
  return outcomes;
}
