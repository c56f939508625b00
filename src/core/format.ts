/**
 * The public JSON shape of jobs and attempts (snake_case, ISO-8601 UTC times),
 * used by `--json` output and the dashboard API alike.
 * @module
 */

import type { Attempt, Job, WorkerInfo } from "./types.ts";

/** ISO-8601 UTC text of a time, or `null`. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A job as SPEC §3 names its fields. */
export function jobToJson(job: Job): Record<string, unknown> {
  return {
    id: job.id,
    command: job.command,
    state: job.state,
    attempts: job.attempts,
    max_retries: job.maxRetries,
    priority: job.priority,
    run_at: iso(job.runAt),
    timeout: job.timeout,
    cwd: job.cwd,
    created_at: iso(job.createdAt),
    updated_at: iso(job.updatedAt),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    exit_code: job.exitCode,
    last_error: job.lastError,
    worker: job.worker,
  };
}

/** An attempt in JSON form. */
export function attemptToJson(attempt: Attempt): Record<string, unknown> {
  return {
    attempt: attempt.attempt,
    worker: attempt.worker,
    started_at: iso(attempt.startedAt),
    finished_at: iso(attempt.finishedAt),
    outcome: attempt.outcome,
    exit_code: attempt.exitCode,
    error: attempt.error,
    stdout_bytes: attempt.stdoutBytes,
    stderr_bytes: attempt.stderrBytes,
  };
}

/** A worker in JSON form. */
export function workerToJson(worker: WorkerInfo): Record<string, unknown> {
  return {
    id: worker.id,
    kind: worker.kind,
    host: worker.host,
    pid: worker.pid,
    supervisor: worker.supervisor,
    started_at: iso(worker.startedAt),
    last_heartbeat: iso(worker.heartbeatAt),
    current_job: worker.currentJob,
  };
}
