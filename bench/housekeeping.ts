/**
 * Housekeeping: how long claims wait while a purge of a million finished jobs
 * runs (SPEC §10: "small batches that never hold the write lock long"), and a
 * soak of steady enqueue and run under `retain-completed 5s` whose database
 * must stop growing.
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/store.ts";
import { add, cliArgs, cliRun, freshDb, jobs, quick, tmp } from "./lib.ts";
import { PERMISSION_FLAGS } from "../src/worker/self_command.ts";

const PROBE = fileURLToPath(new URL("./claim_probe.ts", import.meta.url));

/** Sizes of the run. */
const SIZE = quick
  ? { purge: 20_000, pending: 20_000, baselineMs: 500, soakS: 8, retain: "2s", rate: 20 }
  : { purge: 1_000_000, pending: 300_000, baselineMs: 3000, soakS: 60, retain: "5s", rate: 50 };

interface Probe {
  claims: number;
  p50: number;
  p99: number;
  max: number;
  maxGap: number;
}

/** Runs the claim probe on `db` while `during()` runs (or for `ms`). */
async function probe(db: string, during: () => Promise<unknown>): Promise<Probe> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSION_FLAGS, PROBE, db, "probe"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`claim probe failed: ${seen}`);
    seen += value;
  }
  const drain = (async () => {
    while (!(await reader.read()).done) { /* keep the pipe empty */ }
  })();
  await during();
  await child.stdin.close();
  const status = await child.status;
  await drain;
  if (!status.success) throw new Error("claim probe failed");
  return JSON.parse(await stdout);
}

/** A SQLite file holding `count` completed jobs (finished a day ago, 100 B of output each). */
async function oldCompletedJobs(db: string, count: number): Promise<void> {
  (await openStore(db)).close(); // create and migrate
  const conn = new DatabaseSync(db);
  const day = Date.now() - 86_400_000;
  conn.exec("PRAGMA journal_mode = WAL");
  conn.exec("BEGIN");
  conn.exec(`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
    INSERT INTO jobs (id, command, state, priority, max_retries, cwd, run_at, created_at,
                      updated_at, started_at, finished_at, exit_code, attempts, runs)
    SELECT 'old' || i, 'true', 'completed', 0, 0, '/tmp', ${day}, ${day}, ${day}, ${day},
           ${day} + i, 0, 1, 1 FROM n;
    INSERT INTO attempts (job_seq, attempt, worker, started_at, finished_at, outcome, exit_code,
                          stdout)
    SELECT seq, 1, 'w', started_at, finished_at, 'completed', 0, randomblob(100) FROM jobs;`);
  conn.exec("COMMIT");
  conn.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  conn.close();
}

async function purgeRows(): Promise<void> {
  const db = freshDb("sqlite");
  await oldCompletedJobs(db, SIZE.purge);
  const store = await openStore(db);
  for (let i = 0; i < SIZE.pending; i += 50_000) {
    await store.enqueue(jobs(Math.min(50_000, SIZE.pending - i), "true", `p${i}-`));
  }
  await store.close();
  const baseline = await probe(
    db,
    () => new Promise((resolve) => setTimeout(resolve, SIZE.baselineMs)),
  );
  let purgeMs = 0;
  const during = await probe(db, async () => {
    purgeMs = await cliRun(db, ["purge", "--older-than", "1h"]);
  });
  const conn = new DatabaseSync(db, { readOnly: true });
  const left = (conn.prepare("SELECT count(*) AS n FROM jobs WHERE id LIKE 'old%'").get() as {
    n: number;
  }).n;
  conn.close();
  if (left > 0) throw new Error(`the purge left ${left} of the old jobs`);
  const n = SIZE.purge.toLocaleString("en-US");
  add({
    name: `sqlite: purge ${n} completed jobs (whole CLI run)`,
    value: SIZE.purge / (purgeMs / 1000),
    unit: "jobs/s",
  });
  add({ name: "sqlite: claim time p99, no purge running", value: baseline.p99, unit: "ms" });
  add({ name: "sqlite: longest claim, no purge running", value: baseline.max, unit: "ms" });
  add({
    name: `sqlite: claim time p99 during the purge of ${n}`,
    value: during.p99,
    unit: "ms",
  });
  add({
    name: `sqlite: longest claim pause during the purge of ${n}`,
    value: during.maxGap,
    unit: "ms",
    target: "≤ 100 ms",
    ok: during.maxGap <= 100,
  });
}

/** Bytes of the database file and its WAL. */
async function dbBytes(db: string): Promise<number> {
  let bytes = 0;
  for (const file of [db, `${db}-wal`]) {
    bytes += await Deno.stat(file).then((s) => s.size, () => 0);
  }
  return bytes;
}

async function soak(): Promise<void> {
  const db = freshDb("sqlite");
  const store = await openStore(db);
  await store.setConfig("retain-completed", String(Number(SIZE.retain.slice(0, -1))));
  const supervisor = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["worker", "start", "--count", "2"]),
    env: { QUEUECTL_DB: db, QUEUECTL_HOME: tmp, NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Steady load: SIZE.rate jobs a second, each printing 1 KB, in 10 batches a second.
  const start = performance.now();
  const sizes: number[] = [];
  let enqueued = 0;
  try {
    for (let tick = 1; performance.now() - start < SIZE.soakS * 1000; tick++) {
      const batch = jobs(SIZE.rate / 10, "printf '%01000d\\n' 0", `s${tick}-`);
      await store.enqueue(batch);
      enqueued += batch.length;
      const due = start + tick * 100;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
      const second = Math.floor((performance.now() - start) / 1000);
      if (second >= (sizes.length + 1) * (SIZE.soakS / 2)) sizes.push(await dbBytes(db));
    }
  } finally {
    await store.requestStop();
    await supervisor.status;
  }
  const counts = await store.counts();
  await store.close();
  const [half, full] = sizes;
  const ratio = half / full;
  const secs = SIZE.soakS;
  add({
    name: `sqlite: soak, db size at ${secs / 2} s (${SIZE.rate} jobs/s, retain ${SIZE.retain})`,
    value: half / 1024,
    unit: "KiB",
  });
  add({
    name: `sqlite: soak, db size at ${secs} s (${enqueued} jobs, ${counts.completed} kept)`,
    value: full / 1024,
    unit: "KiB",
    baseline: { name: `at ${secs / 2} s`, value: half / 1024 },
    ratio,
    target: "within 15% (ratio 0.87-1.15)",
    ok: full <= half * 1.15 && full >= half * 0.85,
  });
}

/** Housekeeping rows (SQLite). */
export async function housekeeping(): Promise<void> {
  await purgeRows();
  await soak();
}
