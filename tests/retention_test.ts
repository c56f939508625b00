// Retention: the service on a fake clock, one holder at a time, and a real
// supervisor deleting old finished jobs while its worker runs.
import assert from "node:assert/strict";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import type { Store } from "../src/store/store.ts";
import {
  RETENTION_MAX_INTERVAL_MS,
  RETENTION_MIN_INTERVAL_MS,
  retentionInterval,
  RetentionService,
} from "../src/worker/services/retention.ts";
import { DEFAULT_CONFIG } from "../src/core/config.ts";
import { exit3, FakeClock, job, LEASE, ok } from "./store_contract/fixtures.ts";
import { cli, cliJson, spawnCli, tempHome, waitFor } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const DAY = 86_400;

/** Jobs in every state, all made `clock`'s now; returns their ids by state. */
async function jobsInEveryState(store: Store, clock: FakeClock, prefix: string) {
  const ids = {
    completed: `${prefix}-completed`,
    cancelled: `${prefix}-cancelled`,
    dead: `${prefix}-dead`,
    failed: `${prefix}-failed`,
    processing: `${prefix}-processing`,
    pending: `${prefix}-pending`,
  };
  await store.enqueue([
    job(ids.completed, clock),
    job(ids.dead, clock, { maxRetries: 0 }),
    job(ids.failed, clock, { maxRetries: 5 }),
    job(ids.processing, clock),
    job(ids.cancelled, clock),
    job(ids.pending, clock, { runAt: clock.ms + 365 * DAY * 1000 }),
  ]);
  await store.cancel(ids.cancelled);
  await store.complete((await store.claim("w", LEASE))!.id, "w", ok);
  await store.fail((await store.claim("w", LEASE))!.id, "w", exit3);
  await store.fail((await store.claim("w", LEASE))!.id, "w", exit3);
  await store.claim("w", LEASE);
  return ids;
}

Deno.test("retention: the check interval follows the shortest retention, within 1 s and 60 s", () => {
  assert.equal(retentionInterval(DEFAULT_CONFIG), RETENTION_MAX_INTERVAL_MS);
  assert.equal(retentionInterval({ ...DEFAULT_CONFIG, retainCompleted: 5 }), 2500);
  assert.equal(
    retentionInterval({ ...DEFAULT_CONFIG, retainCancelled: 0.5 }),
    RETENTION_MIN_INTERVAL_MS,
  );
  const never = { ...DEFAULT_CONFIG, retainCompleted: 0, retainCancelled: 0, retainDead: 0 };
  assert.equal(retentionInterval(never), RETENTION_MAX_INTERVAL_MS);
});

Deno.test("retention: deletes finished jobs past their retention, never an unfinished one, one holder at a time", async () => {
  const { db, cleanup } = await tempHome();
  const clock = new FakeClock();
  const store = openSqliteStore(db, { clock: clock.now });
  try {
    await store.setConfig("retain-dead", String(3 * DAY));
    const old = await jobsInEveryState(store, clock, "old");
    clock.advance(6 * DAY);
    const young = await jobsInEveryState(store, clock, "young");
    clock.advance(2 * DAY); // old: 8 days, young: 2 days
    const a = new RetentionService({ store, holder: "a" });
    const b = new RetentionService({ store, holder: "b" });
    const result = await a.runOnce();
    assert.deepEqual(result?.counts, { completed: 1, cancelled: 1, dead: 1 });
    assert.equal(await b.runOnce(), null, "not due again for b: a just did it");
    for (const state of ["completed", "cancelled", "dead"] as const) {
      assert.equal(await store.getJob(old[state]), null, `old ${state} went`);
      assert.ok(await store.getJob(young[state]), `young ${state} stays`);
    }
    for (const state of ["failed", "processing", "pending"] as const) {
      assert.ok(await store.getJob(old[state]), `an old ${state} job is never deleted`);
    }
    clock.advance(2 * DAY); // young: 4 days: only the dead one is past its 3 days
    const next = await b.runOnce();
    assert.deepEqual(next?.counts, { completed: 0, cancelled: 0, dead: 1 }, "b's turn now");
    await store.setConfig("retain-completed", "0");
    clock.advance(10 * DAY);
    clock.advance(61);
    const kept = await a.runOnce();
    assert.equal(kept?.counts.completed, 0, "retain-completed 0 keeps them forever");
    assert.equal(kept?.counts.cancelled, 1);
  } finally {
    await store.close();
    await cleanup();
  }
});

Deno.test({
  name: "retention: a running supervisor deletes old finished jobs while its worker runs jobs",
  ...opts,
  fn: async () => {
    const { home, db, cleanup } = await tempHome();
    let running: ReturnType<typeof spawnCli> | null = null;
    try {
      // History made three days ago (a store on a clock set back), then today's work.
      const past = new FakeClock(Date.now() - 3 * DAY * 1000);
      const store = openSqliteStore(db, { clock: past.now });
      const old = await jobsInEveryState(store, past, "old");
      await store.close();
      await cli(home, ["config", "set", "retain-completed", "1d"]);
      await cli(home, ["config", "set", "retain-dead", "1d"]);
      await cli(home, ["config", "set", "retain-cancelled", "1d"]);
      await cli(home, ["config", "set", "poll-interval", "0.1"]);
      const file = `${home}/ran`;
      await cli(home, ["enqueue", "-c", `echo ran >> ${file}`, "--id", "today"]);
      running = spawnCli(home, ["worker", "start", "--count", "1"]);
      await waitFor("the old finished jobs to go", async () => {
        const ids = (await cliJson<{ id: string }[]>(home, ["list", "--limit", "100"]))
          .map((j) => j.id);
        return !ids.includes(old.completed) && !ids.includes(old.cancelled) &&
          !ids.includes(old.dead) && ids;
      });
      await waitFor(
        "today's job to run",
        async () =>
          (await cliJson<{ state: string }>(home, ["show", "today"])).state === "completed",
      );
      const ids = (await cliJson<{ id: string }[]>(home, ["list", "--limit", "100"]))
        .map((j) => j.id);
      assert.ok(ids.includes("today"), "a job that just finished stays");
      assert.ok(ids.includes(old.pending), "an old pending job stays");
      assert.ok(ids.includes(old.failed), "an old job waiting to retry stays (it may run now)");
      assert.ok(ids.includes(old.processing), "an old processing job stays until it is settled");
      assert.match(running.output(), /retention deleted 1 completed, 1 cancelled, 1 dead job/);
    } finally {
      if (running) {
        await cli(home, ["worker", "stop", "--timeout", "30s"]);
        await running.done;
      }
      await cleanup();
    }
  },
});
