// Unix only (unixTest): the jobs are sh commands and the CLI is stopped with SIGTERM; Windows
// runs tests/windows/ instead.
import assert from "node:assert/strict";
import { RunCounters } from "../src/dashboard/prometheus.ts";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import { newJob, request, runWorkers, withDashboard } from "./dashboard_helpers.ts";
import { tempHome, unixTest } from "./helpers.ts";
import { FakeClock } from "./store_contract/mod.ts";

/** Parses Prometheus text into `name{labels}` → value, checking every sample has HELP and TYPE. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.trimEnd().split("\n")) {
    const meta = line.match(/^# (HELP|TYPE) (\w+) (.+)$/);
    if (meta) {
      if (meta[1] === "TYPE") typed.add(meta[2]);
      continue;
    }
    const sample = line.match(/^(\w+)(\{[^}]*\})? (\S+)$/);
    assert.ok(sample, `not a sample line: ${JSON.stringify(line)}`);
    const family = sample[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(sample[1]) || typed.has(family), `no TYPE for ${sample[1]}`);
    samples.set(sample[1] + (sample[2] ?? ""), Number(sample[3]));
  }
  return samples;
}

unixTest("/metrics: gauges, run counters and a run-time histogram in Prometheus text", async () => {
  await withDashboard(async ({ home, store, base }) => {
    await store.enqueue([
      newJob("a"),
      newJob("b"),
      newJob("c", "exit 1"),
      newJob("d", "sleep 0.3"),
    ]);
    await runWorkers(home);
    await store.enqueue([newJob("waiting")]);
    await store.heartbeat({
      id: "w-9",
      kind: "worker",
      host: "h",
      pid: 9,
      supervisor: null,
      currentJob: null,
      leaseMs: 30_000,
    });
    const reply = await request(`${base}/metrics`);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const m = parse(reply.body);
    assert.equal(m.get('queuectl_jobs{queue="default",state="pending"}'), 1);
    assert.equal(m.get('queuectl_jobs{queue="default",state="completed"}'), 3);
    assert.equal(m.get('queuectl_jobs{queue="default",state="dead"}'), 1);
    assert.equal(m.get('queuectl_jobs{queue="default",state="blocked"}'), 0);
    assert.equal(m.get('queuectl_queue_paused{queue="default"}'), 0);
    assert.equal(m.get('queuectl_runs_total{outcome="completed"}'), 3);
    assert.equal(m.get('queuectl_runs_total{outcome="failed"}'), 1);
    assert.equal(m.get('queuectl_runs_total{outcome="lost"}'), 0);
    assert.equal(m.get("queuectl_run_duration_seconds_count"), 4);
    assert.equal(m.get('queuectl_run_duration_seconds_bucket{le="+Inf"}'), 4);
    assert.equal(m.get('queuectl_run_duration_seconds_bucket{le="0.25"}'), 3, "all but the sleep");
    assert.ok(m.get("queuectl_run_duration_seconds_sum")! >= 0.3);
    const buckets = [...m].filter(([key]) =>
      key.startsWith("queuectl_run_duration_seconds_bucket")
    );
    assert.ok(buckets.every(([, n], i) => i === 0 || n >= buckets[i - 1][1]), "cumulative");
    assert.equal(m.get("queuectl_workers"), 1);
    assert.equal(m.get("queuectl_workers_busy"), 0);
    assert.ok(m.get("queuectl_oldest_pending_age_seconds")! >= 0);

    // A later scrape adds the runs finished since, and only those.
    await store.enqueue([newJob("e"), newJob("f", "exit 3")]);
    await store.cancel("waiting");
    await runWorkers(home);
    const next = parse((await request(`${base}/metrics`)).body);
    assert.equal(next.get('queuectl_runs_total{outcome="completed"}'), 4);
    assert.equal(next.get('queuectl_runs_total{outcome="failed"}'), 2);
    assert.equal(next.get("queuectl_run_duration_seconds_count"), 6);
    assert.equal(next.get("queuectl_oldest_pending_age_seconds"), 0, "nothing pending");

    // Every queue gets its own samples.
    await store.enqueue([
      newJob("m1", "true", { queue: "mail" }),
      newJob("m2", "true", { queue: "mail", after: ["m1"] }),
    ]);
    await store.setPaused(["mail"], true);
    const queues = parse((await request(`${base}/metrics`)).body);
    assert.equal(queues.get('queuectl_jobs{queue="mail",state="pending"}'), 1);
    assert.equal(queues.get('queuectl_jobs{queue="mail",state="blocked"}'), 1);
    assert.equal(queues.get('queuectl_jobs{queue="default",state="pending"}'), 0);
    assert.equal(queues.get('queuectl_queue_paused{queue="mail"}'), 1);
  });
});

unixTest("RunCounters: windows never overlap, and runs younger than the lag wait", async () => {
  const { db, cleanup } = await tempHome();
  const clock = new FakeClock();
  const store = openSqliteStore(db, { clock: clock.now });
  try {
    const start = clock.ms;
    const run = async (id: string) => {
      await store.enqueue([newJob(id, "true", { runAt: clock.ms })]);
      assert.equal((await store.claim("w", 30_000))?.id, id);
      clock.advance(1);
      await store.complete(id, "w", {
        exitCode: 0,
        error: null,
        stdout: new Uint8Array(),
        stderr: new Uint8Array(),
      });
    };
    await run("x"); // finishes at start + 1 s
    await run("y"); // finishes at start + 2 s
    const counters = new RunCounters(store, { lagMs: 10_000, clock: clock.now });
    assert.equal((await counters.read()).count, 0, "both runs are younger than the lag");
    clock.ms = start + 12_000;
    assert.equal((await counters.read()).count, 1, "x only: windows end before their end time");
    clock.ms = start + 13_000;
    const both = await Promise.all([counters.read(), counters.read()]);
    assert.deepEqual(both.map((r) => r.count), [2, 2], "concurrent reads count once");
    await run("z"); // finishes at start + 14 s
    assert.equal((await counters.read()).count, 2);
    clock.ms = start + 24_001;
    const totals = await counters.read();
    assert.equal(totals.count, 3);
    assert.deepEqual(totals.byOutcome, { completed: 3, failed: 0, lost: 0, cancelled: 0 });
    assert.equal(totals.sumMs, 3_000);
  } finally {
    await store.close();
    await cleanup();
  }
});
