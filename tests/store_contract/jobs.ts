/**
 * Store contract: enqueue, claim, settle and retry: the write path.
 * @module
 */

import assert from "node:assert/strict";
import type { NewJob } from "../../src/core/types.ts";
import { type ContractTest, exit3, job, LEASE, ok, rejectsWith } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerJobs(test: ContractTest): void {
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
}
