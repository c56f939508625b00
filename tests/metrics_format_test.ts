import assert from "node:assert/strict";
import { type Metrics, metricsToJson, nearestRank } from "../src/core/metrics.ts";

Deno.test("nearestRank is ceil(p * n / 100), at least 1, at most n", () => {
  assert.equal(nearestRank(50, 0), 0);
  assert.equal(nearestRank(50, 1), 1);
  assert.equal(nearestRank(99, 1), 1);
  assert.equal(nearestRank(50, 4), 2);
  assert.equal(nearestRank(50, 5), 3);
  assert.equal(nearestRank(95, 20), 19);
  assert.equal(nearestRank(95, 21), 20);
  assert.equal(nearestRank(99, 100), 99);
  assert.equal(nearestRank(99, 101), 100);
  assert.equal(nearestRank(100, 7), 7);
});

Deno.test("metricsToJson: seconds, rates over the window, dense per-minute series", () => {
  const since = Date.UTC(2026, 0, 1, 12, 0, 30);
  const metrics: Metrics = {
    since,
    until: since + 3 * 60_000,
    counts: {
      blocked: 0,
      pending: 2,
      processing: 1,
      completed: 9,
      failed: 0,
      dead: 1,
      cancelled: 0,
    },
    oldestPendingAt: since + 60_000,
    completed: 9,
    failed: 3,
    retries: 2,
    dead: 1,
    perMinute: [
      { minute: Date.UTC(2026, 0, 1, 12, 0), completed: 4, failed: 1 },
      { minute: Date.UTC(2026, 0, 1, 12, 2), completed: 5, failed: 2 },
    ],
    runTimes: { count: 11, p50: 1500, p95: 2750, p99: 3001, mean: 1234.5678, max: 3001 },
  };
  assert.deepEqual(metricsToJson(metrics), {
    since: "2026-01-01T12:00:30.000Z",
    until: "2026-01-01T12:03:30.000Z",
    window_seconds: 180,
    jobs: metrics.counts,
    oldest_pending_seconds: 120,
    completed: 9,
    failed: 3,
    completed_per_minute: 3,
    failed_per_minute: 1,
    success_rate: 0.75,
    retries: 2,
    dead: 1,
    run_seconds: { count: 11, p50: 1.5, p95: 2.75, p99: 3.001, mean: 1.235, max: 3.001 },
    per_minute: [
      { minute: "2026-01-01T12:00:00.000Z", completed: 4, failed: 1 },
      { minute: "2026-01-01T12:01:00.000Z", completed: 0, failed: 0 },
      { minute: "2026-01-01T12:02:00.000Z", completed: 5, failed: 2 },
      { minute: "2026-01-01T12:03:00.000Z", completed: 0, failed: 0 },
    ],
  });
});

Deno.test("metricsToJson: no runs means no rate and no run times", () => {
  const json = metricsToJson({
    since: 0,
    until: 60_000,
    counts: {
      blocked: 0,
      pending: 0,
      processing: 0,
      completed: 0,
      failed: 0,
      dead: 0,
      cancelled: 0,
    },
    oldestPendingAt: null,
    completed: 0,
    failed: 0,
    retries: 0,
    dead: 0,
    perMinute: [],
    runTimes: null,
  });
  assert.equal(json.success_rate, null);
  assert.equal(json.oldest_pending_seconds, null);
  assert.deepEqual(json.run_seconds, {
    count: 0,
    p50: null,
    p95: null,
    p99: null,
    mean: null,
    max: null,
  });
  assert.equal((json.per_minute as unknown[]).length, 2);
});
