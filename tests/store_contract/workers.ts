/**
 * Store contract: leases, heartbeats and settles by a worker that lost its job.
 * @module
 */

import assert from "node:assert/strict";
import { type ContractTest, exit3, job, LEASE, ok } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerWorkers(test: ContractTest): void {
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
}
