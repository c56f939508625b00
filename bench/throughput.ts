/**
 * Throughput: `true` jobs end to end through `worker start --drain` against
 * the machine's spawn rate, the queue's own cost with no process run, and the
 * memory a supervisor and a worker use.
 * @module
 */

import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/store.ts";
import { PERMISSION_FLAGS } from "../src/worker/self_command.ts";
import { spawnRate } from "./baselines.ts";
import {
  add,
  type Backend,
  backends,
  cliArgs,
  CONFIG,
  enqueue,
  freshDb,
  jobs,
  N,
  tmp,
} from "./lib.ts";

const CLAIM_LOOP = fileURLToPath(new URL("./claim_loop.ts", import.meta.url));

/** Runs `worker start --count N --drain` on `count` `true` jobs; rate from first start to last finish. */
export async function endToEnd(
  backend: Backend,
  workers: number,
  count: number,
  sampleMemory = false,
) {
  const db = freshDb(backend);
  await enqueue(db, jobs(count));
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["worker", "start", "--count", String(workers), "--drain"]),
    env: { QUEUECTL_DB: db, QUEUECTL_HOME: tmp, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Sampling spawns ps ten times a second: never during a timed run.
  const peaks = new Map<number, number>();
  const sampler = sampleMemory && setInterval(async () => {
    const ps = await new Deno.Command("ps", {
      args: ["-o", "pid=,ppid=,rss=", "-e"],
      stdout: "piped",
    }).output();
    for (const line of new TextDecoder().decode(ps.stdout).trim().split("\n")) {
      const [pid, ppid, rss] = line.trim().split(/\s+/).map(Number);
      if (pid === child.pid || ppid === child.pid) {
        peaks.set(pid, Math.max(peaks.get(pid) ?? 0, rss));
      }
    }
  }, 100);
  const out = await child.output();
  if (sampler) clearInterval(sampler);
  if (!out.success) throw new Error(`worker start failed: ${new TextDecoder().decode(out.stderr)}`);
  const store = await openStore(db);
  const all = await store.listJobs({ limit: count });
  await store.close();
  if (all.some((job) => job.state !== "completed")) throw new Error("not every job completed");
  const first = Math.min(...all.map((job) => job.startedAt!));
  const last = Math.max(...all.map((job) => job.finishedAt!));
  const supervisorKb = peaks.get(child.pid) ?? 0;
  const workerKb = Math.max(
    0,
    ...[...peaks].filter(([pid]) => pid !== child.pid).map(([, kb]) => kb),
  );
  return { rate: count / ((last - first) / 1000), supervisorKb, workerKb };
}

/** claim + complete per second with no process run: in-process, or `procs` processes contending. */
export async function overhead(backend: Backend, procs: number, count: number): Promise<number> {
  const db = freshDb(backend);
  await enqueue(db, jobs(count));
  const outputs = await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...PERMISSION_FLAGS, "--config", CONFIG, CLAIM_LOOP, db, `bench-${i}`],
        stdout: "piped",
      }).output()),
  );
  const results = outputs.map((o) =>
    JSON.parse(new TextDecoder().decode(o.stdout)) as { claimed: number; ms: number }
  );
  const claimed = results.reduce((sum, r) => sum + r.claimed, 0);
  if (claimed !== count) throw new Error(`claimed ${claimed} of ${count}`);
  return claimed / (Math.max(...results.map((r) => r.ms)) / 1000);
}

/** End-to-end rows at --count 1, 2 and 4 on every backend, and the overhead rows. */
export async function throughput(): Promise<void> {
  for (const backend of backends) {
    for (const workers of [1, 2, 4]) {
      const baseline = await spawnRate(workers);
      const result = await endToEnd(backend, workers, N.e2e);
      const ratio = result.rate / baseline;
      add({
        name: `${backend}: end-to-end ${N.e2e} true jobs, --count ${workers}`,
        value: result.rate,
        unit: "jobs/s",
        baseline: { name: `spawn p${workers}`, value: baseline },
        ratio,
        target: workers === 2 ? "≥ 0.90" : undefined,
        ok: workers === 2 ? ratio >= 0.9 : undefined,
      });
    }
    const inProcess = await overhead(backend, 1, N.overhead);
    add({
      name: `${backend}: queue overhead, claim+complete, 1 process`,
      value: inProcess,
      unit: "jobs/s",
    });
    for (const procs of backend === "postgres" ? [4, 8] : [2, 4]) {
      add({
        name: `${backend}: queue overhead, ${procs} processes contending`,
        value: await overhead(backend, procs, N.overhead),
        unit: "jobs/s",
      });
    }
  }
}

/** Peak RSS in a run of its own: sampling spawns ps ten times a second. */
export async function memory(): Promise<void> {
  const result = await endToEnd("sqlite", 2, Math.min(N.e2e, 500), true);
  add({
    name: "sqlite: peak RSS, supervisor (--count 2 run)",
    value: result.supervisorKb / 1024,
    unit: "MiB",
  });
  add({
    name: "sqlite: peak RSS, one worker (--count 2 run)",
    value: result.workerKb / 1024,
    unit: "MiB",
  });
}
