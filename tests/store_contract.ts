/**
 * The Store conformance suite: one set of cases every backend must pass
 * (River's driver test suite is the model). A backend's test file calls
 * {@linkcode storeContract} with a factory for fresh, empty stores.
 * @module
 */

import assert from "node:assert/strict";
import type { NewJob, RunResult } from "../src/core/types.ts";
import { QueueError } from "../src/core/errors.ts";
import type { Store } from "../src/store/store.ts";

/** A clock tests move by hand. */
export class FakeClock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/** Makes a fresh empty store on the given clock; `close` also cleans up. */
export type StoreFactory = (clock: FakeClock) => Promise<Store>;

const LEASE = 30_000;
const ok: RunResult = {
  exitCode: 0,
  error: null,
  stdout: new TextEncoder().encode("hi\n"),
  stderr: new Uint8Array(),
};
const exit3: RunResult = {
  exitCode: 3,
  error: "exit code 3",
  stdout: new Uint8Array(),
  stderr: new Uint8Array(),
};

function job(id: string, clock: FakeClock, extra: Partial<NewJob> = {}): NewJob {
  return {
    id,
    command: `echo ${id}`,
    maxRetries: 2,
    priority: 0,
    runAt: clock.ms,
    timeout: null,
    cwd: "/",
    ...extra,
  };
}

async function rejectsWith(promise: Promise<unknown>, kind: QueueError["kind"], pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof QueueError, `expected QueueError, got ${error}`);
    assert.equal(error.kind, kind);
    assert.match(error.message, pattern);
    return true;
  });
}

/** Registers the conformance cases for one backend. */
export function storeContract(
  backend: string,
  make: StoreFactory,
  options: { ignore?: boolean } = {},
) {
  function test(name: string, fn: (store: Store, clock: FakeClock) => Promise<void>) {
    Deno.test({
      name: `store contract [${backend}]: ${name}`,
      ignore: options.ignore,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const clock = new FakeClock();
        const store = await make(clock);
        try {
          await fn(store, clock);
        } finally {
          await store.close();
        }
      },
    });
  }

  test("enqueue, claim and complete round trip", async (store, clock) => {
    await store.enqueue([job("a", clock)]);
    assert.equal((await store.getJob("a"))?.state, "pending");
    const claimed = await store.claim("w1", LEASE);
    assert.equal(claimed?.id, "a");
    assert.equal(claimed?.state, "processing");
    assert.equal(claimed?.attempts, 1);
    assert.equal(claimed?.worker, "w1");
    assert.equal(await store.claim("w2", LEASE), null, "a processing job is not claimed twice");
    clock.advance(2);
    assert.equal(await store.complete("a", "w1", ok), true);
    const done = await store.getJob("a");
    assert.equal(done?.state, "completed");
    assert.equal(done?.exitCode, 0);
    assert.equal(done?.worker, null);
    assert.equal(done?.finishedAt, clock.ms);
    const attempts = await store.attempts("a");
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0].outcome, "completed");
    assert.equal(attempts[0].stdoutBytes, 3);
    const logs = await store.logs("a");
    assert.equal(new TextDecoder().decode(logs?.stdout), "hi\n");
    assert.deepEqual((await store.counts()).completed, 1);
  });

  test("claim order is priority, then run_at, then insertion", async (store, clock) => {
    await store.enqueue([
      job("low-1", clock, { priority: 0 }),
      job("high-late", clock, { priority: 5, runAt: clock.ms - 1000 }),
      job("high-early", clock, { priority: 5, runAt: clock.ms - 5000 }),
      job("low-2", clock, { priority: 0 }),
      job("future", clock, { priority: 9, runAt: clock.ms + 60_000 }),
    ]);
    const order: string[] = [];
    for (let job = await store.claim("w", LEASE); job; job = await store.claim("w", LEASE)) {
      order.push(job.id);
    }
    assert.deepEqual(order, ["high-early", "high-late", "low-1", "low-2"]);
    clock.advance(60);
    assert.equal((await store.claim("w", LEASE))?.id, "future", "a scheduled job runs once due");
  });

  test("duplicate ids are rejected and nothing of the batch is stored", async (store, clock) => {
    await store.enqueue([job("dup", clock)]);
    await rejectsWith(
      store.enqueue([job("new-1", clock), job("dup", clock)]),
      "conflict",
      /"dup" already exists/,
    );
    assert.equal(await store.getJob("new-1"), null);
    assert.equal((await store.counts()).pending, 1);
  });

  test("a batch that repeats an id is rejected whole, naming the id", async (store, clock) => {
    await rejectsWith(
      store.enqueue([job("twice", clock), job("once", clock), job("twice", clock)]),
      "conflict",
      /"twice"/,
    );
    assert.equal(await store.getJob("once"), null);
    assert.equal((await store.counts()).pending, 0);
    await store.enqueue([]);
    assert.equal((await store.counts()).pending, 0, "an empty batch stores nothing");
  });

  test("every job field round trips exactly", async (store, clock) => {
    const odd: NewJob = {
      id: "odd id/ü-\u{1F600}",
      command: `printf '%s\\n' "a\tb" \\ 'quote"s' \u00e9\n# second line`,
      maxRetries: 1_000_000,
      priority: -(2 ** 31),
      runAt: clock.ms - 1234,
      timeout: 1.5,
      cwd: "C:\\Users\\ünï côdé",
    };
    await store.enqueue([odd, job("plain", clock, { priority: 2 ** 31 - 1, timeout: null })]);
    const stored = await store.getJob(odd.id);
    assert.ok(stored);
    const { id, command, maxRetries, priority, runAt, timeout, cwd } = stored;
    assert.deepEqual({ id, command, maxRetries, priority, runAt, timeout, cwd }, odd);
    assert.equal(stored.createdAt, clock.ms);
    assert.equal(stored.updatedAt, clock.ms);
    assert.equal(stored.attempts, 0);
    assert.equal(stored.startedAt, null);
    assert.equal(stored.leaseUntil, null);
    const plain = await store.getJob("plain");
    assert.equal(plain?.priority, 2 ** 31 - 1);
    assert.equal(plain?.timeout, null);
    const claimed = await store.claim("w", LEASE);
    assert.equal(claimed?.id, "plain", "highest priority first");
    assert.equal(claimed?.leaseUntil, clock.ms + LEASE);
    assert.equal(claimed?.startedAt, clock.ms);
  });

  test("logs keep each attempt's output, binary included", async (store, clock) => {
    await store.enqueue([job("out", clock, { maxRetries: 1 })]);
    const binary = new Uint8Array([0, 255, 10, 13, 0x80]);
    await store.claim("w", LEASE);
    await store.fail("out", "w", {
      ...exit3,
      stdout: binary,
      stderr: new TextEncoder().encode("e"),
    });
    clock.advance(60);
    await store.claim("w", LEASE);
    await store.complete("out", "w", ok);
    const first = await store.logs("out", 1);
    assert.equal(first?.attempt, 1);
    assert.deepEqual([...first!.stdout], [...binary]);
    assert.equal(new TextDecoder().decode(first!.stderr), "e");
    const last = await store.logs("out");
    assert.equal(last?.attempt, 2);
    assert.equal(new TextDecoder().decode(last!.stdout), "hi\n");
    assert.equal(last?.stderr.length, 0);
    assert.equal(await store.logs("out", 3), null, "an attempt that never ran");
    const attempts = await store.attempts("out");
    assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.stdoutBytes, a.stderrBytes]), [
      [1, "failed", 5, 1],
      [2, "completed", 3, 0],
    ]);
    assert.equal(attempts[0].exitCode, 3);
    assert.equal(attempts[0].error, "exit code 3");
    assert.equal(attempts[0].worker, "w");
  });

  test(
    "failures back off, then the job is dead; dlq retry resets attempts",
    async (store, clock) => {
      await store.setConfig("backoff-base", "3");
      await store.enqueue([job("f", clock, { maxRetries: 2 })]);
      const outcomes = [];
      for (let run = 1; run <= 3; run++) {
        const claimed = await store.claim("w", LEASE);
        assert.equal(claimed?.id, "f", `run ${run} claims the job`);
        assert.equal(claimed?.attempts, run);
        const outcome = await store.fail("f", "w", exit3);
        outcomes.push(outcome);
        if (outcome?.state === "failed") {
          assert.equal(outcome.runAt, clock.ms + 3 ** run * 1000, "waits base^k seconds");
          assert.equal(await store.claim("w", LEASE), null, "not before the backoff");
          clock.ms = outcome.runAt;
        }
      }
      assert.deepEqual(outcomes.map((o) => o?.state), ["failed", "failed", "dead"]);
      const dead = await store.getJob("f");
      assert.equal(dead?.state, "dead");
      assert.equal(dead?.attempts, 3);
      assert.equal(dead?.exitCode, 3);
      assert.match(dead?.lastError ?? "", /exit code 3/);
      assert.deepEqual(await store.retryDead(["f"]), ["f"]);
      const back = await store.getJob("f");
      assert.equal(back?.state, "pending");
      assert.equal(back?.attempts, 0);
      const again = await store.claim("w", LEASE);
      assert.equal(again?.attempts, 1);
      assert.equal((await store.attempts("f")).length, 4, "history keeps every run");
    },
  );

  test("backoff is capped by backoff-max", async (store, clock) => {
    await store.setConfig("backoff-max", "5");
    await store.enqueue([job("c", clock, { maxRetries: 10 })]);
    for (let run = 1; run <= 4; run++) {
      await store.claim("w", LEASE);
      const outcome = await store.fail("c", "w", exit3);
      assert.equal(outcome?.state, "failed");
      if (outcome?.state === "failed") {
        assert.equal(outcome.runAt - clock.ms, Math.min(2 ** run, 5) * 1000);
        clock.ms = outcome.runAt;
      }
    }
  });

  test("an expired lease is recovered as a failure", async (store, clock) => {
    await store.enqueue([job("l", clock, { maxRetries: 1 })]);
    await store.claim("gone", LEASE);
    clock.advance(29);
    assert.deepEqual(await store.recover(), [], "lease still valid");
    clock.advance(2);
    const [outcome] = await store.recover();
    assert.equal(outcome.id, "l");
    assert.equal(outcome.state, "failed");
    assert.match(outcome.error, /worker lost/);
    assert.equal((await store.attempts("l"))[0].outcome, "lost");
    clock.ms = outcome.state === "failed" ? outcome.runAt : clock.ms;
    await store.claim("other", LEASE);
    clock.advance(31);
    const [last] = await store.recover();
    assert.equal(last.state, "dead");
  });

  test("heartbeat extends leases and reports held jobs", async (store, clock) => {
    await store.enqueue([job("h", clock)]);
    await store.claim("w", LEASE);
    const beat = {
      id: "w",
      kind: "worker" as const,
      host: "box",
      pid: 1,
      supervisor: null,
      currentJob: "h",
    };
    clock.advance(20);
    assert.deepEqual(await store.heartbeat({ ...beat, leaseMs: LEASE }), {
      stop: false,
      held: ["h"],
    });
    clock.advance(20);
    assert.deepEqual(await store.recover(), [], "the heartbeat extended the lease");
    const workers = await store.listWorkers();
    assert.equal(workers.length, 1);
    assert.equal(workers[0].currentJob, "h");
    assert.equal(workers[0].host, "box");
  });

  test("settle by a worker that lost the job changes nothing", async (store, clock) => {
    await store.enqueue([job("s", clock)]);
    await store.claim("old", LEASE);
    clock.advance(31);
    await store.recover();
    clock.advance(10);
    await store.claim("new", LEASE);
    const before = await store.getJob("s");
    assert.equal(await store.complete("s", "old", ok), false);
    assert.equal(await store.fail("s", "old", exit3), null);
    assert.deepEqual(await store.getJob("s"), before);
    assert.equal(await store.complete("s", "new", ok), true);
  });

  test("cancel stops pending and processing jobs", async (store, clock) => {
    await store.enqueue([job("p", clock), job("r", clock), job("done", clock)]);
    assert.equal(await store.cancel("p"), "pending");
    assert.equal((await store.claim("w", LEASE))?.id, "r");
    const beat = {
      id: "w",
      kind: "worker" as const,
      host: "h",
      pid: 1,
      supervisor: null,
      currentJob: "r",
    };
    assert.deepEqual((await store.heartbeat({ ...beat, leaseMs: LEASE })).held, ["r"]);
    assert.equal(await store.cancel("r"), "processing");
    assert.deepEqual(
      (await store.heartbeat({ ...beat, leaseMs: LEASE })).held,
      [],
      "the worker learns",
    );
    assert.equal(await store.complete("r", "w", ok), false);
    assert.equal((await store.getJob("r"))?.state, "cancelled");
    assert.equal((await store.claim("w", LEASE))?.id, "done");
    await store.complete("done", "w", ok);
    await rejectsWith(store.cancel("done"), "conflict", /already completed/);
    await rejectsWith(store.cancel("nope"), "not_found", /"nope"/);
    assert.equal(await store.cancel("p"), "cancelled", "cancelling twice is harmless");
  });

  test("releaseWorker fails the dead worker's jobs at once", async (store, clock) => {
    await store.enqueue([job("x", clock)]);
    await store.claim("w9", LEASE);
    const [outcome] = await store.releaseWorker("w9", "worker lost (killed by SIGKILL)");
    assert.equal(outcome.id, "x");
    assert.equal(outcome.state, "failed");
    assert.equal((await store.getJob("x"))?.lastError, "worker lost (killed by SIGKILL)");
  });

  test("dlq retry is all or nothing and checks states", async (store, clock) => {
    await store.enqueue([job("d1", clock, { maxRetries: 0 }), job("ok1", clock)]);
    await store.claim("w", LEASE);
    await store.fail("d1", "w", exit3);
    await rejectsWith(store.retryDead(["d1", "ok1"]), "conflict", /"ok1" is pending, not dead/);
    assert.equal((await store.getJob("d1"))?.state, "dead", "nothing changed");
    await rejectsWith(store.retryDead(["zz"]), "not_found", /"zz"/);
    assert.deepEqual(await store.retryDead("all"), ["d1"]);
    assert.deepEqual(await store.retryDead("all"), []);
  });

  test("counts, oldest pending, list and paging", async (store, clock) => {
    assert.equal(await store.oldestPending(), null);
    await store.enqueue([job("j1", clock)]);
    clock.advance(1);
    await store.enqueue([job("j2", clock), job("j3", clock)]);
    await store.claim("w", LEASE);
    const counts = await store.counts();
    assert.equal(counts.pending, 2);
    assert.equal(counts.processing, 1);
    assert.equal(counts.dead, 0);
    assert.equal(await store.oldestPending(), clock.ms, "j1 was claimed; j2 is oldest pending");
    assert.deepEqual((await store.listJobs()).map((j) => j.id), ["j3", "j2", "j1"]);
    assert.deepEqual((await store.listJobs({ state: "pending" })).map((j) => j.id), ["j3", "j2"]);
    assert.deepEqual((await store.listJobs({ limit: 1, offset: 1 })).map((j) => j.id), ["j2"]);
  });

  test("config round trip and reset", async (store) => {
    assert.equal((await store.getConfig()).maxRetries, 3);
    await store.setConfig("max-retries", "5");
    await store.setConfig("shell", "bash");
    assert.equal((await store.getConfig()).maxRetries, 5);
    assert.equal((await store.getConfig()).shell, "bash");
    assert.equal((await store.getConfigRows()).get("max-retries"), "5");
    await store.setConfig("shell", "");
    assert.equal((await store.getConfig()).shell, null);
  });

  test("requestStop reaches live supervisors through their heartbeat", async (store) => {
    const beat = {
      id: "s1",
      kind: "supervisor" as const,
      host: "h",
      pid: 1,
      supervisor: null,
      currentJob: null,
    };
    assert.equal((await store.heartbeat({ ...beat, leaseMs: LEASE })).stop, false);
    assert.equal(await store.requestStop(), 1);
    assert.equal((await store.heartbeat({ ...beat, leaseMs: LEASE })).stop, true);
    await store.unregisterWorker("s1");
    assert.deepEqual(await store.listWorkers(), []);
  });

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
    else assert.equal(await store.cancel(id), "processing");
  }

  test("metrics of an empty store", async (store, clock) => {
    const metrics = await store.metrics({ windowMs: 3_600_000 });
    assert.deepEqual(metrics, {
      since: clock.ms - 3_600_000,
      until: clock.ms,
      counts: { pending: 0, processing: 0, completed: 0, failed: 0, dead: 0, cancelled: 0 },
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

  test("waitForChange returns after its timeout, or at once on abort", async (store) => {
    const started = performance.now();
    await store.waitForChange(80);
    assert.ok(performance.now() - started >= 70, "nothing changed, so it waited");
    const controller = new AbortController();
    const waiting = store.waitForChange(60_000, controller.signal);
    controller.abort();
    await waiting;
    await store.waitForChange(60_000, controller.signal); // already aborted: returns at once
  });

  test("logs of an unknown job and of a job never run", async (store, clock) => {
    await rejectsWith(store.logs("missing"), "not_found", /"missing"/);
    await store.enqueue([job("never", clock)]);
    assert.equal(await store.logs("never"), null);
    assert.deepEqual(await store.attempts("never"), []);
  });
}
