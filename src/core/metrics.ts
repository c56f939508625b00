/**
 * Queue metrics: what a Store reports about runs in a time window (for
 * `queuectl metrics` and the dashboard) and in all time (for Prometheus),
 * the nearest-rank percentile definition both backends share, and the JSON
 * shape of `metrics --json` and `GET /api/metrics`.
 * @module
 */

import { iso } from "./format.ts";
import type { StateCounts } from "./types.ts";

/** Longest window `metrics` accepts (30 days, in seconds): the per-minute series stays small. */
export const MAX_METRICS_WINDOW_SECONDS = 30 * 86_400;

/** The percentiles of run time that metrics report. */
export const PERCENTILES = [50, 95, 99] as const;

/** Runs that finished in one wall-clock minute. */
export interface MinuteBucket {
  /** Start of the minute (ms since epoch, a multiple of 60,000). */
  minute: number;
  /** Runs that completed. */
  completed: number;
  /** Failed runs, lost runs (expired lease, dead worker) included. */
  failed: number;
}

/**
 * Run times (`finished_at - started_at`, ms) of the completed and failed runs
 * in a window. Lost and cancelled runs are left out: their end was not the
 * command's end. Percentiles are nearest-rank (see {@linkcode nearestRank}).
 */
export interface RunTimes {
  /** How many runs were timed. */
  count: number;
  /** Median run time (ms, nearest rank). */
  p50: number;
  /** 95th percentile (ms, nearest rank). */
  p95: number;
  /** 99th percentile (ms, nearest rank). */
  p99: number;
  /** Arithmetic mean (ms). */
  mean: number;
  /** Longest run (ms). */
  max: number;
}

/** What a Store reports for `metrics --since`: runs are counted by their finish time. */
export interface Metrics {
  /** Start of the window (ms since epoch, inclusive). */
  since: number;
  /** End of the window: the store's clock when it answered (inclusive). */
  until: number;
  /** Jobs in each state now. */
  counts: StateCounts;
  /** Creation time of the oldest pending job, or `null`. */
  oldestPendingAt: number | null;
  /** Runs that completed in the window. */
  completed: number;
  /** Runs that failed in the window, lost runs included. */
  failed: number;
  /** Runs in the window that were not a job's first run (attempt number above 1). */
  retries: number;
  /** Jobs that ran out of retries in the window and are still dead. */
  dead: number;
  /**
   * Minutes of the window in which a run completed or failed, oldest first;
   * other minutes are absent.
   */
  perMinute: MinuteBucket[];
  /** Run times in the window, or `null` when no run completed or failed in it. */
  runTimes: RunTimes | null;
}

/** Runs that finished in a time range: Prometheus counters and the run-time histogram. */
export interface RunTotals {
  /** Finished runs by outcome: `completed`, `failed`, `lost`, `cancelled` (each present, maybe 0). */
  byOutcome: Record<"completed" | "failed" | "lost" | "cancelled", number>;
  /** Upper bounds (ms) the histogram was asked for, ascending. */
  bucketsMs: number[];
  /**
   * Cumulative counts: `bucketCounts[i]` completed or failed runs took at
   * most `bucketsMs[i]` ms (Prometheus `le` buckets; `+Inf` is `count`).
   */
  bucketCounts: number[];
  /** Completed and failed runs (the histogram's `_count`). */
  count: number;
  /** Their total run time in ms (the histogram's `_sum`). */
  sumMs: number;
}

/**
 * The 1-based rank of the `p`-th percentile among `n` sorted values by the
 * nearest-rank method: the smallest rank `r` with `r / n >= p / 100`, that
 * is `ceil(p * n / 100)`, at least 1. The percentile is the value at that
 * rank, always one of the values (no interpolation). `0` when `n` is 0.
 */
export function nearestRank(p: number, n: number): number {
  if (n <= 0) return 0;
  return Math.min(n, Math.max(1, Math.ceil((p * n) / 100)));
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

function ratio(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/**
 * The JSON shape of `metrics --json` and `GET /api/metrics`: times ISO-8601,
 * durations in seconds, rates per minute over the whole window, and a dense
 * per-minute series (every minute of the window, zeros included).
 */
export function metricsToJson(metrics: Metrics): Record<string, unknown> {
  const windowMs = Math.max(metrics.until - metrics.since, 0);
  const minutes = Math.max(windowMs / 60_000, 1 / 60);
  const finished = metrics.completed + metrics.failed;
  const runTimes = metrics.runTimes;
  return {
    since: iso(metrics.since),
    until: iso(metrics.until),
    window_seconds: seconds(windowMs),
    jobs: metrics.counts,
    oldest_pending_seconds: metrics.oldestPendingAt === null
      ? null
      : seconds(Math.max(0, metrics.until - metrics.oldestPendingAt)),
    completed: metrics.completed,
    failed: metrics.failed,
    completed_per_minute: ratio(metrics.completed / minutes),
    failed_per_minute: ratio(metrics.failed / minutes),
    success_rate: finished === 0 ? null : ratio(metrics.completed / finished),
    retries: metrics.retries,
    dead: metrics.dead,
    run_seconds: {
      count: runTimes?.count ?? 0,
      p50: runTimes ? seconds(runTimes.p50) : null,
      p95: runTimes ? seconds(runTimes.p95) : null,
      p99: runTimes ? seconds(runTimes.p99) : null,
      mean: runTimes ? seconds(runTimes.mean) : null,
      max: runTimes ? seconds(runTimes.max) : null,
    },
    per_minute: denseMinutes(metrics).map((bucket) => ({
      minute: iso(bucket.minute),
      completed: bucket.completed,
      failed: bucket.failed,
    })),
  };
}

/** Every minute from the one holding `since` to the one holding `until`, zeros filled in. */
export function denseMinutes(
  metrics: Pick<Metrics, "since" | "until" | "perMinute">,
): MinuteBucket[] {
  const first = Math.floor(metrics.since / 60_000) * 60_000;
  const last = Math.floor(metrics.until / 60_000) * 60_000;
  const byMinute = new Map(metrics.perMinute.map((bucket) => [bucket.minute, bucket]));
  const series: MinuteBucket[] = [];
  for (let minute = first; minute <= last; minute += 60_000) {
    series.push(byMinute.get(minute) ?? { minute, completed: 0, failed: 0 });
  }
  return series;
}
