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

  test("a worker's process start time is kept from the first heartbeat that knows it", async (store) => {
    const beat = {
      kind: "supervisor" as const,
      host: "box",
      supervisor: null,
      currentJob: null,
      leaseMs: LEASE,
    };
    const started = Date.UTC(2026, 0, 1, 12, 30, 15, 250);
    await store.heartbeat({ ...beat, id: "s1", pid: 41, processStartedAt: started });
    await store.heartbeat({ ...beat, id: "s1", pid: 41, processStartedAt: started + 5 });
    await store.heartbeat({ ...beat, id: "s2", pid: 42 }); // not known yet
    await store.heartbeat({ ...beat, id: "s3", pid: 43, processStartedAt: null }); // nor here
    let byId = new Map((await store.listWorkers()).map((w) => [w.id, w]));
    assert.equal(byId.get("s1")?.processStartedAt, started, "never changed once set");
    assert.equal(byId.get("s2")?.processStartedAt, null);
    await store.heartbeat({ ...beat, id: "s2", pid: 42, processStartedAt: started });
    byId = new Map((await store.listWorkers()).map((w) => [w.id, w]));
    assert.equal(byId.get("s2")?.processStartedAt, started, "filled in once known");
    assert.equal(byId.get("s3")?.processStartedAt, null);
    // A row whose process is known to be gone is forgotten by id; the others stay.
    await store.unregisterWorker("s1");
    assert.deepEqual((await store.listWorkers()).map((w) => w.id).sort(), ["s2", "s3"]);
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
