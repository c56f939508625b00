/**
 * Store contract: named queues, the queues a claim serves, pause and resume,
 * concurrency limits, and counts per queue.
 * @module
 */

import assert from "node:assert/strict";
import type { Store } from "../../src/store/store.ts";
import { type ContractTest, job, LEASE, ok } from "./fixtures.ts";

/** Claims until nothing is due; returns the ids in claim order. */
async function claimAll(store: Store): Promise<string[]> {
  const ids: string[] = [];
  for (let j = await store.claim("w", LEASE); j; j = await store.claim("w", LEASE)) ids.push(j.id);
  return ids;
}

/** Registers these cases with `test`. */
export function registerQueues(test: ContractTest): void {
  test("jobs keep their queue; a claim serves the queues it names", async (store, clock) => {
    await store.enqueue([
      job("d1", clock),
      job("a1", clock, { queue: "alpha", priority: 5 }),
      job("b1", clock, { queue: "beta.2", priority: 9 }),
      job("a2", clock, { queue: "alpha", priority: 7 }),
    ]);
    assert.equal((await store.getJob("d1"))?.queue, "default");
    assert.equal((await store.getJob("a1"))?.queue, "alpha");
    const fromAlpha = await store.claim("w", LEASE, { queues: ["alpha"] });
    assert.equal(fromAlpha?.id, "a2", "priority applies within the served queues");
    assert.equal(fromAlpha?.queue, "alpha");
    assert.equal((await store.claim("w", LEASE, { queues: ["alpha", "default"] }))?.id, "a1");
    assert.equal(await store.claim("w", LEASE, { queues: ["nope"] }), null);
    assert.deepEqual(await claimAll(store), ["b1", "d1"], "no filter: every queue, in order");
    assert.equal(await store.countJobs({ queue: "alpha" }), 2);
    assert.equal(await store.countJobs({ queue: "alpha", state: "processing" }), 2);
    assert.equal(await store.countJobs({ state: "processing" }), 4);
    assert.equal(await store.countJobs(), 4);
    assert.deepEqual(
      (await store.listJobs({ queue: "alpha" })).map((j) => j.id),
      ["a2", "a1"],
      "newest first",
    );
    assert.deepEqual(await store.listJobs({ queue: "beta.2", state: "pending" }), []);
  });

  test("a paused queue is skipped until resumed; enqueue still works", async (store, clock) => {
    await store.enqueue([job("p1", clock, { queue: "ops", priority: 9 }), job("d1", clock)]);
    await store.setPaused(["ops"], true);
    await store.enqueue([job("p2", clock, { queue: "ops", priority: 9 })]);
    assert.equal((await store.claim("w", LEASE))?.id, "d1", "the paused queue's jobs are skipped");
    assert.equal(await store.claim("w", LEASE), null);
    assert.equal(await store.claim("w", LEASE, { queues: ["ops"] }), null);
    const list = await store.listQueues();
    const ops = list.queues.find((q) => q.name === "ops");
    assert.equal(ops?.paused, true);
    assert.equal(ops?.counts.pending, 2);
    assert.equal(list.newQueuesPaused, false);
    await store.setPaused(["ops"], false);
    assert.deepEqual(await claimAll(store), ["p1", "p2"]);
  });

  test("pause with no name pauses every queue, including later ones", async (store, clock) => {
    await store.enqueue([job("d1", clock)]);
    await store.setPaused("all", true);
    await store.enqueue([job("n1", clock, { queue: "later" })]);
    await store.setPaused(["named-early"], true);
    assert.equal(await store.claim("w", LEASE), null);
    const list = await store.listQueues();
    assert.equal(list.newQueuesPaused, true);
    assert.deepEqual(
      list.queues.map((q) => [q.name, q.paused]),
      [["default", true], ["later", true], ["named-early", true]],
    );
    await store.setPaused(["later"], false);
    assert.equal((await store.claim("w", LEASE))?.id, "n1", "one queue resumed alone");
    await store.setPaused("all", false);
    assert.equal((await store.listQueues()).newQueuesPaused, false);
    assert.equal((await store.claim("w", LEASE))?.id, "d1");
  });

  test("a concurrency limit holds claims to N processing jobs", async (store, clock) => {
    await store.setConcurrency("lim", 2);
    await store.enqueue([
      ...["l1", "l2", "l3"].map((id) => job(id, clock, { queue: "lim", priority: 5 })),
      job("free", clock),
    ]);
    assert.deepEqual(await claimAll(store), ["l1", "l2", "free"], "the third waits for room");
    assert.equal(await store.claim("w", LEASE), null);
    await store.complete("l1", "w", ok);
    assert.equal((await store.claim("w", LEASE))?.id, "l3", "room again once one ends");
    const lim = (await store.listQueues()).queues.find((q) => q.name === "lim");
    assert.equal(lim?.concurrency, 2);
    assert.equal(lim?.counts.processing, 2);
    await store.setConcurrency("lim", 0);
    await store.enqueue([job("l4", clock, { queue: "lim" })]);
    assert.equal((await store.claim("w", LEASE))?.id, "l4", "0 lifts the limit");
  });

  test(
    "a limited queue's better job is not passed over for an unlimited one",
    async (store, clock) => {
      await store.setConcurrency("lim", 1);
      await store.enqueue([
        job("u-low", clock, { priority: 1 }),
        job("l-high", clock, { queue: "lim", priority: 9 }),
        job("l-next", clock, { queue: "lim", priority: 8 }),
      ]);
      assert.equal((await store.claim("w", LEASE))?.id, "l-high");
      assert.equal((await store.claim("w", LEASE))?.id, "u-low", "the full queue is skipped");
    },
  );

  test("a batch claim (exchange) keeps to queues, pauses and limits", async (store, clock) => {
    await store.setConcurrency("lim", 2);
    await store.setPaused(["off"], true);
    await store.enqueue([
      ...["l1", "l2", "l3", "l4"].map((id) => job(id, clock, { queue: "lim", priority: 5 })),
      job("o1", clock, { queue: "off", priority: 9 }),
      job("u1", clock, { queue: "other" }),
      job("u2", clock, { queue: "other" }),
    ]);
    const first = await store.exchange("w", { leaseMs: LEASE, claim: 8 });
    assert.deepEqual(
      first.claimed.map((j) => j.id),
      ["l1", "l2", "u1", "u2"],
      "2 of lim, none paused",
    );
    const next = await store.exchange("w", {
      leaseMs: LEASE,
      completed: [{ id: "l1", result: ok }],
      claim: 8,
    });
    assert.deepEqual(next.completed, ["l1"]);
    assert.deepEqual(next.claimed.map((j) => j.id), ["l3"], "room for one more once one ended");
    await store.enqueue([job("u3", clock, { queue: "other" })]);
    const only = await store.exchange("w", { leaseMs: LEASE, claim: 8, queues: ["off", "lim"] });
    assert.deepEqual(only.claimed, [], "lim is full, off is paused, other is not served");
    assert.deepEqual(
      (await store.exchange("w", { leaseMs: LEASE, claim: 8, queues: ["other"] })).claimed
        .map((j) => j.id),
      ["u3"],
    );
  });
}
