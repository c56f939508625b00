/**
 * Store contract: the worker's hot path — claiming several jobs at once in
 * claim order, recording completions in the same round trip, giving back jobs
 * claimed ahead, and claims that never scan jobs that are not due.
 * @module
 */

import assert from "node:assert/strict";
import { type ContractTest, exit3, job, LEASE, ok } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerExchange(test: ContractTest): void {
  test(
    "exchange claims several jobs in claim order, each with its attempt",
    async (store, clock) => {
      await store.enqueue([
        job("low", clock, { priority: 0 }),
        job("high", clock, { priority: 5 }),
        job("later", clock, { priority: 5, runAt: clock.ms + 60_000 }),
        job("mid", clock, { priority: 2 }),
      ]);
      const reply = await store.exchange("w", { leaseMs: LEASE, claim: 8 });
      assert.deepEqual(reply.claimed.map((j) => j.id), ["high", "mid", "low"]);
      assert.deepEqual(reply.completed, []);
      for (const claimed of reply.claimed) {
        assert.equal(claimed.state, "processing");
        assert.equal(claimed.worker, "w");
        assert.equal(claimed.attempts, 1);
        assert.equal(claimed.leaseUntil, clock.ms + LEASE);
        assert.equal((await store.attempts(claimed.id))[0].outcome, "running");
      }
      assert.equal((await store.counts()).processing, 3);
      assert.equal((await store.exchange("w", { leaseMs: LEASE, claim: 8 })).claimed.length, 0);
    },
  );

  test(
    "exchange records completions, corrects a late start, and claims in one go",
    async (store, clock) => {
      await store.enqueue([job("a", clock), job("b", clock), job("c", clock)]);
      const [a, b] = (await store.exchange("w", { leaseMs: LEASE, claim: 2 })).claimed;
      assert.deepEqual([a.id, b.id], ["a", "b"]);
      clock.advance(3);
      const startedAt = clock.ms - 1000;
      const reply = await store.exchange("w", {
        leaseMs: LEASE,
        completed: [{ id: "a", result: { ...ok, startedAt } }],
        claim: 1,
      });
      assert.deepEqual(reply.completed, ["a"]);
      assert.deepEqual(reply.claimed.map((j) => j.id), ["c"]);
      const done = await store.getJob("a");
      assert.equal(done?.state, "completed");
      assert.equal(done?.startedAt, startedAt, "the run's real start, not its claim");
      const [attempt] = await store.attempts("a");
      assert.equal(attempt.outcome, "completed");
      assert.equal(attempt.startedAt, startedAt);
      assert.equal(attempt.finishedAt, clock.ms);
      assert.equal(new TextDecoder().decode((await store.logs("a"))?.stdout), "hi\n");
      // A completion for a job the worker no longer holds is not recorded.
      assert.equal((await store.cancel("b")).previous, "processing");
      const late = await store.exchange("w", {
        leaseMs: LEASE,
        completed: [{ id: "b", result: ok }],
      });
      assert.deepEqual(late.completed, []);
      assert.equal((await store.getJob("b"))?.state, "cancelled");
    },
  );

  test("released jobs go back exactly as they were before the claim", async (store, clock) => {
    await store.setConfig("backoff-base", "1");
    await store.enqueue([job("fresh", clock), job("retry", clock, { maxRetries: 3 })]);
    // "retry" fails once and is due again: it is `failed` with one attempt.
    assert.equal((await store.claim("w", LEASE))?.id, "fresh");
    await store.exchange("w", { leaseMs: LEASE, release: ["fresh"] });
    assert.equal((await store.claim("w", LEASE))?.id, "fresh", "a released job is claimable");
    await store.exchange("w", { leaseMs: LEASE, release: ["fresh"] });
    const first = await store.exchange("w", { leaseMs: LEASE, claim: 2 });
    assert.deepEqual(first.claimed.map((j) => j.id), ["fresh", "retry"]);
    await store.fail("retry", "w", { ...exit3, startedAt: clock.ms });
    clock.advance(2);
    const before = await store.getJob("retry");
    assert.equal(before?.state, "failed");
    await store.exchange("w", { leaseMs: LEASE, release: ["fresh"] });
    const again = await store.exchange("w", { leaseMs: LEASE, claim: 1 });
    assert.deepEqual(again.claimed.map((j) => j.id), ["fresh"], "released, then claimed again");
    const held = await store.exchange("w", { leaseMs: LEASE, claim: 1 });
    assert.deepEqual(held.claimed.map((j) => j.id), ["retry"]);
    await store.exchange("w", { leaseMs: LEASE, release: ["retry", "fresh", "unknown"] });
    const after = await store.getJob("retry");
    assert.deepEqual(
      { ...after, updatedAt: 0 },
      { ...before, updatedAt: 0 },
      "every field as before the claim",
    );
    assert.equal((await store.attempts("retry")).length, 1, "the unrun attempt is gone");
    const fresh = await store.getJob("fresh");
    assert.equal(fresh?.state, "pending");
    assert.equal(fresh?.attempts, 0);
    assert.equal(fresh?.startedAt, null);
    assert.deepEqual(await store.attempts("fresh"), []);
    assert.equal((await store.counts()).processing, 0);
  });

  test(
    "a claim with `before` takes only a job that runs before the held one",
    async (store, clock) => {
      await store.enqueue([
        job("held", clock, { priority: 1 }),
        job("same", clock, { priority: 1 }),
      ]);
      const [held] = (await store.exchange("w", { leaseMs: LEASE, claim: 1 })).claimed;
      const before = { priority: held.priority, runAt: held.runAt };
      const none = await store.exchange("w", { leaseMs: LEASE, claim: 1, before });
      assert.deepEqual(none.claimed, [], "same priority, same time: the held job goes first");
      await store.enqueue([job("lower", clock, { priority: 0 })]);
      assert.deepEqual(
        (await store.exchange("w", { leaseMs: LEASE, claim: 1, before })).claimed,
        [],
      );
      await store.enqueue([job("earlier", clock, { priority: 1, runAt: clock.ms - 5_000 })]);
      await store.enqueue([job("urgent", clock, { priority: 9 })]);
      const first = await store.exchange("w", { leaseMs: LEASE, claim: 1, before });
      assert.deepEqual(first.claimed.map((j) => j.id), ["urgent"]);
      const second = await store.exchange("w", { leaseMs: LEASE, claim: 1, before });
      assert.deepEqual(second.claimed.map((j) => j.id), ["earlier"], "same priority, due earlier");
      assert.deepEqual(
        (await store.exchange("w", { leaseMs: LEASE, claim: 1, before })).claimed,
        [],
      );
    },
  );

  test(
    "claims skip priorities whose jobs are all delayed, and find nothing when none is due",
    async (store, clock) => {
      const delayed = Array.from({ length: 300 }, (_, i) =>
        job(`delayed-${i}`, clock, {
          priority: i % 3 === 0 ? 7 : 3,
          runAt: clock.ms + 60_000 + i,
        }));
      await store.enqueue(delayed);
      assert.equal(await store.claim("w", LEASE), null);
      assert.deepEqual((await store.exchange("w", { leaseMs: LEASE, claim: 4 })).claimed, []);
      await store.enqueue([
        job("due-low", clock, { priority: 1 }),
        job("due-mid", clock, { priority: 3 }),
      ]);
      const reply = await store.exchange("w", { leaseMs: LEASE, claim: 4 });
      assert.deepEqual(
        reply.claimed.map((j) => j.id),
        ["due-mid", "due-low"],
      );
      clock.advance(61);
      assert.equal((await store.claim("w", LEASE))?.id, "delayed-0", "priority 7 first once due");
    },
  );

  test(
    "releaseWorker fails the started jobs and gives back those claimed ahead",
    async (store, clock) => {
      await store.enqueue([
        job("running", clock, { maxRetries: 0 }),
        job("ahead", clock, { maxRetries: 0 }),
      ]);
      await store.exchange("w", { leaseMs: LEASE, claim: 2 });
      const outcomes = await store.releaseWorker("w", "worker lost (killed by SIGKILL)", [
        "running",
      ]);
      assert.deepEqual(outcomes.map((o) => [o.id, o.state]), [["running", "dead"]]);
      const ahead = await store.getJob("ahead");
      assert.equal(ahead?.state, "pending", "it never ran, so it has not used its one run");
      assert.equal(ahead?.attempts, 0);
      assert.equal((await store.claim("w2", LEASE))?.id, "ahead");
    },
  );
}
