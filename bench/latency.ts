/**
 * Latency: how soon an idle worker starts a new job, and how long the CLI
 * takes for the everyday commands and for a large batch enqueue.
 * @module
 */

import { openStore } from "../src/store/store.ts";
import { emptyScriptMs } from "./baselines.ts";
import {
  add,
  type Backend,
  backends,
  cliArgs,
  cliMedian,
  cliRun,
  enqueue,
  freshDb,
  jobs,
  median,
  N,
  percentile,
  quick,
  tmp,
} from "./lib.ts";

/** Idle worker: time from enqueue to the job's start, per job. */
async function pickup(backend: Backend, samples: number): Promise<number[]> {
  const db = freshDb(backend);
  const store = await openStore(db);
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["worker", "start", "--count", "1"]),
    env: { QUEUECTL_DB: db, QUEUECTL_HOME: tmp, NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const latencies: number[] = [];
  try {
    while ((await store.listWorkers()).filter((w) => w.kind === "worker").length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 0; i < samples; i++) {
      // Let the worker go idle (its wait loop), at a varying phase.
      await new Promise((resolve) => setTimeout(resolve, 80 + Math.random() * 70));
      const id = `p${i}`;
      const sent = Date.now();
      await store.enqueue([{ ...jobs(1)[0], id }]);
      let job = await store.getJob(id);
      while (job?.state === "pending") {
        await new Promise((resolve) => setTimeout(resolve, 2));
        job = await store.getJob(id);
      }
      latencies.push(job!.startedAt! - sent);
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await store.close();
  }
  return latencies;
}

/** Idle pickup p50 and p95 on every backend. */
export async function pickupRows(): Promise<void> {
  for (const backend of backends) {
    const latencies = await pickup(backend, N.pickup);
    const p50 = percentile(latencies, 50);
    const limit = backend === "sqlite" ? 20 : 10;
    add({
      name: `${backend}: idle pickup latency p50`,
      value: p50,
      unit: "ms",
      target: `≤ ${limit}`,
      ok: p50 <= limit,
    });
    add({
      name: `${backend}: idle pickup latency p95`,
      value: percentile(latencies, 95),
      unit: "ms",
    });
  }
}

/** Batch enqueue through the CLI, and `status`, `enqueue -c`, `list` against `deno run` of nothing. */
export async function cliRows(): Promise<void> {
  const emptyMs = await emptyScriptMs();
  add({ name: "deno run, empty script", value: emptyMs, unit: "ms" });
  const text = new TextEncoder().encode(
    jobs(N.batch, "true", "b").map((j) => JSON.stringify({ id: j.id, command: j.command })).join(
      "\n",
    ),
  );
  const times: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    times.push(await cliRun(freshDb("sqlite"), ["enqueue", "--file", "-"], text));
  }
  const rate = N.batch / (median(times) / 1000);
  add({
    name: `sqlite: enqueue --file of ${N.batch} jobs (whole CLI run)`,
    value: rate,
    unit: "jobs/s",
    target: "≥ 100,000",
    ok: rate >= 100_000,
  });
  const db = freshDb("sqlite");
  await enqueue(db, jobs(1000));
  for (const args of [["status"], ["enqueue", "-c", "true"], ["list", "--limit", "20"]]) {
    const ms = await cliMedian(db, args);
    add({
      name: `sqlite: queuectl ${args.join(" ")} (median of ${N.cli})`,
      value: ms,
      unit: "ms",
      baseline: { name: "empty script", value: emptyMs },
      ratio: emptyMs / ms,
      target: "≤ 3× (ratio ≥ 0.33)",
      ok: ms <= 3 * emptyMs,
    });
  }
}
