/**
 * `GET /metrics` in the Prometheus text format: jobs by queue and state,
 * paused queues, live workers and the oldest pending job's age as gauges;
 * finished runs by outcome as a counter; run time as a histogram.
 *
 * The counter and the histogram add up the Store's windowed
 * {@linkcode Store.runTotals}: the first scrape reads the whole history once,
 * each later one only the runs that finished since the one before. A window
 * closes {@linkcode SETTLE_LAG_MS} before now, so a run whose finish time was
 * taken just before its transaction committed is still counted.
 * @module
 */

import type { RunTotals } from "../core/metrics.ts";
import { JOB_STATES } from "../core/types.ts";
import type { Store } from "../store/store.ts";

/** How far behind now the run counters stay (ms). */
export const SETTLE_LAG_MS = 5_000;

/** Upper bounds of the run-time histogram, in seconds. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
];

/** Content type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** All-time run counters kept by adding up successive Store windows. */
export class RunCounters {
  #store: Store;
  #lagMs: number;
  #clock: () => number;
  #bucketsMs = DURATION_BUCKETS_SECONDS.map((seconds) => Math.round(seconds * 1000));
  #totals: RunTotals = {
    byOutcome: { completed: 0, failed: 0, lost: 0, cancelled: 0 },
    bucketsMs: this.#bucketsMs,
    bucketCounts: this.#bucketsMs.map(() => 0),
    count: 0,
    sumMs: 0,
  };
  #until = 0;
  #queue: Promise<unknown> = Promise.resolve();

  /** Counters over `store`; `lagMs` defaults to {@linkcode SETTLE_LAG_MS}. */
  constructor(store: Store, options: { lagMs?: number; clock?: () => number } = {}) {
    this.#store = store;
    this.#lagMs = options.lagMs ?? SETTLE_LAG_MS;
    this.#clock = options.clock ?? Date.now;
  }

  /** The totals up to `now - lag`, reading only what finished since the last call. */
  read(): Promise<RunTotals> {
    const next = this.#queue.then(() => this.#advance());
    this.#queue = next.catch(() => {});
    return next;
  }

  async #advance(): Promise<RunTotals> {
    const to = this.#clock() - this.#lagMs;
    if (to > this.#until) {
      const delta = await this.#store.runTotals({
        from: this.#until,
        to,
        bucketsMs: this.#bucketsMs,
      });
      const totals = this.#totals;
      for (const outcome of Object.keys(totals.byOutcome) as (keyof RunTotals["byOutcome"])[]) {
        totals.byOutcome[outcome] += delta.byOutcome[outcome];
      }
      delta.bucketCounts.forEach((n, i) => totals.bucketCounts[i] += n);
      totals.count += delta.count;
      totals.sumMs += delta.sumMs;
      this.#until = to;
    }
    return structuredClone(this.#totals);
  }
}

/** A label value: queue names need no escaping, but a label must never break the format. */
function label(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function number(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 1e6) / 1e6) : "NaN";
}

/** The `/metrics` text for the store's current state and the counters so far. */
export async function renderPrometheus(store: Store, counters: RunCounters): Promise<string> {
  const [queues, workers, oldest, runs] = await Promise.all([
    store.listQueues(),
    store.listWorkers(),
    store.oldestPending(),
    counters.read(),
  ]);
  const live = workers.filter((worker) => worker.kind === "worker");
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${number(value)}`);
  };
  metric(
    "queuectl_jobs",
    "gauge",
    "Jobs in each queue and state.",
    queues.queues.flatMap((queue) =>
      JOB_STATES.map((state) =>
        [
          `{queue="${label(queue.name)}",state="${state}"}`,
          queue.counts[state],
        ] as [string, number]
      )
    ),
  );
  metric(
    "queuectl_queue_paused",
    "gauge",
    "1 for a paused queue (nothing new is claimed from it), else 0.",
    queues.queues.map((queue) => [`{queue="${label(queue.name)}"}`, queue.paused ? 1 : 0]),
  );
  metric(
    "queuectl_runs_total",
    "counter",
    "Finished runs by outcome (lost: the worker vanished mid-run).",
    Object.entries(runs.byOutcome).map(([outcome, n]) => [`{outcome="${outcome}"}`, n]),
  );
  const name = "queuectl_run_duration_seconds";
  lines.push(
    `# HELP ${name} Run time of completed and failed runs.`,
    `# TYPE ${name} histogram`,
  );
  DURATION_BUCKETS_SECONDS.forEach((le, i) =>
    lines.push(`${name}_bucket{le="${le}"} ${runs.bucketCounts[i]}`)
  );
  lines.push(
    `${name}_bucket{le="+Inf"} ${runs.count}`,
    `${name}_sum ${number(runs.sumMs / 1000)}`,
    `${name}_count ${runs.count}`,
  );
  metric(
    "queuectl_oldest_pending_age_seconds",
    "gauge",
    "Age of the oldest pending job (0 when none is pending).",
    [["", oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000)]],
  );
  metric("queuectl_workers", "gauge", "Live worker processes.", [["", live.length]]);
  metric("queuectl_workers_busy", "gauge", "Live worker processes running a job.", [[
    "",
    live.filter((worker) => worker.currentJob !== null).length,
  ]]);
  return lines.join("\n") + "\n";
}
