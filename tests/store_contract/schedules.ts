/**
 * Store contract: schedules (add, list, remove, firing a tick once) and
 * enqueue with `ifAbsent`.
 * @module
 */

import assert from "node:assert/strict";
import type { NewSchedule } from "../../src/core/schedule.ts";
import { tickJob } from "../../src/core/schedule.ts";
import { type ContractTest, job, LEASE, ok, rejectsWith } from "./fixtures.ts";

function schedule(name: string, extra: Partial<NewSchedule> = {}): NewSchedule {
  return {
    name,
    cron: "*/5 * * * *",
    tz: "Europe/Berlin",
    command: `echo ${name}`,
    queue: "default",
    maxRetries: 1,
    priority: 3,
    timeout: 60,
    cwd: "/tmp",
    ...extra,
  };
}

/** Registers these cases with `test`. */
export function registerSchedules(test: ContractTest): void {
  test("schedules are added once, listed by name and removed", async (store, clock) => {
    await store.addSchedule(schedule("nightly", { tz: null, timeout: null, queue: "reports" }));
    await store.addSchedule(schedule("backup"));
    await rejectsWith(store.addSchedule(schedule("backup")), "conflict", /"backup" already exists/);
    const list = await store.listSchedules();
    assert.deepEqual(list.map((s) => s.name), ["backup", "nightly"]);
    assert.deepEqual(list[0], {
      ...schedule("backup"),
      createdAt: clock.ms,
      lastTick: null,
    });
    assert.equal(list[1].tz, null);
    assert.equal(list[1].queue, "reports");
    await store.removeSchedule("nightly");
    await rejectsWith(store.removeSchedule("nightly"), "not_found", /"nightly"/);
    assert.deepEqual((await store.listSchedules()).map((s) => s.name), ["backup"]);
  });

  test(
    "a tick is fired once, never behind a later one, and survives its job's purge",
    async (store, clock) => {
      await store.addSchedule(schedule("tick"));
      const [stored] = await store.listSchedules();
      const t1 = clock.ms + 300_000;
      const t2 = t1 + 300_000;
      assert.equal(await store.fireSchedule("tick", t1, tickJob(stored, t1)), true);
      assert.equal(await store.fireSchedule("tick", t1, tickJob(stored, t1)), false, "once");
      const fired = await store.getJob("tick@2026-01-01T00:05:00Z");
      assert.equal(fired?.command, "echo tick");
      assert.equal(fired?.priority, 3);
      assert.equal(fired?.runAt, t1);
      assert.equal((await store.listSchedules())[0].lastTick, t1);
      // The job ran and was purged; the tick must still not come back.
      clock.advance(300);
      await store.complete((await store.claim("w", LEASE))!.id, "w", ok);
      await store.purge({ olderThanMs: { completed: -1 } });
      assert.equal(await store.getJob(fired!.id), null);
      assert.equal(
        await store.fireSchedule("tick", t1, tickJob(stored, t1)),
        false,
        "purged: no rerun",
      );
      assert.equal(await store.fireSchedule("tick", t2, tickJob(stored, t2)), true);
      assert.equal(
        await store.fireSchedule("tick", t1, tickJob(stored, t1)),
        false,
        "no going back",
      );
      assert.equal(await store.fireSchedule("gone", t2, tickJob(stored, t2)), false, "no schedule");
    },
  );

  test("a tick's job goes to its schedule's queue, made on first use", async (store, clock) => {
    await store.addSchedule(schedule("report", { queue: "reports" }));
    const [stored] = await store.listSchedules();
    const tick = clock.ms + 300_000;
    assert.equal(await store.fireSchedule("report", tick, tickJob(stored, tick)), true);
    const fired = await store.getJob(tickJob(stored, tick).id);
    assert.equal(fired?.queue, "reports");
    const { queues } = await store.listQueues();
    assert.equal(queues.find((q) => q.name === "reports")?.counts.pending, 1);
  });

  test(
    "a tick whose job id exists records the tick and leaves the job as it is",
    async (store, clock) => {
      await store.addSchedule(schedule("dup"));
      const [stored] = await store.listSchedules();
      const tick = clock.ms + 300_000;
      const taken = tickJob(stored, tick);
      await store.enqueue([{ ...taken, command: "echo mine" }]);
      assert.equal(await store.fireSchedule("dup", tick, taken), false);
      assert.equal((await store.getJob(taken.id))?.command, "echo mine");
      assert.equal((await store.listSchedules())[0].lastTick, tick);
    },
  );

  test(
    "enqueue ifAbsent skips existing ids in any state and counts what it stored",
    async (store, clock) => {
      await store.enqueue([job("a", clock), job("b", clock)]);
      await store.complete((await store.claim("w", LEASE))!.id, "w", ok);
      assert.equal(
        await store.enqueue([job("a", clock, { command: "echo new" })], { ifAbsent: true }),
        0,
      );
      assert.equal((await store.getJob("a"))?.command, "echo a", "left as it is");
      assert.equal((await store.getJob("a"))?.state, "completed");
      const stored = await store.enqueue([job("b", clock), job("c", clock), job("d", clock)], {
        ifAbsent: true,
      });
      assert.equal(stored, 2);
      assert.equal((await store.counts()).pending, 3);
      assert.equal(await store.enqueue([job("e", clock)]), 1, "a plain enqueue counts too");
    },
  );
}
