/**
 * Store contract: the change signal, and reads of jobs that never ran.
 * @module
 */

import assert from "node:assert/strict";
import { type ContractTest, job, rejectsWith } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerChanges(test: ContractTest): void {
  test("waitForChange returns false after its timeout, or at once on abort", async (store) => {
    const started = performance.now();
    assert.equal(await store.waitForChange(80), false, "nothing changed");
    assert.ok(performance.now() - started >= 70, "nothing changed, so it waited");
    const controller = new AbortController();
    const waiting = store.waitForChange(60_000, controller.signal);
    controller.abort();
    assert.equal(await waiting, false);
    // Already aborted: returns at once.
    assert.equal(await store.waitForChange(60_000, controller.signal), false);
  });

  test("logs of an unknown job and of a job never run", async (store, clock) => {
    await rejectsWith(store.logs("missing"), "not_found", /"missing"/);
    await store.enqueue([job("never", clock)]);
    assert.equal(await store.logs("never"), null);
    assert.deepEqual(await store.attempts("never"), []);
  });
}
