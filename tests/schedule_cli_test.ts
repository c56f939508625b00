// schedule add|list|remove through the real CLI, and two supervisors in their
// own processes enqueuing exactly one job per tick on a test clock.
import assert from "node:assert/strict";
import { cli, cliJson, dbSnapshot, type Running, spawnCli, tempHome, waitFor } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

interface ScheduleJson {
  name: string;
  cron: string;
  tz: string;
  queue: string;
  next_run: string | null;
  last_run: string | null;
  last_job: string | null;
  timeout: number | null;
  max_retries: number;
  priority: number;
  cwd: string;
}

Deno.test({
  name: "cli: schedule add, list with the next run, and remove",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const added = await cli(home, [
        "schedule",
        "add",
        "nightly",
        "--cron",
        "30 2 * * *",
        "--tz",
        "Europe/Berlin",
        "-c",
        "./backup.sh",
        "--queue",
        "maintenance",
        "--timeout",
        "2h",
        "--max-retries",
        "1",
        "--priority",
        "5",
        "--cwd",
        "/srv",
      ]);
      assert.equal(added.code, 0, added.stderr);
      assert.match(
        added.stdout,
        /^added schedule nightly; next run \d{4}-\d\d-\d\dT0[01]:30:00Z\n$/,
      );
      await cli(home, ["schedule", "add", "hourly", "--cron", "@hourly", "-c", "true"]);
      const list = await cliJson<ScheduleJson[]>(home, ["schedule", "list"]);
      assert.deepEqual(list.map((s) => s.name), ["hourly", "nightly"]);
      const nightly = list[1];
      assert.equal(nightly.tz, "Europe/Berlin");
      assert.equal(nightly.queue, "maintenance");
      assert.equal(nightly.timeout, 7200);
      assert.equal(nightly.max_retries, 1);
      assert.equal(nightly.priority, 5);
      assert.equal(nightly.cwd, "/srv");
      assert.equal(nightly.last_run, null);
      const next = Date.parse(nightly.next_run!);
      assert.ok(next > Date.now() && next <= Date.now() + 86_400_000 + 3_600_000);
      assert.equal(list[0].tz, "UTC");
      assert.equal(new Date(list[0].next_run!).getUTCMinutes(), 0);
      const table = await cli(home, ["schedule", "list"]);
      assert.match(table.stdout, /nightly\s+30 2 \* \* \*\s+Europe\/Berlin\s+maintenance/);
      assert.equal(
        (await cli(home, ["schedule", "remove", "nightly"])).stdout,
        "removed schedule nightly\n",
      );
      const missing = await cli(home, ["schedule", "remove", "nightly"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /No schedule named "nightly"/);
      assert.equal((await cliJson<unknown[]>(home, ["schedule", "list"])).length, 1);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name:
    "cli: bad cron, unknown zone, bad name, bad duration and a taken name are exit 2 and change nothing",
  ...opts,
  fn: async () => {
    const { home, db, cleanup } = await tempHome();
    try {
      await cli(home, ["schedule", "add", "taken", "--cron", "0 * * * *", "-c", "true"]);
      const before = dbSnapshot(db) + (await cli(home, ["schedule", "list", "--json"])).stdout;
      const add = (name: string, ...rest: string[]) =>
        cli(home, ["schedule", "add", name, "-c", "true", ...rest]);
      for (
        const [result, pattern] of [
          [await add("x", "--cron", "0 25 * * *"), /Bad cron expression "0 25 \* \* \*"/],
          [await add("x", "--cron", "every day"), /"every day"/],
          [await add("x", "--cron", "@fortnightly"), /"@fortnightly"/],
          [
            await add("x", "--cron", "0 * * * *", "--tz", "Europe/Atlantis"),
            /Unknown time zone "Europe\/Atlantis"/,
          ],
          [await add("x y", "--cron", "0 * * * *"), /Schedule name.*"x y"/],
          [await add("x", "--cron", "0 * * * *", "--timeout", "long"), /--timeout.*"long"/],
          [await add("x"), /needs --cron/],
          [await add("taken", "--cron", "*/5 * * * *"), /"taken" already exists/],
          [await cli(home, ["completions", "tcsh"]), /Unknown shell "tcsh"/],
        ] as const
      ) {
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, pattern);
        assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
      }
      const after = dbSnapshot(db) + (await cli(home, ["schedule", "list", "--json"])).stdout;
      assert.equal(after, before);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "schedule: two supervisors in their own processes enqueue exactly one job per tick",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const clockFile = `${home}/clock`;
    const supervisors: Running[] = [];
    try {
      await cli(home, ["config", "set", "poll-interval", "0.1"]);
      await cli(home, ["schedule", "add", "tick", "--cron", "* * * * *", "-c", "true"]);
      // The test clock (QUEUECTL_TEST_CLOCK_FILE, read only by the schedule service) starts
      // 30 s into a minute an hour from now: the ticks of that hour were missed (one catch-up).
      const minute = 60_000;
      let now = Math.ceil(Date.now() / minute) * minute + 60 * minute + 30_000;
      await Deno.writeTextFile(clockFile, String(now));
      const env = { QUEUECTL_TEST_CLOCK_FILE: clockFile };
      for (let i = 0; i < 2; i++) {
        supervisors.push(spawnCli(home, ["worker", "start", "--count", "1"], { env }));
      }
      const expected: string[] = [];
      const id = (ms: number) => `tick@${new Date(ms).toISOString().replace(/\.000Z$/, "Z")}`;
      for (let tick = 0; tick < 5; tick++) {
        if (tick > 0) {
          now += minute;
          await Deno.writeTextFile(clockFile, String(now));
        }
        expected.push(id(now - 30_000));
        await waitFor(`the job of tick ${tick}`, async () => {
          const jobs = await cliJson<{ id: string }[]>(home, ["list", "--limit", "100"]);
          return jobs.length === expected.length;
        });
      }
      await cli(home, ["worker", "stop", "--timeout", "30s"]);
      for (const supervisor of supervisors) assert.equal(await supervisor.done, 0);
      const jobs = await cliJson<{ id: string; state: string }[]>(home, ["list", "--limit", "100"]);
      assert.deepEqual(jobs.map((job) => job.id).sort(), expected.sort(), "one job per tick");
      const output = supervisors.map((s) => s.output()).join("");
      const enqueued = output.match(/schedule enqueued tick@/g) ?? [];
      assert.equal(enqueued.length, 5, `each tick fired once in all:\n${output}`);
      const [schedule] = await cliJson<ScheduleJson[]>(home, ["schedule", "list"]);
      assert.equal(schedule.last_job, expected.at(-1));
    } finally {
      for (const supervisor of supervisors) {
        try {
          supervisor.child.kill("SIGKILL");
        } catch {
          // Already stopped.
        }
      }
      await cleanup();
    }
  },
});
