// Flow control through the CLI on both backends (issue 10): bad input changes nothing,
// wait's exit codes, cancel cascading, list saying when it cut, status and queue list.
import assert from "node:assert/strict";
import { flowTest, type Setup, type ShownJob } from "./flow_helpers.ts";

/** Everything a bad command could have changed, as comparable text. */
async function snapshot(s: Setup): Promise<string> {
  const [jobs, queues, config] = await Promise.all([
    s.json<unknown[]>(["list", "--all"]),
    s.json<unknown>(["queue", "list"]),
    s.json<unknown>(["config", "get"]),
  ]);
  return JSON.stringify({ jobs, queues, config });
}

flowTest("bad input is exit 2 with one line naming the value, and changes nothing", async (s) => {
  await s.ok(["enqueue", "-c", "true", "--id", "base", "-q", "ops"]);
  await s.ok(["queue", "set", "ops", "--concurrency", "2"]);
  const before = await snapshot(s);
  const cases: [string[], RegExp][] = [
    [
      ["enqueue", "-c", "x", "--queue", "bad name"],
      /--queue must be 1 to 64 characters .*"bad name"/,
    ],
    [["enqueue", "-c", "x", "--queue", "q".repeat(65)], /--queue must be 1 to 64/],
    [["enqueue", '{"command":"x","queue":7}'], /queue must be .* got 7/],
    [["enqueue", "-c", "x", "--after", "nope"], /runs after "nope", but no job has that id/],
    [["enqueue", "-c", "x", "--id", "self", "--after", "self"], /"self" cannot run after itself/],
    [
      ["enqueue", '{"command":"x","after":"base"}'],
      /after must be an array of job ids, got "base"/,
    ],
    [["queue", "set", "ops", "--concurrency", "-1"], /--concurrency must be a whole number .*"-1"/],
    [["queue", "set", "ops", "--concurrency", "two"], /--concurrency must be .*"two"/],
    [["queue", "set", "bad/name", "--concurrency", "1"], /Queue name must be .*"bad\/name"/],
    [["pause", "ok", "bad name"], /Queue name must be .*"bad name"/],
    [["resume", "$"], /Queue name must be .*"\$"/],
    [["worker", "start", "--queue", "a,b c"], /Each queue of --queue must be .*"b c"/],
    [["list", "--queue", "a b"], /--queue must be/],
    [["list", "--all", "--limit", "5"], /--limit or --all, not both/],
    [["wait", "base", "--timeout", "soon"], /--timeout must be a duration .*"soon"/],
    [["wait", "base", "--queue", "ops"], /job ids or --queue, not both/],
    [["logs", "base", "--follow", "--attempt", "1"], /--follow streams the current run/],
  ];
  for (const [args, pattern] of cases) {
    const result = await s.run(args);
    assert.equal(result.code, 2, `queuectl ${args.join(" ")}: ${result.stderr}`);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line for ${args.join(" ")}: ${result.stderr}`);
    assert.match(lines[0], pattern, args.join(" "));
  }
  const batch = [
    JSON.stringify({ id: "a", command: "true", after: ["b"] }),
    JSON.stringify({ id: "b", command: "true" }),
  ].join("\n");
  const later = await s.run(["enqueue", "--file", "-"], { stdin: batch });
  assert.equal(later.code, 2);
  assert.match(later.stderr, /"a" runs after "b", which comes later in the batch/);
  assert.equal(await snapshot(s), before, "nothing changed");
});

flowTest("wait: exit 0 when all completed, 1 otherwise, 1 on timeout", async (s) => {
  await s.ok(["config", "set", "poll-interval", "0.05"]);
  await s.ok(["enqueue", "-c", "true", "--id", "good"]);
  await s.ok(["enqueue", "-c", "exit 3", "--id", "bad", "--max-retries", "0"]);
  await s.ok(["enqueue", "-c", "true", "--id", "after-bad", "--after", "bad"]);
  const worker = s.spawn(["worker", "start", "--count", "2"]);
  try {
    const good = await s.run(["wait", "good"]);
    assert.deepEqual([good.code, good.stdout], [0, "All 1 job completed.\n"]);
    const mixed = await s.run(["wait", "good", "bad", "after-bad"]);
    assert.equal(mixed.code, 1);
    assert.equal(
      mixed.stdout,
      'bad: dead: exit code 3\nafter-bad: blocked behind dead job "bad"\n',
      "one line per job that did not complete",
    );
    const json = await s.run(["wait", "after-bad", "--json"]);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout).not_completed[0].blocked_by_dead, "bad");

    await s.ok(["enqueue", "-c", "sleep 30", "--id", "slow"]);
    const started = performance.now();
    const late = await s.run(["wait", "slow", "good", "--timeout", "1s"]);
    assert.equal(late.code, 1);
    assert.match(late.stdout, /^slow: still (pending|processing)\ntimed out after 1s\n$/);
    assert.ok(performance.now() - started < 20_000);
    await s.ok(["cancel", "slow"]);
    const all = await s.run(["wait"]);
    assert.deepEqual(
      [all.code, all.stdout],
      [1, 'after-bad: blocked behind dead job "bad"\n'],
      "every unfinished job: only the stuck one is left",
    );
    await s.ok(["cancel", "after-bad"]);
    const none = await s.run(["wait"]);
    assert.deepEqual([none.code, none.stdout], [0, "No unfinished jobs.\n"]);
    const missing = await s.run(["wait", "good", "ghost"]);
    assert.deepEqual([missing.code, missing.stderr], [1, 'error: No job with id "ghost"\n']);
  } finally {
    await s.run(["worker", "stop", "--timeout", "60s"]);
    await worker.done;
  }
});

flowTest("cancel cascades to blocked dependents, transitively, naming the cause", async (s) => {
  await s.ok(["enqueue", "-c", "true", "--id", "root", "--delay", "1h"]);
  await s.ok(["enqueue", "-c", "true", "--id", "mid", "--after", "root"]);
  await s.ok(["enqueue", "-c", "true", "--id", "leaf", "--after", "mid", "-q", "other"]);
  const out = await s.ok(["cancel", "root"]);
  assert.match(
    out,
    /^root: cancelled\nroot: also cancelled 2 blocked jobs that depended on it: mid, leaf\n$/,
  );
  const leaf = await s.json<ShownJob>(["show", "leaf"]);
  assert.deepEqual([leaf.state, leaf.last_error], ["cancelled", 'dependency "mid" was cancelled']);
  const late = await s.run(["enqueue", "-c", "true", "--after", "root"]);
  assert.equal(late.code, 2);
  assert.match(late.stderr, /cannot run after "root": it is cancelled; nothing was enqueued/);
});

flowTest("list says when it cut; status and queue list show blocked jobs and pauses", async (s) => {
  const jobs = Array.from(
    { length: 25 },
    (_, i) => JSON.stringify({ id: `j${i}`, command: "true" }),
  );
  await s.run(["enqueue", "--file", "-"], { stdin: jobs.join("\n") });
  await s.ok(["enqueue", "-c", "true", "--id", "waits", "--after", "j0", "-q", "later"]);
  const list = await s.ok(["list"]);
  assert.equal(list.trim().split("\n").length, 1 + 20 + 1);
  assert.match(list, /\nShowing 20 of 26 jobs; use --limit N or --all to see more\n$/);
  assert.match(
    await s.ok(["list", "--state", "pending", "--limit", "5"]),
    /Showing 5 of 25 pending jobs;/,
  );
  assert.doesNotMatch(await s.ok(["list", "--all"]), /Showing/);
  assert.doesNotMatch(await s.ok(["list", "--queue", "later"]), /Showing/);
  assert.equal((await s.json<unknown[]>(["list"])).length, 20, "--json is the rows only");

  await s.ok(["pause", "later"]);
  const status = await s.ok(["status"]);
  assert.match(status, /^blocked +1 +\(waiting for other jobs\)$/m);
  assert.match(status, /^paused +later$/m);
  await s.ok(["pause"]);
  assert.match(await s.ok(["status"]), /^paused +every queue, and new ones$/m);
  const queues = await s.json<
    { queues: { name: string; paused: boolean }[]; new_queues_paused: boolean }
  >(
    ["queue", "list"],
  );
  assert.deepEqual(queues.queues.map((q) => [q.name, q.paused]), [["default", true], [
    "later",
    true,
  ]]);
  assert.equal(queues.new_queues_paused, true);
  await s.ok(["resume"]);
  assert.match(await s.ok(["queue", "list"]), /^later +active +- +1 +0 /m);
});
