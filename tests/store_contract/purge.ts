/**
 * Store contract: purge (by state and age, in batches, dry run) and the turns
 * of periodic services.
 * @module
 */

import assert from "node:assert/strict";
import type { Store } from "../../src/store/store.ts";
import { type ContractTest, exit3, type FakeClock, job, LEASE, ok } from "./fixtures.ts";

/**
 * One job in each state; finished ones finish at the clock's time now. Each
 * call's jobs have a higher priority than the last one's, so its claims take its own.
 */
async function everyState(
  store: Store,
  clock: FakeClock,
  prefix: string,
  priority: number,
): Promise<void> {
  const ids = ["completed", "dead", "cancelled", "failed", "processing", "pending"];
  await store.enqueue(ids.map((state) =>
    job(`${prefix}-${state}`, clock, {
      maxRetries: state === "dead" ? 0 : 2,
      priority,
      // Never due: it stays pending.
      runAt: state === "pending" ? clock.ms + 86_400_000 : clock.ms,
    })
  ));
  await store.cancel(`${prefix}-cancelled`);
  for (const state of ["completed", "dead", "failed", "processing"]) {
    const claimed = await store.claim("w", LEASE);
    assert.equal(claimed?.id, `${prefix}-${state}`);
    if (state === "completed") await store.complete(claimed.id, "w", ok);
    if (state === "dead" || state === "failed") await store.fail(claimed.id, "w", exit3);
  }
}

async function ids(store: Store): Promise<string[]> {
  return (await store.listJobs({ limit: 1000 })).map((job) => job.id).sort();
}

/** Registers these cases with `test`. */
export function registerPurge(test: ContractTest): void {
  test(
    "purge deletes old finished jobs with their attempts, and nothing else",
    async (store, clock) => {
      await everyState(store, clock, "old", 1);
      clock.advance(3600);
      await everyState(store, clock, "new", 2);
      clock.advance(60);
      const before = await ids(store);
      const dry = await store.purge({
        olderThanMs: { completed: 1800_000, cancelled: 1800_000, dead: 1800_000 },
        dryRun: true,
      });
      assert.deepEqual(dry.counts, { completed: 1, cancelled: 1, dead: 1 });
      assert.deepEqual(await ids(store), before, "a dry run deletes nothing");

      const result = await store.purge({
        olderThanMs: { completed: 1800_000, cancelled: 1800_000 },
      });
      assert.deepEqual(result, { counts: { completed: 1, cancelled: 1, dead: 0 }, done: true });
      assert.equal(await store.getJob("old-completed"), null);
      assert.equal(await store.getJob("old-cancelled"), null);
      assert.equal((await store.getJob("old-dead"))?.state, "dead", "dead only when named");
      await assert.rejects(store.attempts("old-completed"), /No job/);
      for (const state of ["failed", "processing", "pending"]) {
        assert.ok(await store.getJob(`old-${state}`), `an old ${state} job stays`);
      }
      assert.deepEqual((await store.counts()).completed, 1, "the counters follow");

      const all = await store.purge({ olderThanMs: { completed: 0, cancelled: 0, dead: 0 } });
      assert.deepEqual(all.counts, { completed: 1, cancelled: 1, dead: 2 });
      assert.deepEqual(await ids(store), [
        "new-failed",
        "new-pending",
        "new-processing",
        "old-failed",
        "old-pending",
        "old-processing",
      ]);
      const counts = await store.counts();
      assert.equal(counts.completed + counts.cancelled + counts.dead, 0);
      assert.equal((await store.metrics({ windowMs: 86_400_000 })).completed, 0, "runs went too");
    },
  );

  test("purge works through many batches and can stop at a time budget", async (store, clock) => {
    const many = Array.from({ length: 23 }, (_, i) => job(`c${i}`, clock));
    await store.enqueue(many);
    for (const _ of many) {
      const claimed = await store.claim("w", LEASE);
      await store.complete(claimed!.id, "w", ok);
    }
    clock.advance(10);
    const first = await store.purge({ olderThanMs: { completed: 0 }, batch: 5, budgetMs: 0 });
    assert.equal(first.done, false, "the budget stopped it");
    assert.ok(first.counts.completed <= 5, `at most one batch, got ${first.counts.completed}`);
    const rest = await store.purge({ olderThanMs: { completed: 0 }, batch: 5 });
    assert.equal(rest.done, true);
    assert.equal(first.counts.completed + rest.counts.completed, 23);
    assert.equal((await store.counts()).completed, 0);
  });

  test("purge --queue: only that queue's jobs", async (store, clock) => {
    await store.enqueue([job("c", clock), job("r", clock, { queue: "reports" })]);
    await store.complete((await store.claim("w", LEASE))!.id, "w", ok);
    await store.complete((await store.claim("w", LEASE))!.id, "w", ok);
    clock.advance(10);
    const none = await store.purge({ olderThanMs: { completed: 0 }, queue: "nightly" });
    assert.equal(none.counts.completed, 0);
    const reports = await store.purge({ olderThanMs: { completed: 0 }, queue: "reports" });
    assert.equal(reports.counts.completed, 1);
    assert.equal(await store.getJob("r"), null);
    const mine = await store.purge({ olderThanMs: { completed: 0 }, queue: "default" });
    assert.equal(mine.counts.completed, 1);
  });

  test(
    "a service's turn goes to one holder until it ends or its lease runs out",
    async (store, clock) => {
      assert.equal(await store.serviceTurn("retention", "a", 60_000), true);
      assert.equal(await store.serviceTurn("retention", "b", 60_000), false, "a holds it");
      assert.equal(await store.serviceTurn("retention", "a", 60_000), true, "a may renew");
      assert.equal(await store.serviceTurn("other", "b", 60_000), true, "services are separate");
      await store.serviceDone("retention", "a", 30_000);
      assert.equal(await store.serviceTurn("retention", "b", 60_000), false, "not due yet");
      clock.advance(31);
      assert.equal(await store.serviceTurn("retention", "b", 60_000), true, "due again");
      await store.serviceDone("retention", "a", 0); // not a's turn: changes nothing
      assert.equal(await store.serviceTurn("retention", "a", 60_000), false);
      clock.advance(61);
      assert.equal(await store.serviceTurn("retention", "a", 60_000), true, "b's lease ran out");
    },
  );
}
