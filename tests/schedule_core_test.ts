// Cron arithmetic and the schedule service on a fake clock: DST in a named
// zone, catch-up after downtime, and validation of expressions and zones.
import assert from "node:assert/strict";
import { QueueError } from "../src/core/errors.ts";
import {
  dueTick,
  type NewSchedule,
  nextRun,
  parseCron,
  parseTimeZone,
  tickJobId,
} from "../src/core/schedule.ts";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import type { Store } from "../src/store/store.ts";
import { ScheduleService } from "../src/worker/services/schedules.ts";
import { FakeClock } from "./store_contract/fixtures.ts";
import { tempHome } from "./helpers.ts";

function schedule(name: string, cron: string, tz: string | null): NewSchedule {
  return {
    name,
    cron,
    tz,
    command: "true",
    queue: "default",
    maxRetries: 0,
    priority: 0,
    timeout: null,
    cwd: "/",
  };
}

/** Runs `fn` with a SQLite store and a schedule service on one fake clock starting at `start`. */
async function withService(
  start: string,
  fn: (store: Store, clock: FakeClock, service: ScheduleService) => Promise<void>,
): Promise<void> {
  const { db, cleanup } = await tempHome();
  const clock = new FakeClock(Date.parse(start));
  const store = openSqliteStore(db, { clock: clock.now });
  try {
    await fn(store, clock, new ScheduleService({ store, clock: clock.now }));
  } finally {
    await store.close();
    await cleanup();
  }
}

/** Steps the clock by `stepS` seconds until `until`, checking schedules at each step. */
async function run(clock: FakeClock, service: ScheduleService, until: string, stepS = 300) {
  const end = Date.parse(until);
  const fired: string[] = [];
  while (clock.ms < end) {
    clock.advance(stepS);
    fired.push(...await service.runOnce());
  }
  return fired;
}

function invalidWith(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof QueueError && error.kind === "invalid", String(error));
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("schedule: bad expressions and zones are refused, naming them", () => {
  const now = Date.UTC(2026, 0, 1);
  assert.throws(() => parseCron("61 * * * *", null, now), invalidWith(/"61 \* \* \* \*".*minute/));
  assert.throws(() => parseCron("* * *", null, now), invalidWith(/"\* \* \*"/));
  assert.throws(() => parseCron("0 0 * * * *", null, now), invalidWith(/5 parts|5 fields/));
  assert.throws(() => parseCron("@reboot", null, now), invalidWith(/"@reboot".*nickname/));
  assert.throws(() => parseCron("0 0 31 2 *", null, now), invalidWith(/never runs/));
  assert.throws(() => parseTimeZone("Mars/Olympus_Mons"), invalidWith(/"Mars\/Olympus_Mons"/));
  assert.equal(parseCron("  */15  * * * * ", null, now), "*/15 * * * *");
  assert.equal(parseCron("@daily", null, now), "@daily");
  assert.equal(parseTimeZone("America/New_York"), "America/New_York");
});

Deno.test("schedule: the due tick is the latest one since the last, so downtime makes one catch-up", () => {
  const base = { cron: "*/5 * * * *", tz: null, createdAt: Date.parse("2026-01-01T10:02:00Z") };
  assert.equal(dueTick({ ...base, lastTick: null }, Date.parse("2026-01-01T10:04:59Z")), null);
  assert.equal(
    dueTick({ ...base, lastTick: null }, Date.parse("2026-01-01T10:05:00Z")),
    Date.parse("2026-01-01T10:05:00Z"),
    "a tick is due at its own instant",
  );
  assert.equal(
    dueTick({ ...base, lastTick: null }, Date.parse("2026-01-03T07:31:00Z")),
    Date.parse("2026-01-03T07:30:00Z"),
  );
  const last = Date.parse("2026-01-01T10:05:00Z");
  assert.equal(dueTick({ ...base, lastTick: last }, last + 299_000), null);
  assert.equal(
    nextRun({
      ...base,
      lastTick: last,
      name: "n",
      command: "",
      queue: "default",
      maxRetries: 0,
      priority: 0,
      timeout: null,
      cwd: "/",
    }, last + 1000),
    last + 300_000,
  );
  assert.equal(tickJobId("backup", last), "backup@2026-01-01T10:05:00Z");
});

Deno.test("schedule: after downtime the service enqueues exactly one catch-up job, then one per tick", async () => {
  await withService("2026-01-01T10:02:00Z", async (store, clock, service) => {
    await store.addSchedule(schedule("every5", "*/5 * * * *", null));
    assert.deepEqual(await service.runOnce(), [], "nothing due yet");
    clock.advance(3 * 3600); // three hours with no supervisor: 36 ticks missed
    assert.deepEqual(await service.runOnce(), ["every5@2026-01-01T13:00:00Z"]);
    assert.deepEqual(await service.runOnce(), [], "once");
    const more = await run(clock, service, "2026-01-01T13:20:00Z", 60);
    assert.deepEqual(more, [
      "every5@2026-01-01T13:05:00Z",
      "every5@2026-01-01T13:10:00Z",
      "every5@2026-01-01T13:15:00Z",
      "every5@2026-01-01T13:20:00Z",
    ]);
    assert.equal((await store.counts()).pending, 5);
  });
});

Deno.test("schedule: across DST in Europe/Berlin no tick that exists is skipped or doubled", async () => {
  // Spring: 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00 UTC). Autumn: 2026-10-25 03:00 CEST
  // falls back to 02:00 CET (01:00 UTC), so 02:00-02:59 happens twice.
  for (
    const [day, from, until, hours] of [
      ["spring", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", 23],
      ["autumn", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", 25],
    ] as const
  ) {
    await withService(from, async (store, clock, service) => {
      await store.addSchedule(schedule("hourly", "0 * * * *", "Europe/Berlin"));
      await store.addSchedule(schedule("night", "30 2 * * *", "Europe/Berlin"));
      await store.addSchedule(schedule("half", "*/30 2 * * *", "Europe/Berlin"));
      clock.advance(-1);
      const fired = await run(clock, service, until, 60);
      const hourly = fired.filter((id) => id.startsWith("hourly@"));
      assert.equal(hourly.length, hours, `${day}: one job per real hour of the local day`);
      assert.equal(new Set(hourly).size, hours);
      const steps = hourly.map((id, i) =>
        i === 0 ? 3600_000 : Date.parse(id.slice(7)) - Date.parse(hourly[i - 1].slice(7))
      );
      assert.ok(steps.every((ms) => ms === 3600_000), `${day}: an hour apart`);
      const night = fired.filter((id) => id.startsWith("night@"));
      const half = fired.filter((id) => id.startsWith("half@"));
      if (day === "spring") {
        // 02:30 does not exist that night: the fixed-time job runs once, right after the gap.
        assert.deepEqual(night, ["night@2026-03-29T01:00:00Z"]);
        assert.deepEqual(half, [], "02:00 and 02:30 do not exist: nothing to run");
      } else {
        assert.deepEqual(night, ["night@2026-10-25T00:30:00Z"], "02:30 runs once, not twice");
        assert.deepEqual(half, [
          "half@2026-10-25T00:00:00Z",
          "half@2026-10-25T00:30:00Z",
          "half@2026-10-25T01:00:00Z",
          "half@2026-10-25T01:30:00Z",
        ], "a stepped job runs at every real instant of the repeated hour");
      }
    });
  }
});
