/**
 * Settle: a run's end recorded on its job and attempt — completed, or failed
 * and then retried after its backoff or buried in the DLQ. A settle changes a
 * job only while the worker still holds it.
 * @module
 */

import type { Config } from "../../core/config.ts";
import { backoffSeconds, canRetry } from "../../core/retry.ts";
import type { Attempt, FailOutcome, RunResult } from "../../core/types.ts";
import { blob, type Row, type SqliteDb } from "./db.ts";
import { unblockDependents } from "./deps.ts";

/** What a settle records of a run: output is optional (a lost run has none). */
export type RunEnd = Pick<RunResult, "exitCode" | "error"> & Partial<RunResult>;

/**
 * Marks a job completed if `worker` still holds it, and in the same
 * transaction lets its dependents go on; returns whether it did.
 */
export async function complete(
  db: SqliteDb,
  id: string,
  worker: string,
  result: RunResult,
): Promise<boolean> {
  const now = db.now();
  return await db.tx(() => completeRow(db, id, worker, result, now));
}

/**
 * Records a completed run inside the caller's transaction, if `worker` still
 * holds the job, and lets the job's dependents go on in the same transaction.
 */
export function completeRow(
  db: SqliteDb,
  id: string,
  worker: string,
  result: RunResult,
  now: number,
): boolean {
  const row = db.sql(`
    UPDATE jobs
    SET state = 'completed', finished_at = ?, updated_at = ?, exit_code = ?,
        last_error = NULL, worker = NULL, lease_until = NULL,
        started_at = coalesce(?, started_at)
    WHERE id = ? AND state = 'processing' AND worker = ?
    RETURNING seq, runs, has_dependents`).get(
    now,
    now,
    result.exitCode,
    result.startedAt ?? null,
    id,
    worker,
  ) as Row | undefined;
  if (!row) return false;
  finishAttempt(db, row, now, "completed", result);
  if (row.has_dependents) unblockDependents(db, row.seq as number, now);
  return true;
}

/** Records a failed run if `worker` still holds the job: retry later or dead. */
export async function fail(
  db: SqliteDb,
  id: string,
  worker: string,
  result: RunResult,
): Promise<FailOutcome | null> {
  const now = db.now();
  return await db.tx(() => {
    const row = db.sql(`
      SELECT seq, id, attempts, runs, max_retries FROM jobs
      WHERE id = ? AND state = 'processing' AND worker = ?`).get(id, worker) as Row | undefined;
    if (!row) return null;
    return failRow(db, row, now, "failed", result, db.config());
  });
}

/** Closes the attempt of a job row's current run (row: seq, runs). */
export function finishAttempt(
  db: SqliteDb,
  row: Row,
  now: number,
  outcome: Attempt["outcome"],
  result: RunEnd,
): void {
  db.sql(`
    UPDATE attempts
    SET finished_at = ?, outcome = ?, exit_code = ?, error = ?, stdout = ?, stderr = ?,
        started_at = coalesce(?, started_at)
    WHERE job_seq = ? AND attempt = ?`).run(
    now,
    outcome,
    result.exitCode,
    result.error,
    blob(result.stdout ?? new Uint8Array()),
    blob(result.stderr ?? new Uint8Array()),
    result.startedAt ?? null,
    row.seq,
    row.runs,
  );
}

/**
 * Settles a failed run of a processing job row (seq, id, attempts, runs,
 * max_retries), inside the caller's transaction: schedule a retry or bury it.
 */
export function failRow(
  db: SqliteDb,
  row: Row,
  now: number,
  outcome: "failed" | "lost",
  result: RunEnd,
  config: Config,
): FailOutcome {
  const id = row.id as string;
  const attempts = row.attempts as number;
  const error = result.error ?? "failed";
  const started = result.startedAt ?? null;
  finishAttempt(db, row, now, outcome, result);
  if (canRetry(attempts, row.max_retries as number)) {
    const runAt = now +
      Math.round(backoffSeconds(attempts, config.backoffBase, config.backoffMax) * 1000);
    db.sql(`
      UPDATE jobs SET state = 'failed', run_at = ?, updated_at = ?, finished_at = ?,
                      exit_code = ?, last_error = ?, worker = NULL, lease_until = NULL,
                      started_at = coalesce(?, started_at)
      WHERE seq = ?`).run(runAt, now, now, result.exitCode, error, started, row.seq);
    return { id, state: "failed", runAt, attempts, error };
  }
  db.sql(`
    UPDATE jobs SET state = 'dead', updated_at = ?, finished_at = ?, exit_code = ?,
                    last_error = ?, worker = NULL, lease_until = NULL,
                    started_at = coalesce(?, started_at)
    WHERE seq = ?`).run(now, now, result.exitCode, error, started, row.seq);
  return { id, state: "dead", attempts, error };
}
