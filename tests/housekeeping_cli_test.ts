// purge, enqueue --if-absent and the retention config keys, through the real CLI.
import assert from "node:assert/strict";
import { cli, cliJson, dbSnapshot, tempHome } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A data dir with one job in each finished state, finished now, plus a pending one. */
async function finishedJobs(home: string): Promise<void> {
  await cli(home, ["enqueue", "-c", "true", "--id", "ok"]);
  await cli(home, ["enqueue", "-c", "exit 3", "--id", "bad", "--max-retries", "0"]);
  assert.equal((await cli(home, ["worker", "start", "--drain"])).code, 0);
  await cli(home, ["enqueue", "-c", "true", "--id", "off", "--delay", "1h"]);
  await cli(home, ["cancel", "off"]);
  await cli(home, ["enqueue", "-c", "true", "--id", "later", "--delay", "1h"]);
}

Deno.test({
  name: "cli: purge needs --older-than, checks its input and changes nothing when refused",
  ...opts,
  fn: async () => {
    const { home, db, cleanup } = await tempHome();
    try {
      await finishedJobs(home);
      const before = dbSnapshot(db);
      for (
        const [args, pattern] of [
          [[], /needs --older-than/],
          [["--older-than", "soon"], /--older-than must be a duration.*"soon"/],
          [["--older-than", "-1h"], /"-1h"/],
          [["--older-than", "0", "--state", "pending"], /finished jobs.*"pending"/],
          [["--older-than", "0", "--state", "completed,failed"], /"failed"/],
          [["--older-than", "0", "--queue", "no spaces"], /--queue.*"no spaces"/],
        ] as const
      ) {
        const result = await cli(home, ["purge", ...args]);
        assert.equal(result.code, 2, `purge ${args.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, pattern);
        assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
      }
      const dry = await cli(home, [
        "purge",
        "--older-than",
        "0",
        "--state",
        "completed,cancelled,dead",
        "--dry-run",
      ]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(dry.stdout, "would purge 3 jobs (1 completed, 1 cancelled, 1 dead)\n");
      assert.equal(dbSnapshot(db), before, "refusals and a dry run change nothing");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name:
    "cli: purge deletes finished jobs older than asked, dead only when named, and says how many",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await finishedJobs(home);
      const young = await cliJson(home, ["purge", "--older-than", "1h"]);
      assert.deepEqual(young, {
        dry_run: false,
        purged: 0,
        by_state: { completed: 0, cancelled: 0 },
      });
      const purged = await cli(home, ["purge", "--older-than", "0"]);
      assert.equal(purged.stdout, "purged 2 jobs (1 completed, 1 cancelled)\n");
      const left = (await cliJson<{ id: string }[]>(home, ["list"])).map((job) => job.id).sort();
      assert.deepEqual(left, ["bad", "later"], "dead and pending jobs stay");
      const dead = await cliJson(home, ["purge", "--older-than", "0s", "--state", "dead"]);
      assert.deepEqual(dead, { dry_run: false, purged: 1, by_state: { dead: 1 } });
      assert.equal((await cli(home, ["show", "bad"])).code, 1, "gone with its history");
      assert.equal((await cli(home, ["logs", "bad"])).code, 1);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name:
    "cli: enqueue --if-absent leaves an existing id as it is, and --file reports how many were there",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      assert.equal((await cli(home, ["enqueue", "-c", "echo one", "--id", "report"])).code, 0);
      const again = await cli(home, ["enqueue", "-c", "echo two", "--id", "report", "--if-absent"]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, "report\n");
      assert.match(again.stderr, /already there/);
      assert.equal((await cliJson(home, ["show", "report"])).command, "echo one");
      const plain = await cli(home, ["enqueue", "-c", "echo two", "--id", "report"]);
      assert.equal(plain.code, 2, "without --if-absent an existing id is refused");
      const file = `${home}/jobs.ndjson`;
      await Deno.writeTextFile(
        file,
        [
          '{"id":"report","command":"x"}',
          '{"id":"new1","command":"true"}',
          '{"id":"new2","command":"true"}',
        ]
          .join("\n"),
      );
      const batch = await cli(home, ["enqueue", "--file", file, "--if-absent"]);
      assert.equal(batch.code, 0, batch.stderr);
      assert.equal(batch.stdout, "enqueued 2 jobs; 1 already there\n");
      const json = JSON.parse(
        (await cli(home, ["enqueue", "--file", file, "--if-absent", "--json"])).stdout,
      );
      assert.deepEqual(json, { enqueued: 0, already_there: 3, ids: ["report", "new1", "new2"] });
      assert.equal((await cliJson<unknown[]>(home, ["list"])).length, 3);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "cli: retention config keys take durations, 0 keeps forever, and refuse bad ones",
  ...opts,
  fn: async () => {
    const { home, db, cleanup } = await tempHome();
    try {
      const config = await cliJson(home, ["config", "get"]);
      assert.equal(config["retain-completed"], 7 * 86400);
      assert.equal(config["retain-cancelled"], 7 * 86400);
      assert.equal(config["retain-dead"], 0);
      assert.equal(
        (await cli(home, ["config", "set", "retain_completed", "36h"])).stdout,
        "retain-completed = 129600\n",
      );
      assert.equal((await cli(home, ["config", "set", "retain-dead", "0"])).code, 0);
      const before = dbSnapshot(db);
      const bad = await cli(home, ["config", "set", "retain-completed", "forever"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /retain-completed.*"forever"/);
      assert.equal(dbSnapshot(db), before);
    } finally {
      await cleanup();
    }
  },
});
