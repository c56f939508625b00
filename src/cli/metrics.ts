/**
 * `metrics`: throughput, success rate, run-time percentiles and queue age
 * over a recent window, computed by the Store from the attempts history.
 * @module
 */

import { InvalidArgumentError } from "@commander-js/extra-typings";
import { formatDuration, parseDuration } from "../core/duration.ts";
import { quote } from "../core/errors.ts";
import {
  denseMinutes,
  MAX_METRICS_WINDOW_SECONDS,
  type Metrics,
  metricsToJson,
} from "../core/metrics.ts";
import { JOB_STATES } from "../core/types.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { dim, out, paintState, printJson, timestamp } from "./output.ts";

/** Columns of the per-minute sparkline at most: an hour's 61 minutes get one each. */
const SPARK_WIDTH = 61;
const SPARKS = "▁▂▃▄▅▆▇█";

/** A metrics window: a duration from 1 s to 30 days, in seconds. */
export function windowSeconds(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === null || seconds < 1 || seconds > MAX_METRICS_WINDOW_SECONDS) {
    throw new InvalidArgumentError(
      `Expected a duration from 1s to 30d such as 15m, 1h or 7d, got ${quote(text)}.`,
    );
  }
  return seconds;
}

/** Completed runs per minute as a one-line chart, minutes summed to fit `width` columns. */
export function sparkline(metrics: Metrics, width = SPARK_WIDTH): { line: string; step: number } {
  const minutes = denseMinutes(metrics);
  const step = Math.max(1, Math.ceil(minutes.length / width));
  const columns: number[] = [];
  for (let i = 0; i < minutes.length; i += step) {
    columns.push(minutes.slice(i, i + step).reduce((sum, bucket) => sum + bucket.completed, 0));
  }
  const peak = Math.max(...columns, 0);
  const line = columns.map((value) =>
    value === 0
      ? " "
      : SPARKS[Math.min(SPARKS.length - 1, Math.floor((value / peak) * SPARKS.length))]
  ).join("");
  return { line, step };
}

function percent(value: number | null): string {
  return value === null ? "-" : `${(value * 100).toFixed(1)}%`;
}

function printMetrics(metrics: Metrics, windowText: string): void {
  const json = metricsToJson(metrics);
  const label = (name: string) => dim(name.padEnd(16));
  out(
    `${label("window")}last ${windowText} (${timestamp(metrics.since)} → ${
      timestamp(metrics.until)
    })`,
  );
  out(
    `${label("jobs")}${
      JOB_STATES.map((state) => `${paintState(state)} ${metrics.counts[state]}`).join(" · ")
    }`,
  );
  const oldest = json.oldest_pending_seconds as number | null;
  out(`${label("oldest pending")}${oldest === null ? "-" : formatDuration(oldest)}`);
  out(
    `${label("runs")}${metrics.completed + metrics.failed} finished: ` +
      `${metrics.completed} completed, ${metrics.failed} failed`,
  );
  out(
    `${label("throughput")}${json.completed_per_minute} completed/min · ` +
      `${json.failed_per_minute} failed/min`,
  );
  out(`${label("success rate")}${percent(json.success_rate as number | null)}`);
  const times = metrics.runTimes;
  out(
    `${label("run time")}${
      times === null
        ? "-"
        : `p50 ${formatDuration(times.p50 / 1000)} · p95 ${
          formatDuration(times.p95 / 1000)
        } · p99 ${formatDuration(times.p99 / 1000)} · max ${formatDuration(times.max / 1000)}` +
          dim(`  (${times.count} run${times.count === 1 ? "" : "s"}, nearest rank)`)
    }`,
  );
  out(`${label("retries")}${metrics.retries}`);
  out(`${label("dead")}${metrics.dead}`);
  const { line, step } = sparkline(metrics);
  out(
    `${label("completed")}${line.trim() === "" ? "-" : `▕${line}▏`}` +
      dim(step === 1 ? "  1 column = 1 min" : `  1 column = ${step} min`),
  );
}

/** Registers `metrics`. */
export function registerMetrics(program: Program): void {
  program.command("metrics")
    .description("throughput, success rate, run-time percentiles, queue age")
    .option(
      "--since <duration>",
      "window: runs that finished this long ago or later (default 1h)",
      windowSeconds,
      3600,
    )
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      `
Runs are counted by the time they finished. "failed" includes runs whose worker
was lost; run-time percentiles are nearest-rank over completed and failed runs.

Examples:
  queuectl metrics
  queuectl metrics --since 24h --json`,
    )
    .action(async (options, command) => {
      const seconds = options.since;
      await withStore(command.optsWithGlobals(), async (store) => {
        const metrics = await store.metrics({ windowMs: Math.round(seconds * 1000) });
        if (options.json) return printJson(metricsToJson(metrics));
        printMetrics(metrics, formatDuration(seconds));
      });
    });
}
