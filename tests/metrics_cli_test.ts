import assert from "node:assert/strict";
import type { NewJob, RunResult } from "../src/core/types.ts";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import type { Store } from "../src/store/store.ts";
import { cli, tempHome } from "./helpers.ts";
import { FakeClock } from "./store_contract/mod.ts";

const LEASE = 30_000;

function result(exitCode: number): RunResult {
  return {
    exitCode,
    error: exitCode === 0 ? null : `exit code ${exitCode}`,
    stdout: new TextEncoder().encode("out\n"),
    stderr: new Uint8Array(),
  };
}

function job(id: string, clock: FakeClock, maxRetries = 0): NewJob {
  return { id, command: "true", maxRetries, priority: 0, runAt: clock.ms, timeout: null, cwd: "/" };
}

/** Claims the only runnable job, lets `seconds` pass on the clock and settles it. */
async function run(store: Store, clock: FakeClock, id: string, seconds: number, exitCode: number) {
  assert.equal((await store.claim("w", LEASE))?.id, id);
  clock.advance(seconds);
  if (exitCode === 0) assert.ok(await store.complete(id, "w", result(0)));
  else assert.ok(await store.fail(id, "w", result(exitCode)));
}

/**
 * A known history within the last 40 minutes of real time: runs of 1…8 s that
 * complete, a flaky job that fails once (10 s) then completes (12 s), a job
 * that fails (20 s) with no retries left, and one pending job.
 */
async function knownHistory(db: string): Promise<{ pendingSince: number }> {
  const clock = new FakeClock(Math.floor(Date.now() / 60_000) * 60_000 - 40 * 60_000);
  const store = openSqliteStore(db, { clock: clock.now });
  try {
    for (let k = 1; k <= 8; k++) {
      await store.enqueue([job(`ok-${k}`, clock)]);
      await run(store, clock, `ok-${k}`, k, 0);
    }
    await store.enqueue([job("flaky", clock, 1)]);
    await run(store, clock, "flaky", 10, 1);
    clock.advance(2); // the backoff after one failure
    await run(store, clock, "flaky", 12, 0);
    await store.enqueue([job("doomed", clock)]);
    await run(store, clock, "doomed", 20, 7);
    clock.advance(60);
    await store.enqueue([job("waiting", clock)]);
    return { pendingSince: clock.ms };
  } finally {
    await store.close();
  }
}

Deno.test("metrics --json: figures match the ones worked out by hand", async () => {
  const { home, db, cleanup } = await tempHome();
  try {
    const { pendingSince } = await knownHistory(db);
    const started = Date.now();
    const { code, stdout, stderr } = await cli(home, ["metrics", "--json", "--since", "1h"]);
    assert.equal(code, 0, stderr);
    const json = JSON.parse(stdout);
    assert.equal(json.window_seconds, 3600);
    assert.equal(Date.parse(json.until) - Date.parse(json.since), 3_600_000);
    assert.deepEqual(json.jobs, {
      blocked: 0,
      pending: 1,
      processing: 0,
      completed: 9,
      failed: 0,
      dead: 1,
      cancelled: 0,
    });
    // 9 completed runs and 2 failed ones in 60 minutes.
    assert.equal(json.completed, 9);
    assert.equal(json.failed, 2);
    assert.equal(json.completed_per_minute, 0.15);
    assert.equal(json.failed_per_minute, 0.0333);
    assert.equal(json.success_rate, 0.8182);
    assert.equal(json.retries, 1, "flaky's second run");
    assert.equal(json.dead, 1);
    // Run times sorted: 1 2 3 4 5 6 7 8 10 12 20 (n = 11). Nearest rank ceil(p·n/100):
    // p50 → 6th = 6 s, p95 → 11th = 20 s, p99 → 11th = 20 s; mean 78/11 s.
    assert.deepEqual(json.run_seconds, {
      count: 11,
      p50: 6,
      p95: 20,
      p99: 20,
      mean: 7.091,
      max: 20,
    });
    const age = json.oldest_pending_seconds;
    assert.ok(age >= (started - pendingSince) / 1000 && age < (Date.now() - pendingSince) / 1000);
    const busy = json.per_minute.filter((m: { completed: number; failed: number }) =>
      m.completed + m.failed > 0
    );
    assert.equal(json.per_minute.length, 61, "every minute of the hour, zeros included");
    assert.equal(
      busy.reduce((sum: number, m: { completed: number }) => sum + m.completed, 0),
      9,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("metrics: readable summary, and bad --since is exit 2 with one line", async () => {
  const { home, db, cleanup } = await tempHome();
  try {
    await knownHistory(db);
    const { code, stdout } = await cli(home, ["metrics"]);
    assert.equal(code, 0);
    assert.match(stdout, /^runs +11 finished: 9 completed, 2 failed$/m);
    assert.match(stdout, /^success rate +81\.8%$/m);
    assert.match(
      stdout,
      /^run time +p50 6s · p95 20s · p99 20s · max 20s +\(11 runs, nearest rank\)$/m,
    );
    assert.match(stdout, /^dead +1$/m);
    for (const bad of ["abc", "0", "31d", "-5m"]) {
      const result = await cli(home, ["metrics", "--since", bad]);
      assert.equal(result.code, 2, bad);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(result.stderr, /--since/);
    }
  } finally {
    await cleanup();
  }
});
