// When the reader of queuectl's output goes away (`queuectl list | head -1`,
// `queuectl worker start | head`), a plain Unix tool dies of SIGPIPE. Deno ignores SIGPIPE,
// so a write fails instead: a command stops quietly with exit code 1, and a supervisor stops
// gracefully (running jobs finish, nothing is lost) instead of dying with a stack trace.
import assert from "node:assert/strict";
import { cli, cliJson, MAIN, ndjson, PERMISSIONS, tempHome, unixTest, within } from "./helpers.ts";

function start(home: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: { QUEUECTL_HOME: home, NO_COLOR: "1", QUEUECTL_DB: "", INIT_CWD: Deno.cwd() },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

unixTest(
  "a command whose output is closed before it writes exits 1 and prints nothing",
  async () => {
    const { home, cleanup } = await tempHome();
    try {
      await cli(home, ["enqueue", "--file", "-"], { stdin: ndjson([{ command: "true" }]) });
      for (const args of [["list"], ["status"], ["show", "--json", "x"]]) {
        const child = start(home, args);
        await child.stdout.cancel(); // like `| head -0`: the reader is gone before any write
        const [status, stderr] = await Promise.all([child.status, text(child.stderr)]);
        if (args[0] === "show") {
          assert.equal(status.code, 1, "a missing id is still its own error");
          assert.match(stderr, /^error: /);
          continue;
        }
        assert.equal(status.code, 1, args.join(" "));
        assert.equal(stderr, "", args.join(" "));
      }
    } finally {
      await cleanup();
    }
  },
);

unixTest("worker start whose output is closed stops gracefully and loses no job", async () => {
  const { home, cleanup } = await tempHome();
  try {
    // 0.3 s jobs on 2 workers: 60 s of work, far more than the test needs on any machine.
    const jobs = Array.from({ length: 400 }, () => ({ command: "sleep 0.3" }));
    await cli(home, ["enqueue", "--file", "-"], { stdin: ndjson(jobs) });
    const child = start(home, ["worker", "start", "--count", "2", "--drain"]);
    const stderr = text(child.stderr);
    // Read until a job has started, then go away like `head` does.
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!/ started /.test(seen)) {
      const { value, done } = await reader.read();
      assert.ok(!done, `stdout ended early: ${seen}`);
      seen += value;
    }
    await reader.cancel();
    const status = await within("the supervisor to stop", child.status, 30_000);
    const err = await stderr;
    assert.equal(status.code, 0, err);
    assert.match(err, /its output was closed; stopping \(running jobs finish\)/);
    assert.doesNotMatch(err, /Uncaught|error:| {4}at /);
    // Every job either ran to completion once or never started.
    const listed = await cliJson<Record<string, unknown>[]>(home, ["list", "--all", "--json"]);
    const states = new Set(listed.map((job) => `${job.state}/${job.attempts}`));
    assert.deepEqual([...states].filter((s) => s !== "pending/0" && s !== "completed/1"), []);
    assert.ok(states.has("completed/1"), "the started jobs finished");
    assert.ok(states.has("pending/0"), "nothing new was claimed once it stopped");
  } finally {
    await cleanup();
  }
});
