/**
 * Store contract: metrics and run totals over the attempts history.
 * @module
 */

import assert from "node:assert/strict";
import type { NewJob } from "../../src/core/types.ts";
import type { Store } from "../../src/store/store.ts";
import { type ContractTest, exit3, type FakeClock, job, LEASE, ok } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerMetrics(test: ContractTest): void {
  /** Enqueues `id`, runs it for `seconds` on the clock and settles it as `how`. */
  async function runJob(
    store: Store,
    clock: FakeClock,
    id: string,
    seconds: number,
    how: "complete" | "fail" | "cancel",
    extra: Partial<NewJob> = {},
  ) {
    await store.enqueue([job(id, clock, extra)]);
    assert.equal((await store.claim("w", LEASE))?.id, id);
    clock.advance(seconds);
    if (how === "complete") assert.equal(await store.complete(id, "w", ok), true);
    else if (how === "fail") assert.notEqual(await store.fail(id, "w", exit3), null);
    else assert.equal((await store.cancel(id)).previous, "processing");
  }

  test("metrics of an empty store", async (store, clock) => {
    const metrics = await store.metrics({ windowMs: 3_600_000 });
    assert.deepEqual(metrics, {
      since: clock.ms - 3_600_000,
      until: clock.ms,
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
  });

  test(
    "metrics count runs finished in the window, per minute, with nearest-rank run times",
    async (store, clock) => {
      const t0 = clock.ms; // a whole minute
      await runJob(store, clock, "before", 1, "complete"); // finishes before the window
      clock.ms = t0 + 10 * 60_000;
      const since = clock.ms;
      // 20 completed runs of 1..20 s back to back: they finish at +1, +3, +6 … +210 s,
      // so minute 0 gets 10 of them, minute 1 gets 4, minute 2 gets 4, minute 3 gets 2.
      for (let k = 1; k <= 20; k++) await runJob(store, clock, `ok-${k}`, k, "complete");
      // Minute 5: a 30 s run fails (retry in 2 s); minute 6: its 40 s retry fails, dead.
      clock.ms = since + 5 * 60_000;
      await runJob(store, clock, "flaky", 30, "fail", { maxRetries: 1 });
      clock.advance(2);
      assert.equal((await store.claim("w", LEASE))?.id, "flaky");
      clock.advance(40);
      assert.equal((await store.fail("flaky", "w", exit3))?.state, "dead");
      // Minute 7: a run whose worker vanished is lost (a failure without a run time), dead.
      clock.ms = since + 7 * 60_000;
      await store.enqueue([job("lost", clock, { maxRetries: 0 })]);
      await store.claim("gone", LEASE);
      clock.advance(31);
      assert.equal((await store.recover())[0]?.state, "dead");
      // Minute 8: a cancelled run counts neither way; minute 9: one running, one pending.
      clock.ms = since + 8 * 60_000;
      await runJob(store, clock, "stopped", 5, "cancel");
      clock.ms = since + 9 * 60_000;
      await store.enqueue([job("running", clock)]);
      await store.claim("w", LEASE);
      clock.advance(10);
      await store.enqueue([job("waiting", clock)]);
      clock.ms = since + 10 * 60_000;

      const metrics = await store.metrics({ windowMs: 10 * 60_000 });
      assert.equal(metrics.since, since);
      assert.equal(metrics.until, clock.ms);
      assert.deepEqual(metrics.counts, {
        blocked: 0,
        pending: 1,
        processing: 1,
        completed: 21,
        failed: 0,
        dead: 2,
        cancelled: 1,
      });
      assert.equal(metrics.oldestPendingAt, since + 9 * 60_000 + 10_000);
      assert.equal(metrics.completed, 20);
      assert.equal(metrics.failed, 3, "two failed runs and one lost run");
      assert.equal(metrics.retries, 1, "flaky's second run");
      assert.equal(metrics.dead, 2);
      const minute = (n: number) => since + n * 60_000;
      assert.deepEqual(metrics.perMinute, [
        { minute: minute(0), completed: 10, failed: 0 },
        { minute: minute(1), completed: 4, failed: 0 },
        { minute: minute(2), completed: 4, failed: 0 },
        { minute: minute(3), completed: 2, failed: 0 },
        { minute: minute(5), completed: 0, failed: 1 },
        { minute: minute(6), completed: 0, failed: 1 },
        { minute: minute(7), completed: 0, failed: 1 },
      ]);
      // Run times of completed and failed runs, sorted: 1 … 20 s, 30 s, 40 s (n = 22).
      // Nearest rank ceil(p * n / 100): p50 → 11th, p95 → 21st, p99 → 22nd.
      assert.deepEqual(metrics.runTimes, {
        count: 22,
        p50: 11_000,
        p95: 30_000,
        p99: 40_000,
        mean: 280_000 / 22,
        max: 40_000,
      });

      const later = await store.metrics({ windowMs: 4 * 60_000 + 29_999 });
      assert.equal(later.since, since + 5 * 60_000 + 30_001);
      assert.equal(later.completed, 0);
      assert.equal(later.failed, 2, "the window starts after flaky's first failure");
      assert.deepEqual(later.runTimes, {
        count: 1,
        p50: 40_000,
        p95: 40_000,
        p99: 40_000,
        mean: 40_000,
        max: 40_000,
      });
    },
  );

  test("a dead job that was retried no longer counts as dead in metrics", async (store, clock) => {
    await runJob(store, clock, "d", 1, "fail", { maxRetries: 0 });
    assert.equal((await store.metrics({ windowMs: 60_000 })).dead, 1);
    await store.retryDead(["d"]);
    const metrics = await store.metrics({ windowMs: 60_000 });
    assert.equal(metrics.dead, 0);
    assert.equal(metrics.failed, 1, "the failed run stays in the history");
  });

  test("runTotals adds up runs finished in [from, to) by outcome, with a histogram", async (
    store,
    clock,
  ) => {
    const from = clock.ms;
    await runJob(store, clock, "fast", 1, "complete");
    await runJob(store, clock, "slow", 3, "complete");
    await runJob(store, clock, "bad", 10, "fail", { maxRetries: 0 });
    await runJob(store, clock, "stopped", 2, "cancel");
    await store.enqueue([job("lost", clock, { maxRetries: 0 })]);
    await store.claim("gone", LEASE);
    clock.advance(31);
    await store.recover();
    const to = clock.ms;
    await runJob(store, clock, "after", 1, "complete");
    const bucketsMs = [1000, 5000];
    assert.deepEqual(await store.runTotals({ from, to: to + 1, bucketsMs }), {
      byOutcome: { completed: 2, failed: 1, lost: 1, cancelled: 1 },
      bucketsMs,
      bucketCounts: [1, 2],
      count: 3,
      sumMs: 14_000,
    });
    const last = await store.runTotals({ from: to, to: clock.ms, bucketsMs });
    assert.deepEqual(
      last.byOutcome,
      { completed: 0, failed: 0, lost: 1, cancelled: 0 },
      "to excluded",
    );
    assert.equal(last.count, 0);
    assert.deepEqual(last.bucketCounts, [0, 0]);
    const all = await store.runTotals({ from: 0, to: clock.ms + 1, bucketsMs: [] });
    assert.equal(all.byOutcome.completed, 3);
    assert.equal(all.count, 4);
  });
}
