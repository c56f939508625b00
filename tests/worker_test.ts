// The worker runtime with real supervisors, worker processes and shells (issue: worker runtime).
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cli,
  cliJson,
  processesMatching,
  spawnCli,
  tempHome,
  unixOnly,
  waitFor,
} from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false, ...unixOnly };

interface JobJson {
  id: string;
  state: string;
  attempts: number;
  exit_code: number | null;
  last_error: string | null;
  worker: string | null;
  history: {
    attempt: number;
    started_at: string;
    finished_at: string | null;
    worker: string;
    outcome: string;
  }[];
}

async function enqueue(home: string, ...args: string[]): Promise<string> {
  const result = await cli(home, ["enqueue", ...args]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

async function show(home: string, id: string): Promise<JobJson> {
  return await cliJson<JobJson>(home, ["show", id]);
}

async function config(home: string, key: string, value: string) {
  assert.equal((await cli(home, ["config", "set", key, value])).code, 0);
}

async function drain(home: string, count = 2): Promise<string> {
  const run = spawnCli(home, ["worker", "start", "--count", String(count), "--drain"]);
  const code = await run.done;
  assert.equal(code, 0, run.output());
  return run.output();
}

Deno.test({
  name: "worker: 500 jobs on 4 workers each run exactly once",
  // On every OS: only the command is the platform's.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      // cmd.exe's >> is not an atomic append, so on Windows each job appends to a file of its own.
      const windows = Deno.build.os === "windows";
      const file = join(home, "ran.txt");
      const dir = join(home, "ran");
      await Deno.mkdir(dir);
      const command = windows
        ? `echo %QUEUECTL_JOB_ID%>> "${dir}\\%QUEUECTL_JOB_ID%.txt"`
        : `echo $QUEUECTL_JOB_ID >> ${file}`;
      const jobs = Array.from({ length: 500 }, (_, i) => ({ id: `j${i}`, command }));
      assert.equal(
        (await cli(home, ["enqueue", "--file", "-"], { stdin: JSON.stringify(jobs) })).code,
        0,
      );
      await drain(home, 4);
      const texts = windows
        ? await Promise.all(
          (await Array.fromAsync(Deno.readDir(dir))).map((entry) =>
            Deno.readTextFile(join(dir, entry.name))
          ),
        )
        : [await Deno.readTextFile(file)];
      const ran = texts.flatMap((text) => text.trim().split(/\r?\n/));
      assert.equal(ran.length, 500, "500 runs in all");
      assert.equal(new Set(ran).size, 500, "no job ran twice");
      const status = await cliJson<{ jobs: Record<string, number> }>(home, ["status"]);
      assert.equal(status.jobs.completed, 500);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name:
    "worker: a failing job backs off, dies after max_retries + 1 runs, and dlq retry revives it",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await config(home, "backoff-base", "1.5");
      await config(home, "poll-interval", "0.05");
      await enqueue(home, "-c", "exit 3", "--id", "three", "--max-retries", "2");
      const log = await drain(home, 1);
      assert.match(log, /dead +three after 3 attempts: exit code 3/);
      const job = await show(home, "three");
      assert.equal(job.state, "dead");
      assert.equal(job.attempts, 3);
      assert.equal(job.exit_code, 3);
      assert.match(job.last_error ?? "", /exit code 3/);
      const starts = job.history.map((a) => Date.parse(a.started_at));
      const ends = job.history.map((a) => Date.parse(a.finished_at!));
      for (const k of [1, 2]) {
        const gap = (starts[k] - ends[k - 1]) / 1000;
        const backoff = 1.5 ** k;
        assert.ok(gap >= backoff - 0.01, `gap ${gap}s after failure ${k} is at least ${backoff}s`);
        assert.ok(
          gap < backoff + 1.5,
          `gap ${gap}s after failure ${k} is not far past ${backoff}s`,
        );
      }
      assert.equal((await cli(home, ["dlq", "list"])).stdout.includes("three"), true);
      assert.equal((await cli(home, ["dlq", "retry", "three"])).code, 0);
      const back = await show(home, "three");
      assert.equal(back.state, "pending");
      assert.equal(back.attempts, 0);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: a timeout kills the job's whole process tree",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const marker = `31.${Math.floor(Math.random() * 1e6)}`;
    try {
      await enqueue(
        home,
        "-c",
        `sleep ${marker} & sleep ${marker}; wait`,
        "--id",
        "slow",
        "--timeout",
        "1",
        "--max-retries",
        "0",
      );
      const started = Date.now();
      await drain(home, 1);
      assert.ok(Date.now() - started < 15_000, "dead within a few seconds");
      const job = await show(home, "slow");
      assert.equal(job.state, "dead");
      assert.match(job.last_error ?? "", /timed out after 1(\.0)?s/);
      assert.deepEqual(await processesMatching(marker), [], "no sleep survives");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: a missing command fails cleanly and the same worker runs the next job",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await enqueue(
        home,
        "-c",
        "no_such_command_q1",
        "--id",
        "missing",
        "--max-retries",
        "0",
        "--priority",
        "2",
      );
      await enqueue(home, "-c", "echo fine", "--id", "next", "--priority", "1");
      await config(home, "shell", "/no/such/shell/bash");
      await enqueue(home, "-c", "true", "--id", "placeholder", "--priority", "-5");
      await config(home, "shell", "default");
      const log = await drain(home, 1);
      const missing = await show(home, "missing");
      const next = await show(home, "next");
      assert.equal(missing.state, "dead");
      assert.match(missing.last_error ?? "", /command not found/);
      assert.equal(next.state, "completed");
      assert.equal(missing.history[0].worker, next.history[0].worker, "the worker survived");
      assert.doesNotMatch(log, /worker exited/);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: an unusable shell or directory is a failed run with a clear error",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await enqueue(
        home,
        "-c",
        "true",
        "--id",
        "nodir",
        "--cwd",
        `${home}/gone`,
        "--max-retries",
        "0",
      );
      await config(home, "shell", "/no/such/bash");
      await enqueue(home, "-c", "true", "--id", "noshell", "--max-retries", "0");
      await drain(home, 1);
      assert.match(
        (await show(home, "nodir")).last_error ?? "",
        /working directory not found: .*gone/,
      );
      assert.match(
        (await show(home, "noshell")).last_error ?? "",
        /could not start \/no\/such\/bash: not found/,
      );
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: jobs get their id, attempt and directory",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await Deno.mkdir(`${home}/work`);
      const id = await enqueue(
        home,
        "-c",
        'echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $(pwd)"',
        "--cwd",
        `${home}/work`,
      );
      await drain(home, 1);
      const logs = await cli(home, ["logs", id]);
      assert.equal(logs.stdout, `${id} 1 ${await Deno.realPath(`${home}/work`)}\n`);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: priority first, then run time; a delayed job waits",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const file = `${home}/order.txt`;
      await config(home, "poll-interval", "0.05");
      // One batch, so every job has the same enqueue time however loaded the machine is.
      const jobs = [
        { id: "low" },
        { id: "later", delay: 1.5, priority: 9 },
        { id: "high", priority: 5 },
        { id: "mid", priority: 1 },
      ].map((job) => JSON.stringify({ ...job, command: `echo ${job.id} >> ${file}` }));
      assert.equal(
        (await cli(home, ["enqueue", "--file", "-"], { stdin: jobs.join("\n") })).code,
        0,
      );
      await drain(home, 1);
      assert.deepEqual((await Deno.readTextFile(file)).trim().split("\n"), [
        "high",
        "mid",
        "low",
        "later",
      ]);
      const later = await cliJson<{ run_at: string; history: { started_at: string }[] }>(home, [
        "show",
        "later",
      ]);
      assert.ok(
        Date.parse(later.history[0].started_at) >= Date.parse(later.run_at),
        "the delayed job waited",
      );
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: output over 1 MiB keeps the tail and the worker's memory stays bounded",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      // 64 MiB of output through one job, over a couple of seconds so memory can be sampled.
      const id = await enqueue(
        home,
        "-c",
        "for i in $(seq 64); do head -c 1048576 /dev/zero | tr '\\0' 'a'; sleep 0.02; done; echo END",
      );
      const run = spawnCli(home, ["worker", "start", "--count", "1", "--drain"]);
      const worker = await waitFor("the worker to take the job", async () => {
        const workers = await cliJson<{ pid: number; current_job: string | null }[]>(home, [
          "worker",
          "list",
        ]);
        return workers.find((w) => w.current_job === id);
      });
      let peakKb = 0;
      while ((await show(home, id)).state === "processing") {
        const ps = await new Deno.Command("ps", {
          args: ["-o", "rss=", "-p", String(worker.pid)],
          stdout: "piped",
        })
          .output();
        peakKb = Math.max(peakKb, Number(new TextDecoder().decode(ps.stdout).trim()) || 0);
      }
      assert.equal(await run.done, 0);
      const logs = await cli(home, ["logs", id]);
      const text = logs.stdout;
      assert.match(text, /^\[queuectl: \d+ earlier bytes cut; the last 1048576 are kept\]\n/);
      assert.ok(text.endsWith("aaaaEND\n"), "the tail is kept");
      assert.equal(text.length - text.indexOf("\n") - 1, 1024 * 1024);
      assert.ok(peakKb > 0, "the worker's memory was sampled");
      assert.ok(
        peakKb < 200 * 1024,
        `worker RSS ${peakKb} kB stays far below the 64 MiB of output times two`,
      );
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: kill -9 of a worker mid-job: the supervisor restarts it and the job runs again",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const marker = `32.${Math.floor(Math.random() * 1e6)}`;
    try {
      const id = await enqueue(
        home,
        "-c",
        `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then sleep ${marker}; fi; echo ok`,
        "--max-retries",
        "2",
      );
      await config(home, "backoff-base", "1");
      const run = spawnCli(home, ["worker", "start", "--count", "1"]);
      try {
        const worker = await waitFor("the worker to take the job", async () => {
          const workers = await cliJson<{ pid: number; current_job: string | null }[]>(home, [
            "worker",
            "list",
          ]);
          return workers.find((w) => w.current_job === id);
        });
        await waitFor("the job's sleep", async () => (await processesMatching(marker)).length > 0);
        Deno.kill(worker.pid, "SIGKILL");
        const job = await waitFor("the job to complete", async () => {
          const job = await show(home, id);
          return job.state === "completed" ? job : null;
        });
        assert.equal(job.attempts, 2);
        assert.match(job.history[0].outcome, /lost/);
        assert.deepEqual(
          await processesMatching(marker),
          [],
          "the lost run's process tree was killed",
        );
        assert.match(run.output(), /worker exited \(killed by SIGKILL\); restarting/);
        const workers = await cliJson<{ kind: string }[]>(home, ["worker", "list"]);
        assert.equal(
          workers.filter((w) => w.kind === "worker").length,
          1,
          "the worker count is restored",
        );
      } finally {
        assert.equal((await cli(home, ["worker", "stop"])).code, 0);
        assert.equal(await run.done, 0);
      }
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name:
    "worker: kill -9 of a supervisor and its workers (a crashed machine): a new worker start recovers the job after the lease",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await config(home, "lease-timeout", "2");
      await config(home, "backoff-base", "1");
      const id = await enqueue(home, "-c", `[ "$QUEUECTL_ATTEMPT" = 1 ] && sleep 3; echo done`);
      const first = spawnCli(home, ["worker", "start", "--count", "1"], { detached: true });
      await waitFor("the job to start", async () => (await show(home, id)).state === "processing");
      // Workers lead their own process groups, with their jobs inside.
      const workers = await cliJson<{ pid: number; kind: string }[]>(home, ["worker", "list"]);
      Deno.kill(-first.child.pid, "SIGKILL");
      for (const w of workers.filter((w) => w.kind === "worker")) Deno.kill(-w.pid, "SIGKILL");
      await first.done;
      const second = spawnCli(home, ["worker", "start", "--count", "1", "--drain"]);
      assert.equal(await second.done, 0, second.output());
      const job = await show(home, id);
      assert.equal(job.state, "completed");
      assert.equal(job.attempts, 2);
      assert.match(job.history[0].outcome, /lost/);
      assert.match(second.output(), /worker lost \(lease expired\)/);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: worker stop lets the running job finish and claims nothing new",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const id = await enqueue(home, "-c", "sleep 2; echo finished", "--priority", "1");
      const waiting = await enqueue(home, "-c", "echo never");
      const run = spawnCli(home, ["worker", "start", "--count", "1"]);
      await waitFor("the job to start", async () => (await show(home, id)).state === "processing");
      const stop = await cli(home, ["worker", "stop"]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /All workers stopped/);
      assert.equal(await run.done, 0, "the supervisor exits 0");
      assert.equal((await show(home, id)).state, "completed", "the running job finished");
      assert.equal((await show(home, waiting)).state, "pending", "nothing new was claimed");
      assert.equal((await cli(home, ["worker", "stop"])).stdout.trim(), "No workers are running.");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: SIGTERM stops gracefully; cancel of a running job kills its tree",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const marker = `33.${Math.floor(Math.random() * 1e6)}`;
    try {
      const id = await enqueue(home, "-c", `sleep ${marker} & sleep ${marker}; wait`);
      const run = spawnCli(home, ["worker", "start", "--count", "1"]);
      await waitFor("the job's sleeps", async () => (await processesMatching(marker)).length >= 2);
      const cancel = await cli(home, ["cancel", id]);
      assert.equal(cancel.code, 0, cancel.stderr);
      await waitFor(
        "the tree to be killed",
        async () => (await processesMatching(marker)).length === 0,
      );
      assert.equal((await show(home, id)).state, "cancelled");
      await waitFor(
        "the supervisor to log it",
        () => /cancelled .*process tree killed/.test(run.output()),
      );
      run.child.kill("SIGTERM");
      assert.equal(await run.done, 0);
      assert.match(run.output(), /supervisor stopped/);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "worker: --detach runs in the background with a log file until worker stop",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const start = await cli(home, ["worker", "start", "--detach", "--count", "2"]);
      assert.equal(start.code, 0, start.stderr);
      const pid = Number(start.stdout.trim());
      assert.ok(pid > 0);
      const id = await enqueue(home, "-c", "echo detached");
      await waitFor(
        "the job to complete",
        async () => (await show(home, id)).state === "completed",
      );
      const workers = await cliJson<{ kind: string; pid: number }[]>(home, ["worker", "list"]);
      assert.equal(workers.filter((w) => w.kind === "worker").length, 2);
      assert.ok(workers.some((w) => w.kind === "supervisor" && w.pid === pid));
      assert.equal((await cli(home, ["worker", "stop"])).code, 0);
      const log = await Deno.readTextFile(`${home}/worker.log`);
      assert.match(log, new RegExp(`completed ${id}`));
      assert.match(log, /supervisor stopped/);
    } finally {
      await cleanup();
    }
  },
});
