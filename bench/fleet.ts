/**
 * Fleet: PostgreSQL as many machines use it (SPEC §8, §11). Claim, `status`
 * and `list` from a thousand to a million stored jobs; the queue's own cost
 * with many worker processes contending; and the connections one supervisor
 * with 8 workers holds. Runs only with `--postgres URL`.
 * @module
 */

import postgres from "postgres";
import { openStore } from "../src/store/store.ts";
import {
  add,
  cliArgs,
  cliMedian,
  enqueue,
  freshDb,
  jobs,
  N,
  postgresUrl,
  quick,
  tmp,
} from "./lib.ts";
import { overhead } from "./throughput.ts";

/** Worker processes contending in the overhead rows. */
const PROCESSES = quick ? [2, 4] : [4, 16, 64];
/** Workers of the supervisor whose connections are counted. */
const SUPERVISED = 8;

/** Claim + complete (µs), `status` and `list --limit 20` (ms) with `stored` jobs. */
async function measure(stored: number) {
  const db = freshDb("postgres");
  await enqueue(db, jobs(stored));
  // Measure the queue as it runs, not the bulk load's aftermath: autovacuum would otherwise
  // analyze and vacuum the fresh table (on the same 2 cores) in the middle of the timed claims.
  await vacuum(db);
  const store = await openStore(db, { worker: true, listen: false });
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
  return {
    stored,
    claimUs,
    statusMs: await cliMedian(db, ["status"]),
    listMs: await cliMedian(db, ["list", "--limit", "20"]),
  };
}

/** `VACUUM ANALYZE` of the jobs table of the schema `db` names. */
async function vacuum(db: string): Promise<void> {
  const schema = new URL(db).searchParams.get("schema")!;
  const admin = postgres(postgresUrl!, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`VACUUM ANALYZE "${schema}".jobs`);
  } finally {
    await admin.end();
  }
}

/** A row of a figure at one size against the same figure at the smallest size. */
function scaleRow(what: string, unit: string, stored: number, value: number, first: number) {
  const ratio = first / value;
  add({
    name: `postgres: ${what} with ${stored.toLocaleString("en-US")} stored`,
    value,
    unit,
    baseline: { name: `at ${N.scale[0]}`, value: first },
    ratio,
    target: "within 1.5× (ratio ≥ 0.67)",
    ok: ratio >= 1 / 1.5,
  });
}

/** Most connections `worker start --count 8` holds while it runs jobs and while it idles. */
async function supervisorConnections(): Promise<number> {
  const db = freshDb("postgres");
  const schema = new URL(db).searchParams.get("schema")!;
  await enqueue(db, jobs(quick ? 50 : 400, "sleep 0.01"));
  // The counting connection has its own application_name, so it does not count itself.
  const admin = postgres(postgresUrl!, { max: 1, onnotice: () => {} });
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["worker", "start", "--count", String(SUPERVISED)]),
    env: { QUEUECTL_DB: db, QUEUECTL_HOME: tmp, NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const connections = async () =>
      (await admin`SELECT count(*)::int AS n FROM pg_stat_activity
                   WHERE application_name = ${"queuectl:" + schema}`)[0].n as number;
    const idle = async () =>
      (await admin.unsafe(`SELECT count(*)::int AS n FROM "${schema}".jobs
                           WHERE state IN ('pending', 'processing')`))[0].n === 0;
    let peak = 0;
    const deadline = performance.now() + 120_000;
    // Sample while the jobs run, then for another second of idling.
    let idleSince: number | null = null;
    while (performance.now() < deadline) {
      peak = Math.max(peak, await connections());
      if (idleSince === null && await idle().catch(() => false)) idleSince = performance.now();
      if (idleSince !== null && performance.now() - idleSince > 1000) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return peak;
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await admin.end();
  }
}

/** The fleet rows, PostgreSQL only. */
export async function fleet(): Promise<void> {
  if (!postgresUrl) {
    console.error("  fleet: skipped (PostgreSQL rows need --postgres URL)");
    return;
  }
  const results = [];
  for (const stored of N.scale) results.push(await measure(stored));
  const [first] = results;
  for (const r of results) {
    scaleRow("claim+complete", "µs", r.stored, r.claimUs, first.claimUs);
    scaleRow(`status (median of ${N.cli})`, "ms", r.stored, r.statusMs, first.statusMs);
    scaleRow(`list --limit 20 (median of ${N.cli})`, "ms", r.stored, r.listMs, first.listMs);
  }
  for (const procs of PROCESSES) {
    add({
      name: `postgres: queue overhead, exchange, ${procs} worker processes contending`,
      value: await overhead("postgres", procs, N.overhead, "batch"),
      unit: "jobs/s",
    });
  }
  const held = await supervisorConnections();
  add({
    name: `postgres: connections held by 1 supervisor × ${SUPERVISED} workers`,
    value: held,
    unit: "conns",
    target: "≤ 10",
    ok: held <= 10,
  });
}
