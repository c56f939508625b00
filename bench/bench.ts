/**
 * `deno task bench [--quick] [--postgres URL]`: measures queuectl against
 * baselines taken in the same run on the same machine (SPEC §8), prints a
 * table and writes bench/results.json.
 *
 * `--quick` runs small counts without judging targets (CI runs it through
 * tests/bench_test.ts so the benchmark never rots). PostgreSQL rows run when
 * `--postgres` or `$QUEUECTL_BENCH_POSTGRES_URL` names a database.
 * @module
 */

import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/store.ts";
import type { NewJob } from "../src/core/types.ts";
import { PERMISSION_FLAGS } from "../src/worker/self_command.ts";

const quick = Deno.args.includes("--quick");
const pgIndex = Deno.args.indexOf("--postgres");
const postgresUrl = pgIndex >= 0
  ? Deno.args[pgIndex + 1]
  : Deno.env.get("QUEUECTL_BENCH_POSTGRES_URL");
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const CLAIM_LOOP = fileURLToPath(new URL("./claim_loop.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const N = quick
  ? {
    e2e: 100,
    spawn: 60,
    overhead: 500,
    batch: 5_000,
    cli: 3,
    pickup: 5,
    scale: [1_000, 5_000],
    scaleOps: 100,
  }
  : {
    e2e: 2000,
    spawn: 1000,
    overhead: 10_000,
    batch: 100_000,
    cli: 11,
    pickup: 40,
    scale: [1_000, 100_000, 1_000_000],
    scaleOps: 400,
  };

/** One row of the result table. */
interface Row {
  name: string;
  value: number;
  unit: string;
  /** What the value is compared with, measured in this run. */
  baseline?: { name: string; value: number };
  /** value / baseline (or baseline / value for times: always "higher is better"). */
  ratio?: number;
  target?: string;
  ok?: boolean;
}

const rows: Row[] = [];
const tmp = await Deno.makeTempDir({ prefix: "queuectl-bench-" });
let dbCounter = 0;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function add(row: Row): void {
  rows.push(row);
  const base = row.baseline ? `  vs ${row.baseline.name} ${fmt(row.baseline.value)}` : "";
  const ratio = row.ratio === undefined ? "" : `  ratio ${row.ratio.toFixed(2)}`;
  console.error(`  ${row.name}: ${fmt(row.value)} ${row.unit}${base}${ratio}`);
}

function fmt(value: number): string {
  return value >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(value >= 10 ? 1 : 2);
}

/** A fresh database: a SQLite file, or a PostgreSQL schema. */
function freshDb(backend: "sqlite" | "postgres"): string {
  dbCounter++;
  if (backend === "sqlite") return `${tmp}/bench-${dbCounter}.db`;
  const url = new URL(postgresUrl!);
  url.searchParams.set("schema", `bench_${Date.now().toString(36)}_${dbCounter}`);
  return url.href;
}

function jobs(count: number, command = "true", prefix = "j"): NewJob[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    command,
    maxRetries: 0,
    priority: 0,
    runAt: now,
    timeout: null,
    cwd: tmp,
  }));
}

async function enqueue(db: string, list: NewJob[]): Promise<void> {
  const store = await openStore(db);
  for (let i = 0; i < list.length; i += 50_000) await store.enqueue(list.slice(i, i + 50_000));
  await store.close();
}

function cliArgs(args: string[]): string[] {
  return ["run", "--quiet", ...PERMISSION_FLAGS, "--config", CONFIG, MAIN, ...args];
}

async function cliRun(db: string, args: string[], stdin?: Uint8Array): Promise<number> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(args),
    env: { QUEUECTL_DB: db, QUEUECTL_HOME: tmp, NO_COLOR: "1" },
    stdin: stdin ? "piped" : "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(`queuectl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return performance.now() - start;
}

// ---------------------------------------------------------------- baselines

/** Bare spawn rate of `sh -c true`: `parallel` Deno processes, each spawning in a loop. */
async function spawnBaseline(parallel: number, total: number): Promise<number> {
  const script = `
    const n = Number(Deno.args[0]);
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      await new Deno.Command("/bin/sh", { args: ["-c", "true"], stdout: "piped", stderr: "piped" }).output();
    }
    console.log(performance.now() - start);`;
  const file = `${tmp}/spawn_loop.ts`;
  await Deno.writeTextFile(file, script);
  const each = Math.ceil(total / parallel);
  const outputs = await Promise.all(
    Array.from(
      { length: parallel },
      () =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-run", file, String(each)],
          stdout: "piped",
        }).output(),
    ),
  );
  const slowest = Math.max(...outputs.map((o) => Number(new TextDecoder().decode(o.stdout))));
  return (each * parallel) / (slowest / 1000);
}

async function emptyScriptMs(): Promise<number> {
  const file = `${tmp}/empty.ts`;
  await Deno.writeTextFile(file, "");
  const times: number[] = [];
  for (let i = 0; i < N.cli; i++) {
    const start = performance.now();
    await new Deno.Command(Deno.execPath(), { args: ["run", "--quiet", file] }).output();
    times.push(performance.now() - start);
  }
  return median(times);
}

// ---------------------------------------------------------------- measurements

/** Runs `worker start --count N --drain` on `count` `true` jobs; rate from first start to last finish. */
async function endToEnd(
  backend: "sqlite" | "postgres",
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
async function overhead(
  backend: "sqlite" | "postgres",
  procs: number,
  count: number,
): Promise<number> {
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

/** Idle worker: time from enqueue to the job's start, per job. */
async function pickup(backend: "sqlite" | "postgres", samples: number): Promise<number[]> {
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

/** Claim + complete cost (µs) and status time (ms) with `stored` jobs in the table. */
async function scale(backend: "sqlite" | "postgres", stored: number) {
  const db = freshDb(backend);
  await enqueue(db, jobs(stored));
  const store = await openStore(db, { worker: true });
  const empty = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
  for (let i = 0; i < 20; i++) {
    await store.complete((await store.claim("warm", 30_000))!.id, "warm", empty);
  }
  const start = performance.now();
  for (let i = 0; i < N.scaleOps; i++) {
    const job = await store.claim("w", 30_000);
    await store.complete(job!.id, "w", empty);
  }
  const claimUs = ((performance.now() - start) / N.scaleOps) * 1000;
  await store.close();
  const statusTimes: number[] = [];
  for (let i = 0; i < N.cli; i++) statusTimes.push(await cliRun(db, ["status"]));
  return { claimUs, statusMs: median(statusTimes) };
}

// ---------------------------------------------------------------- run

console.error(
  `queuectl bench${
    quick ? " --quick" : ""
  } on ${Deno.build.target}, ${navigator.hardwareConcurrency} cores`,
);
const started = performance.now();

const spawn2 = await spawnBaseline(2, N.spawn);
add({ name: "bare spawn rate, sh -c true, parallelism 2", value: spawn2, unit: "runs/s" });
const spawn1 = await spawnBaseline(1, N.spawn / 2);
add({ name: "bare spawn rate, parallelism 1", value: spawn1, unit: "runs/s" });
const spawn4 = await spawnBaseline(4, N.spawn);
add({ name: "bare spawn rate, parallelism 4", value: spawn4, unit: "runs/s" });

const backends: ("sqlite" | "postgres")[] = postgresUrl ? ["sqlite", "postgres"] : ["sqlite"];
for (const backend of backends) {
  for (const [workers, baseline] of [[1, spawn1], [2, spawn2], [4, spawn4]] as const) {
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

const emptyMs = await emptyScriptMs();
add({ name: "deno run, empty script", value: emptyMs, unit: "ms" });
{
  const db = freshDb("sqlite");
  const text = new TextEncoder().encode(
    jobs(N.batch, "true", "b").map((j) => JSON.stringify({ id: j.id, command: j.command })).join(
      "\n",
    ),
  );
  const times: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    const file = freshDb("sqlite");
    times.push(await cliRun(file, ["enqueue", "--file", "-"], text));
  }
  const rate = N.batch / (median(times) / 1000);
  add({
    name: `sqlite: enqueue --file of ${N.batch} jobs (whole CLI run)`,
    value: rate,
    unit: "jobs/s",
    target: "≥ 100,000",
    ok: rate >= 100_000,
  });
  await enqueue(db, jobs(1000));
  for (const args of [["status"], ["enqueue", "-c", "true"], ["list", "--limit", "20"]]) {
    const times: number[] = [];
    for (let i = 0; i < N.cli; i++) times.push(await cliRun(db, args));
    const ms = median(times);
    const ratio = emptyMs / ms;
    add({
      name: `sqlite: queuectl ${args.join(" ")} (median of ${N.cli})`,
      value: ms,
      unit: "ms",
      baseline: { name: "empty script", value: emptyMs },
      ratio,
      target: "≤ 3× (ratio ≥ 0.33)",
      ok: ms <= 3 * emptyMs,
    });
  }
}

// Scale rows on SQLite only: a million-row PostgreSQL table would take most of the time budget.
for (const backend of ["sqlite"] as const) {
  const results = [];
  for (const stored of N.scale) results.push({ stored, ...await scale(backend, stored) });
  const first = results[0];
  for (const result of results) {
    const claimRatio = first.claimUs / result.claimUs;
    add({
      name: `${backend}: claim+complete with ${result.stored.toLocaleString("en-US")} stored`,
      value: result.claimUs,
      unit: "µs",
      baseline: { name: `at ${first.stored}`, value: first.claimUs },
      ratio: claimRatio,
      target: "within 1.5× (ratio ≥ 0.67)",
      ok: claimRatio >= 1 / 1.5,
    });
    const statusRatio = first.statusMs / result.statusMs;
    add({
      name: `${backend}: status with ${result.stored.toLocaleString("en-US")} stored`,
      value: result.statusMs,
      unit: "ms",
      baseline: { name: `at ${first.stored}`, value: first.statusMs },
      ratio: statusRatio,
      target: "within 1.5× (ratio ≥ 0.67)",
      ok: statusRatio >= 1 / 1.5,
    });
  }
}

// Memory in a run of its own: sampling spawns ps ten times a second.
const memory = await endToEnd("sqlite", 2, Math.min(N.e2e, 500), true);
add({
  name: "sqlite: peak RSS, supervisor (--count 2 run)",
  value: memory.supervisorKb / 1024,
  unit: "MiB",
});
add({
  name: "sqlite: peak RSS, one worker (--count 2 run)",
  value: memory.workerKb / 1024,
  unit: "MiB",
});

await Deno.remove(tmp, { recursive: true }).catch(() => {});
if (postgresUrl) await dropBenchSchemas(postgresUrl);

// ---------------------------------------------------------------- report

const header = ["figure", "value", "baseline (same run)", "ratio", "target", ""];
const table = rows.map((row) => [
  row.name,
  `${fmt(row.value)} ${row.unit}`,
  row.baseline ? `${row.baseline.name}: ${fmt(row.baseline.value)}` : "",
  row.ratio === undefined ? "" : row.ratio.toFixed(2),
  row.target ?? "",
  row.ok === undefined || quick ? "" : row.ok ? "ok" : "MISSED",
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of table) console.log(line(row));
const seconds = (performance.now() - started) / 1000;
console.log(
  `\n${
    new Date().toISOString().slice(0, 10)
  }, ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, ${seconds.toFixed(0)} s${
    quick ? ", --quick (targets not judged)" : ""
  }`,
);
await Deno.writeTextFile(
  fileURLToPath(new URL(quick ? "./results-quick.json" : "./results.json", import.meta.url)),
  JSON.stringify(
    { date: new Date().toISOString(), quick, target: Deno.build.target, seconds, rows },
    null,
    2,
  ) + "\n",
);

async function dropBenchSchemas(url: string): Promise<void> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { onnotice: () => {} });
  const schemas = await sql`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'`;
  for (const { nspname } of schemas) await sql.unsafe(`DROP SCHEMA "${nspname}" CASCADE`);
  await sql.end();
}
