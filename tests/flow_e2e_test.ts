// Flow control end to end with real supervisors, worker processes and shells on both
// backends (issue 10): concurrency limits across supervisors, pause/resume, a chain
// with a dead middle job, and logs --follow from another process.
import assert from "node:assert/strict";
import { waitFor } from "./helpers.ts";
import { flowTest, type ShownJob } from "./flow_helpers.ts";

flowTest(
  "a queue with concurrency 1 never runs two jobs at once under 2 supervisors",
  async (s) => {
    await s.ok(["config", "set", "poll-interval", "0.05"]);
    await s.ok(["queue", "set", "solo", "--concurrency", "1"]);
    const log = `${s.home}/runs.txt`;
    // Each job writes its own start and end time (ns) around a short sleep.
    const command = `echo "$QUEUECTL_JOB_ID start $(date +%s%N)" >> ${log}; sleep 0.15; ` +
      `echo "$QUEUECTL_JOB_ID end $(date +%s%N)" >> ${log}`;
    const jobs = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, command, queue: "solo" }));
    // Unlimited work beside it, timed the same way: these do run side by side, so workers
    // were free to take solo jobs at once; only the limit kept them apart.
    const freeLog = `${s.home}/free.txt`;
    const free = Array.from({ length: 12 }, (_, i) => ({
      id: `f${i}`,
      command: command.replaceAll(log, freeLog).replace("sleep 0.15", "sleep 0.3"),
    }));
    const file = [...jobs, ...free].map((job) => JSON.stringify(job)).join("\n");
    assert.equal((await s.run(["enqueue", "--file", "-"], { stdin: file })).code, 0);
    const supervisors = [1, 2].map(() => s.spawn(["worker", "start", "--count", "2", "--drain"]));
    const codes = await Promise.all(supervisors.map((run) => run.done));
    assert.deepEqual(codes, [0, 0], supervisors.map((run) => run.output()).join("\n"));

    const solo = await intervals(log);
    assert.equal(solo.length, 12, "every solo job ran once");
    for (let i = 1; i < solo.length; i++) {
      assert.ok(
        solo[i].start >= solo[i - 1].end,
        `solo run ${i} started before run ${i - 1} ended`,
      );
    }
    const side = await intervals(freeLog);
    assert.ok(
      side.some((run, i) => i > 0 && run.start < side[i - 1].end),
      "unlimited jobs ran side by side",
    );
    const status = await s.json<{ jobs: Record<string, number> }>(["status"]);
    assert.equal(status.jobs.completed, 24);
  },
);

/** Runs as the jobs logged them ("<id> start|end <ns>" lines), by start time. */
async function intervals(file: string): Promise<{ start: bigint; end: bigint }[]> {
  const runs = new Map<string, { start: bigint; end: bigint }>();
  for (const line of (await Deno.readTextFile(file)).trim().split("\n")) {
    const [id, what, ns] = line.split(" ");
    const run = runs.get(id) ?? { start: 0n, end: 0n };
    run[what as "start" | "end"] = BigInt(ns);
    runs.set(id, run);
  }
  return [...runs.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
}

flowTest("a paused queue claims nothing while another runs, and runs after resume", async (s) => {
  await s.ok(["config", "set", "poll-interval", "0.05"]);
  await s.ok(["pause", "held"]);
  for (let i = 0; i < 3; i++) await s.ok(["enqueue", "-c", "true", "--id", `h${i}`, "-q", "held"]);
  const worker = s.spawn(["worker", "start", "--count", "2"]);
  try {
    // Keep the other queue busy for several seconds, however fast the machine.
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 3000) {
      await s.ok(["enqueue", "-c", "sleep 0.1", "--id", `b${n++}`, "-q", "busy"]);
    }
    await waitFor("the busy queue to empty", async () => {
      const queues = await s.json<{ queues: { name: string; jobs: Record<string, number> }[] }>(
        ["queue", "list"],
      );
      const busy = queues.queues.find((q) => q.name === "busy")!;
      return busy.jobs.completed === n;
    });
    for (let i = 0; i < 3; i++) {
      const job = await s.json<ShownJob>(["show", `h${i}`]);
      assert.deepEqual([job.state, job.attempts], ["pending", 0], `h${i} was never claimed`);
    }
    const status = await s.ok(["status"]);
    assert.match(status, /paused +held/);
    await s.ok(["resume", "held"]);
    await waitFor("the resumed queue to run", async () => {
      const list = await s.json<{ state: string }[]>(["list", "--queue", "held"]);
      return list.every((job) => job.state === "completed");
    });
  } finally {
    await s.run(["worker", "stop", "--timeout", "60s"]);
    await worker.done;
  }
});

flowTest(
  "a chain of 3 whose middle job dies stays blocked, then completes after dlq retry",
  async (s) => {
    const flag = `${s.home}/ready`;
    await s.ok(["enqueue", "-c", "true", "--id", "one"]);
    await s.ok([
      "enqueue",
      "-c",
      `test -f ${flag}`,
      "--id",
      "two",
      "--after",
      "one",
      "--max-retries",
      "0",
    ]);
    await s.ok(["enqueue", "-c", "true", "--id", "three", "--after", "two"]);
    assert.equal((await s.json<ShownJob>(["show", "three"])).state, "blocked");
    const first = s.spawn(["worker", "start", "--count", "2", "--drain"]);
    assert.equal(await first.done, 0, first.output());
    assert.deepEqual(
      await Promise.all(
        ["one", "two", "three"].map(async (id) => (await s.json<ShownJob>(["show", id])).state),
      ),
      ["completed", "dead", "blocked"],
    );
    const three = await s.json<ShownJob>(["show", "three"]);
    assert.equal(three.blocked_by_dead, "two", "show says which dependency it waits for");
    assert.match(await s.ok(["show", "three"]), /waiting for two \(dead\)/);

    await Deno.writeTextFile(flag, "");
    await s.ok(["dlq", "retry", "two"]);
    const second = s.spawn(["worker", "start", "--count", "2", "--drain"]);
    assert.equal(await second.done, 0, second.output());
    assert.equal((await s.json<ShownJob>(["show", "three"])).state, "completed");
    assert.equal((await s.run(["wait", "one", "two", "three"])).code, 0);
  },
);

flowTest(
  "logs --follow from another process shows a 2 s job's first line before it ends",
  async (s) => {
    await s.ok(["config", "set", "poll-interval", "0.05"]);
    await s.ok([
      "enqueue",
      "-c",
      "echo first; sleep 2; echo second; echo done >&2",
      "--id",
      "talk",
    ]);
    const follow = s.spawn(["logs", "talk", "--follow"]); // waits for the job to start
    const worker = s.spawn(["worker", "start", "--count", "1", "--drain"]);
    try {
      const seen: Record<string, number> = {};
      await waitFor("both lines", () => {
        const text = follow.output();
        for (const line of ["first", "second"]) if (text.includes(line)) seen[line] ??= Date.now();
        return seen.second !== undefined;
      }, 60_000);
      assert.ok(seen.first <= seen.second);
      assert.ok(
        seen.second - seen.first >= 1000,
        `the first line came ${seen.second - seen.first} ms before the second, not with it`,
      );
      assert.equal(await follow.done, 0, "the run completed");
      assert.equal(follow.output(), "first\nsecond\ndone\n");
    } finally {
      assert.equal(await worker.done, 0, worker.output());
    }
    await s.ok(["enqueue", "-c", "echo bye; exit 4", "--id", "sad", "--max-retries", "0"]);
    const sad = s.spawn(["logs", "sad", "--follow"]);
    const again = s.spawn(["worker", "start", "--count", "1", "--drain"]);
    assert.equal(await sad.done, 1, "a run that fails ends --follow with exit 1");
    assert.equal(sad.output(), "bye\n");
    assert.equal(await again.done, 0);
  },
);
