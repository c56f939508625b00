// Real worker processes on Windows: killing job trees (taskkill /T /F) on timeout and cancel,
// stopping through the database (no signals), --count N --drain exits, a worker killed with
// taskkill /F, and the dashboard on 127.0.0.1.
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, cliJson, spawnCli, tempHome, waitFor, within } from "../helpers.ts";
import {
  drain,
  enqueue,
  kill,
  pingFor,
  running,
  show,
  taskkill,
  untilFlag,
  windowsOnly,
} from "./win.ts";

/** Waits until job `id` is processing and its ping.exe is running. */
async function untilPinging(home: string, id: string): Promise<void> {
  await waitFor(`${id} to run`, async () => (await show(home, id)).state === "processing", 120_000);
  await waitFor("ping.exe to run", async () => (await running("PING.EXE")).length > 0, 120_000);
}

Deno.test({
  name: "windows: a timeout kills the job's whole tree, leaving no ping behind",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await enqueue(
        home,
        "-c",
        pingFor(30),
        "--id",
        "slow",
        "--timeout",
        "1",
        "--max-retries",
        "0",
      );
      await within("the drain", drain(home, 1), 120_000);
      const job = await show(home, "slow");
      const run = job.history[0];
      const seconds = (Date.parse(run.finished_at!) - Date.parse(run.started_at)) / 1000;
      assert.ok(seconds < 15, `the run ended ${seconds} s after it started, long before 30 s`);
      assert.equal(job.state, "dead");
      assert.equal(job.last_error, "timed out after 1s (process tree killed)");
      assert.deepEqual(await running("PING.EXE"), []);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: cancel kills a running job's tree; worker stop then ends the supervisor",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const supervisor = spawnCli(home, ["worker", "start"]);
    try {
      await enqueue(home, "-c", pingFor(30), "--id", "victim", "--cwd", home);
      await untilPinging(home, "victim");
      assert.equal((await cli(home, ["cancel", "victim"])).code, 0);
      const gone = async () => (await running("PING.EXE")).length === 0;
      await waitFor("the tree to be gone", gone, 60_000);
      await waitFor("cancelled", async () => (await show(home, "victim")).state === "cancelled");
      assert.equal((await cli(home, ["worker", "stop", "--timeout", "2m"])).code, 0);
      assert.equal(await within("the supervisor", supervisor.done, 60_000), 0);
    } finally {
      kill(supervisor.child);
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: worker stop while jobs run lets them finish, with no signal sent",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const supervisor = spawnCli(home, ["worker", "start", "--count", "2"]);
    try {
      const flag = join(home, "go");
      const command = await untilFlag(home, flag);
      for (const id of ["s1", "s2"]) await enqueue(home, "-c", command, "--id", id, "--cwd", home);
      await waitFor("both jobs to run", async () => {
        const jobs = await cliJson<{ state: string }[]>(home, ["list", "--state", "processing"]);
        return jobs.length === 2;
      }, 120_000);
      const stop = spawnCli(home, ["worker", "stop"]);
      await waitFor("the supervisor to stop gracefully", () => {
        return supervisor.output().includes("stopping (worker stop)");
      }, 60_000);
      assert.equal((await show(home, "s1")).state, "processing", "running jobs are not cut");
      await Deno.writeTextFile(flag, "");
      assert.equal(await within("worker stop", stop.done, 120_000), 0, stop.output());
      assert.match(stop.output(), /All workers stopped/);
      assert.equal(await within("the supervisor", supervisor.done, 60_000), 0);
      assert.match(supervisor.output(), /stopping \(worker stop\)/);
      for (const id of ["s1", "s2"]) {
        assert.equal((await show(home, id)).state, "completed");
        assert.equal((await cli(home, ["logs", id])).stdout, "finished\r\n");
      }
    } finally {
      kill(supervisor.child);
      await cleanup();
    }
  },
});

for (const count of [1, 2, 4, 8]) {
  Deno.test({
    name: `windows: worker start --count ${count} --drain exits once the queue is empty`,
    ...windowsOnly,
    fn: async () => {
      const { home, cleanup } = await tempHome();
      try {
        const jobs = Array.from({ length: 2 * count }, (_, i) => ({
          id: `d${i}`,
          command: "echo %QUEUECTL_JOB_ID%",
          cwd: home,
        }));
        const batch = await cli(home, ["enqueue", "--file", "-"], { stdin: JSON.stringify(jobs) });
        assert.equal(batch.code, 0, batch.stderr);
        const output = await within(`--count ${count} --drain`, drain(home, count), 120_000);
        assert.match(output, /supervisor stopped/);
        const status = await cliJson<{ jobs: Record<string, number> }>(home, ["status"]);
        assert.equal(status.jobs.completed, 2 * count, output);
      } finally {
        await cleanup();
      }
    },
  });
}

Deno.test({
  name: "windows: a worker killed with taskkill /F is restarted and its job failed as lost",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const supervisor = spawnCli(home, ["worker", "start"]);
    const pings: number[] = [];
    try {
      // Runs until killed, and is not retried (a retry would run on until the stop's timeout).
      // Its ping.exe, 1 s at a time, can outlive the killed worker (seen under Wine).
      const command = await untilFlag(home, join(home, "never"));
      await enqueue(home, "-c", command, "--id", "orphan", "--cwd", home, "--max-retries", "0");
      await untilPinging(home, "orphan");
      for (const pid of await running("PING.EXE")) pings.push(pid);
      const workers = await cliJson<{ id: string; kind: string; pid: number }[]>(home, [
        "worker",
        "list",
      ]);
      const worker = workers.find((w) => w.kind === "worker")!;
      assert.ok(await taskkill(worker.pid), "taskkill /F");
      await waitFor("the job to be failed as lost", async () => {
        const job = await show(home, "orphan");
        return job.state === "dead" && /^worker lost/.test(job.last_error ?? "") && job;
      }, 120_000);
      await waitFor("a new worker", async () => {
        const now = await cliJson<{ id: string; kind: string }[]>(home, ["worker", "list"]);
        return now.some((w) => w.kind === "worker" && w.id !== worker.id);
      }, 120_000);
      assert.match(supervisor.output(), /worker exited \(exit code \d+\); restarting/);
      const stop = await cli(home, ["worker", "stop", "--timeout", "2m"]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(await within("the supervisor", supervisor.done, 60_000), 0);
    } finally {
      kill(supervisor.child);
      for (const pid of pings) await taskkill(pid);
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: the dashboard answers on 127.0.0.1",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    await enqueue(home, "-c", "echo hi", "--id", "one");
    const dashboard = spawnCli(home, ["dashboard", "--port", "0"]);
    try {
      // The printed URL carries the token the dashboard requires (and keeps in dashboard.token).
      const url = await waitFor("the dashboard's URL", () => {
        return dashboard.output().match(/(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/)?.[1];
      }, 60_000);
      const token = new URL(url).searchParams.get("token")!;
      assert.equal((await Deno.readTextFile(`${home}\\dashboard.token`)).trim(), token);
      const denied = await fetch(new URL("/api/status", url));
      assert.equal(denied.status, 401, "no token, no answer");
      await denied.body?.cancel();
      const status = await (await fetch(new URL("/api/status", url), {
        headers: { authorization: `Bearer ${token}` },
      })).json();
      assert.equal(status.jobs.pending, 1);
      const page = await fetch(url);
      assert.match(await page.text(), /<title>queuectl dashboard<\/title>/);
    } finally {
      kill(dashboard.child);
      await dashboard.done;
      await cleanup();
    }
  },
});
