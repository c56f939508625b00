/**
 * Store contract: counts, paging, config and stop requests.
 * @module
 */

import assert from "node:assert/strict";
import { type ContractTest, job, LEASE } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerReads(test: ContractTest): void {
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
}
