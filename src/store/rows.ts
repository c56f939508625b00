/**
 * Turning result rows into the Store's types: shared by every backend, so
 * only the SQL differs between them.
 * @module
 */

import { invalid, type QueueError, quote } from "../core/errors.ts";
import { tailFrom } from "../core/tail.ts";
import { type Metrics, nearestRank, PERCENTILES, type RunTotals } from "../core/metrics.ts";
import type { Schedule } from "../core/schedule.ts";
import {
  type AttemptOutcome,
  type Job,
  JOB_STATES,
  type JobState,
  type OutputChunk,
  type OutputOffsets,
  type StateCounts,
  type WorkerInfo,
} from "../core/types.ts";

/** A result row, columns by name (times as ms numbers). */
export type DbRow = Record<string, unknown>;

/** Zero jobs in every state. */
export function emptyCounts(): StateCounts {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as StateCounts;
}

/** A `jobs` row as a {@linkcode Job}. */
export function toJob(row: DbRow): Job {
  return {
    id: row.id as string,
    command: row.command as string,
    queue: row.queue as string,
    after: row.after_ids ? JSON.parse(row.after_ids as string) : [],
    state: row.state as JobState,
    priority: row.priority as number,
    maxRetries: row.max_retries as number,
    timeout: row.timeout as number | null,
    cwd: row.cwd as string,
    attempts: row.attempts as number,
    runAt: row.run_at as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    startedAt: row.started_at as number | null,
    finishedAt: row.finished_at as number | null,
    exitCode: row.exit_code as number | null,
    lastError: row.last_error as string | null,
    worker: row.worker as string | null,
    leaseUntil: row.lease_until as number | null,
  };
}

/** A `workers` row as a {@linkcode WorkerInfo}. */
export function toWorker(row: DbRow): WorkerInfo {
  return {
    id: row.id as string,
    kind: row.kind as WorkerInfo["kind"],
    host: row.host as string,
    pid: row.pid as number,
    supervisor: row.supervisor as string | null,
    startedAt: row.started_at as number,
    heartbeatAt: row.heartbeat_at as number,
    currentJob: row.current_job as string | null,
    processStartedAt: (row.process_started_at as number | null) ?? null,
  };
}

function sum(rows: DbRow[], key: string): number {
  return rows.reduce((total, row) => total + (row[key] as number), 0);
}

/**
 * The ranks of the window's sorted run times to fetch for the percentiles
 * (nearest rank), given the per-minute rows; none when nothing was timed.
 * Per-minute rows have columns minute, completed, failed, retries, timed,
 * run_ms and longest.
 */
export function runTimeRanks(minutes: DbRow[]): number[] {
  const timed = sum(minutes, "timed");
  return timed === 0 ? [] : PERCENTILES.map((p) => nearestRank(p, timed));
}

/** What a backend measured for {@linkcode buildMetrics}. */
export interface MetricsRows {
  since: number;
  until: number;
  counts: StateCounts;
  oldestPendingAt: number | null;
  minutes: DbRow[];
  /** The ranks asked for (see {@linkcode runTimeRanks}) and rows `{rn, d}` of those ranks. */
  ranks: number[];
  ranked: DbRow[];
  /** Jobs that died in the window. */
  dead: number;
}

/** Assembles {@linkcode Metrics} from the rows a backend read. */
export function buildMetrics(rows: MetricsRows): Metrics {
  const { minutes, ranks } = rows;
  const timed = sum(minutes, "timed");
  const at = new Map(rows.ranked.map((row) => [row.rn as number, row.d as number]));
  return {
    since: rows.since,
    until: rows.until,
    counts: rows.counts,
    oldestPendingAt: rows.oldestPendingAt,
    completed: sum(minutes, "completed"),
    failed: sum(minutes, "failed"),
    retries: sum(minutes, "retries"),
    dead: rows.dead,
    perMinute: minutes
      .filter((row) => (row.completed as number) + (row.failed as number) > 0)
      .map((row) => ({
        minute: Math.floor(row.minute as number) * 60_000,
        completed: row.completed as number,
        failed: row.failed as number,
      })),
    runTimes: timed === 0 ? null : {
      count: timed,
      p50: at.get(ranks[0])!,
      p95: at.get(ranks[1])!,
      p99: at.get(ranks[2])!,
      mean: sum(minutes, "run_ms") / timed,
      max: Math.max(...minutes.map((row) => (row.longest as number | null) ?? 0)),
    },
  };
}

/** Assembles {@linkcode RunTotals} from rows `{outcome, n, run_ms, b0, b1, …}`. */
export function buildRunTotals(rows: DbRow[], bucketsMs: readonly number[]): RunTotals {
  const totals: RunTotals = {
    byOutcome: { completed: 0, failed: 0, lost: 0, cancelled: 0 },
    bucketsMs: [...bucketsMs],
    bucketCounts: bucketsMs.map(() => 0),
    count: 0,
    sumMs: 0,
  };
  for (const row of rows) {
    const outcome = row.outcome as keyof RunTotals["byOutcome"];
    if (outcome in totals.byOutcome) totals.byOutcome[outcome] = row.n as number;
    if (outcome !== "completed" && outcome !== "failed") continue;
    totals.count += row.n as number;
    totals.sumMs += row.run_ms as number;
    bucketsMs.forEach((_, i) => totals.bucketCounts[i] += row[`b${i}`] as number);
  }
  return totals;
}

/** The error for an `after` id that names no stored job (nor an earlier one of the batch). */
export function missingDependency(job: string, dependency: string): QueueError {
  return invalid(
    `Job ${quote(job)} runs after ${
      quote(dependency)
    }, but no job has that id; nothing was enqueued`,
  );
}

/**
 * Bytes a reader of a running attempt needs are fetched as a suffix of the
 * stored tail only when they start at least this far into it: a cut marker
 * (under 100 bytes) at its start is then never part of them.
 */
export const SUFFIX_MIN_START = 200;

/**
 * An {@linkcode OutputChunk} from an attempt row with columns attempt,
 * outcome, stdout, stderr, stdout_total, stderr_total and, per stream,
 * `<stream>_part`: whether the stream column holds only the bytes after the
 * offset (a running attempt, as of its last flush) rather than the whole
 * stored tail.
 */
export function toOutputChunk(row: DbRow, from: OutputOffsets): OutputChunk {
  const stream = (name: "stdout" | "stderr") => {
    const stored = row[name] ? new Uint8Array(row[name] as Uint8Array) : new Uint8Array();
    if (row[`${name}_part`]) return { bytes: stored, total: row[`${name}_total`] as number };
    return tailFrom(stored, from[name]);
  };
  const stdout = stream("stdout");
  const stderr = stream("stderr");
  return {
    attempt: row.attempt as number,
    outcome: row.outcome as AttemptOutcome,
    stdout: stdout.bytes,
    stderr: stderr.bytes,
    stdoutTotal: stdout.total,
    stderrTotal: stderr.total,
  };
}

/** A `schedules` row as a {@linkcode Schedule}. */
export function toSchedule(row: DbRow): Schedule {
  return {
    name: row.name as string,
    cron: row.cron as string,
    tz: row.tz as string | null,
    command: row.command as string,
    queue: row.queue as string,
    maxRetries: row.max_retries as number,
    priority: row.priority as number,
    timeout: row.timeout as number | null,
    cwd: row.cwd as string,
    createdAt: row.created_at as number,
    lastTick: row.last_tick as number | null,
  };
}
