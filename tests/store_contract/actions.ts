/**
 * Store contract: cancel, releaseWorker and dlq retry.
 * @module
 */

import assert from "node:assert/strict";
import { type ContractTest, exit3, job, LEASE, ok, rejectsWith } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerActions(test: ContractTest): void {
  test("cancel stops pending and processing jobs", async (store, clock) => {
    await store.enqueue([job("p", clock), job("r", clock), job("done", clock)]);
    assert.deepEqual(await store.cancel("p"), { previous: "pending", cascaded: [] });
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
    assert.equal((await store.cancel("r")).previous, "processing");
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
    assert.equal((await store.cancel("p")).previous, "cancelled", "cancelling twice is harmless");
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
}
