/**
 * The public JSON shape of jobs and attempts (snake_case, ISO-8601 UTC times),
 * used by `--json` output and the dashboard API alike.
 * @module
 */

import type {
  Attempt,
  AttemptLogs,
  Dependency,
  Job,
  QueueList,
  StateCounts,
  WorkerInfo,
} from "./types.ts";

/** ISO-8601 UTC text of a time, or `null`. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A job as SPEC §3 names its fields. */
export function jobToJson(job: Job): Record<string, unknown> {
  return {
    id: job.id,
    command: job.command,
    queue: job.queue,
    after: job.after,
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

/** The JSON shape of `queue list --json` (and the dashboard's `/api/queues`). */
export function queuesToJson(list: QueueList): Record<string, unknown> {
  return {
    queues: list.queues.map((queue) => ({
      name: queue.name,
      paused: queue.paused,
      concurrency: queue.concurrency,
      jobs: queue.counts,
    })),
    new_queues_paused: list.newQueuesPaused,
  };
}

/**
 * What a job waits for, as `show --json` and the dashboard give it: the
 * dependencies that have not completed, and the dead job it is stuck behind
 * (directly or through other blocked jobs), if any.
 */
export function waitingToJson(
  dependencies: Dependency[],
  deadDependency: string | null,
): Record<string, unknown> {
  return {
    waiting_for: dependencies.filter((d) => d.state !== "completed"),
    blocked_by_dead: deadDependency,
  };
}

/** What `status` reads from the store. */
export interface StatusSnapshot {
  counts: StateCounts;
  /** Live workers and supervisors. */
  workers: WorkerInfo[];
  /** Creation time of the oldest pending job, or `null`. */
  oldestPendingAt: number | null;
  /** The time the snapshot describes (ms since epoch). */
  now: number;
  /** Where the data is (path or URL without password). */
  database: string;
  /** Queues, for the paused ones (left out: none shown). */
  queues?: QueueList;
}

/** The JSON shape of `status --json` (and the base of the dashboard's `/api/status`). */
export function statusToJson(status: StatusSnapshot): Record<string, unknown> {
  const live = status.workers.filter((worker) => worker.kind === "worker");
  const age = status.oldestPendingAt === null
    ? null
    : Math.max(0, (status.now - status.oldestPendingAt) / 1000);
  return {
    jobs: status.counts,
    total: Object.values(status.counts).reduce((a, b) => a + b, 0),
    workers: live.length,
    supervisors: status.workers.length - live.length,
    busy_workers: live.filter((worker) => worker.currentJob).length,
    oldest_pending_seconds: age === null ? null : Math.round(age * 1000) / 1000,
    paused_queues: status.queues?.queues.filter((q) => q.paused).map((q) => q.name) ?? [],
    new_queues_paused: status.queues?.newQueuesPaused ?? false,
    database: status.database,
  };
}

/** The JSON shape of `logs --json`: output decoded as UTF-8 (invalid bytes replaced). */
export function logsToJson(id: string, logs: AttemptLogs): Record<string, unknown> {
  const decoder = new TextDecoder();
  return {
    id,
    attempt: logs.attempt,
    stdout: decoder.decode(logs.stdout),
    stderr: decoder.decode(logs.stderr),
  };
}
