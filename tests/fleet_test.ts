// Many machines on one PostgreSQL queue (SPEC §11): the connection budget, one machine cut off
// from the database while the others go on, and a fleet draining a queue exactly once. Machines
// are supervisors with their own data dir and QUEUECTL_HOST; each may reach the database through
// a TCP proxy of its own on loopback (fleet_helpers.ts), which is how one of them is cut off.
//
// QUEUECTL_STRESS=1 runs the full-size fleet: 8 supervisors × 8 workers drain 10,000 jobs.
import assert from "node:assert/strict";
import type { NewJob } from "../src/core/types.ts";
import { openStore } from "../src/store/store.ts";
import { cleanupStack, ndjson, waitFor, within } from "./helpers.ts";
import {
  admin,
  connectionsOf,
  dropSchema,
  type Machine,
  machine,
  newSchema,
  PG_URL,
  queueUrl,
} from "./fleet_helpers.ts";

if (!PG_URL) {
  console.log(
    "Fleet tests skipped: set QUEUECTL_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)",
  );
}

const STRESS = Deno.env.get("QUEUECTL_STRESS") === "1";
const opts = { sanitizeResources: false, sanitizeOps: false, ignore: !PG_URL };

interface WorkerJson {
  id: string;
  kind: "worker" | "supervisor";
  host: string;
  pid: number;
  current_job: string | null;
}

interface StatusJson {
  jobs: Record<string, number>;
}

/** Lines of a file the jobs append to (each `echo` is one atomic write). */
async function linesOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line !== "");
}

/** Waits until `m` runs `workers` registered workers. */
async function registered(m: Machine, workers: number): Promise<WorkerJson[]> {
  return await waitFor(`${workers} workers on ${m.name}`, async () => {
    const list = await m.json<WorkerJson[]>(["worker", "list"]);
    const mine = list.filter((w) => w.host === m.name && w.kind === "worker");
    return mine.length === workers ? mine : null;
  }, 60_000);
}

Deno.test({
  name: "fleet: 1 supervisor × 8 workers hold at most 10 connections, and wake-ups are relayed",
  ...opts,
  fn: async () => {
    const schema = newSchema();
    const cleanup = cleanupStack();
    cleanup.defer(() => dropSchema(schema));
    try {
      const m = await machine("budget", schema, cleanup);
      // Workers would look on their own only once a minute: a prompt pickup is a relayed wake-up.
      await m.run(["config", "set", "poll-interval", "60"]);
      const file = `${m.home}/ran.txt`;
      const job = (id: string) => ({ id, command: `sleep 0.05; echo $QUEUECTL_JOB_ID >> ${file}` });
      await m.run(
        ["enqueue", "--file", "-"],
        ndjson(Array.from({ length: 80 }, (_, i) => job(`first-${i}`))),
      );
      const supervisor = m.start(["--count", "8"]);
      await registered(m, 8);

      let peak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, (await connectionsOf(schema)).all);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      try {
        await waitFor("the first jobs to run", async () => (await linesOf(file)).length === 80);
        // Idle workers: one enqueue wakes them through the supervisor's LISTEN.
        await m.run(["enqueue", "-c", `echo woken >> ${file}`]);
        await waitFor("the relayed wake-up", async () => (await linesOf(file)).includes("woken"));
        // (Once the enqueue's own connection has gone.)
        const steady = await waitFor("the CLI's connection to go", async () => {
          const now = await connectionsOf(schema);
          return now.all <= 10 ? now : null;
        });
        assert.deepEqual(steady, { all: 10, listening: 1 }, "8 workers + supervisor + its LISTEN");

        // Every connection of the fleet is cut: each process reconnects within its budget,
        // and the supervisor listens again.
        await admin((sql) =>
          sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = ${"queuectl:" + schema}`
        );
        await waitFor("the LISTEN to be back", async () => {
          return (await connectionsOf(schema)).listening === 1;
        });
        await m.run(["enqueue", "-c", `echo after-the-cut >> ${file}`]);
        await waitFor("a wake-up after the cut", async () => {
          return (await linesOf(file)).includes("after-the-cut");
        });
      } finally {
        sampling = false;
        await sampler;
      }
      assert.ok(peak <= 10 + 1, `at most 10 connections (+1 for a CLI command), saw ${peak}`);
      await m.run(["worker", "stop"]);
      assert.equal(await within("the supervisor to stop", supervisor.done, 30_000), 0);
    } finally {
      await cleanup.run();
    }
  },
});

/** A job that records each run as "<id> <host> <attempt>" in `file`. */
function recordingJob(id: string, file: string, seconds: number) {
  return {
    id,
    command:
      `sleep ${seconds}; echo "$QUEUECTL_JOB_ID $QUEUECTL_HOST $QUEUECTL_ATTEMPT" >> ${file}`,
    max_retries: 10,
  };
}

/**
 * Keeps at least `depth` jobs pending until stopped, enqueueing through `m`'s store: the
 * workload lasts as long as the scenario needs, on a fast machine or a slow one.
 */
function feeder(db: string, make: (n: number) => NewJob, depth: number) {
  let stopped = false;
  let enqueued = 0;
  const running = (async () => {
    const store = await openStore(db);
    try {
      while (!stopped) {
        const counts = await store.counts();
        const missing = depth - counts.pending - counts.failed;
        if (missing > 0) {
          await store.enqueue(Array.from({ length: missing }, () => make(enqueued++)));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await store.close();
    }
  })();
  return {
    /** How many jobs were enqueued so far. */
    get enqueued() {
      return enqueued;
    },
    async stop(): Promise<number> {
      stopped = true;
      await running;
      return enqueued;
    },
  };
}

/** A validated job of the kind {@linkcode recordingJob} describes. */
function newJob(id: string, file: string, seconds: number): NewJob {
  const spec = recordingJob(id, file, seconds);
  return {
    id,
    command: spec.command,
    maxRetries: spec.max_retries,
    priority: 0,
    runAt: Date.now(),
    timeout: null,
    cwd: "/",
  };
}

/** Runs and attempts per job: `[id, runs recorded by the job, outcomes of its attempts]`. */
async function runsAndOutcomes(
  schema: string,
  file: string,
): Promise<Map<string, { runs: string[]; outcomes: { outcome: string; worker: string }[] }>> {
  const rows = await admin((sql) =>
    sql.unsafe(`
      SELECT j.id, j.state, a.outcome, a.worker FROM "${schema}".jobs j
      JOIN "${schema}".attempts a ON a.job_seq = j.seq ORDER BY j.id, a.attempt`)
  );
  const jobs = new Map<
    string,
    { runs: string[]; outcomes: { outcome: string; worker: string }[] }
  >();
  for (const row of rows) {
    const job = jobs.get(row.id) ?? { runs: [], outcomes: [] };
    job.outcomes.push({ outcome: row.outcome, worker: row.worker });
    jobs.set(row.id, job);
  }
  for (const line of await linesOf(file)) {
    const [id, host] = line.split(" ");
    jobs.get(id)?.runs.push(host);
  }
  return jobs;
}

/** Who logs on the machine that is cut off: its supervisor and its two workers. */
const C_PROCESSES = ["supervisor", "w1", "w2"];

Deno.test({
  name: "fleet: one machine cut off mid-run: the others recover its jobs after the lease, its " +
    "late settles are refused with one line, it rejoins, and no job is lost or run twice unless lost",
  ...opts,
  fn: async () => {
    const schema = newSchema();
    const cleanup = cleanupStack();
    cleanup.defer(() => dropSchema(schema));
    try {
      const [a, b, c] = await Promise.all(
        ["machine-a", "machine-b", "machine-c"].map((name) =>
          machine(name, schema, cleanup, { proxied: true })
        ),
      );
      const shared = await Deno.makeTempDir({ prefix: "queuectl-fleet-runs-" });
      cleanup.defer(() => Deno.remove(shared, { recursive: true }));
      const file = `${shared}/runs.txt`;
      await a.run(["config", "set", "lease-timeout", "2"]);
      await a.run(["config", "set", "backoff-base", "1"]);
      await a.run(["config", "set", "poll-interval", "0.5"]);
      const feed = feeder(queueUrl(PG_URL!, schema), (n) => newJob(`f${n}`, file, 1), 8);
      cleanup.defer(() => feed.stop());
      const supervisors = new Map([a, b, c].map((m) => [m, m.start(["--count", "2"])]));
      const cOutput = () => supervisors.get(c)!.output();

      // Machine c is busy: both of its workers run a job, as do the others'.
      await waitFor("every machine's workers to run jobs", async () => {
        const list = await a.json<WorkerJson[]>(["worker", "list"]);
        const busy = list.filter((w) => w.kind === "worker" && w.current_job);
        return [a, b, c].every((m) => busy.filter((w) => w.host === m.name).length === 2);
      }, 60_000);

      // Cut off: first packets vanish (queries hang), then connections are reset and refused.
      c.network!.stall();
      await new Promise((resolve) => setTimeout(resolve, 300)); // what reached the server is done
      const held = (await admin((sql) =>
        sql.unsafe(`SELECT id FROM "${schema}".jobs
                    WHERE state = 'processing' AND worker LIKE 'machine-c-%'`)
      )).map((row) => row.id as string);
      assert.ok(held.length > 0, "machine c held jobs when it was cut off");
      await waitFor("the others to recover machine c's jobs after the lease", async () => {
        const [row] = await admin((sql) =>
          sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".jobs
                      WHERE state = 'processing' AND worker LIKE 'machine-c-%'`)
        );
        return row.n === 0;
      });
      c.network!.cut();
      const outageLines = (who: string, pattern: RegExp) =>
        cOutput().split("\n").filter((line) => line.split(" ")[1] === who && pattern.test(line));
      await waitFor("each process of machine c to notice", () => {
        return C_PROCESSES.every((who) => outageLines(who, /database unavailable/).length > 0);
      });

      const linesAtHeal = (await linesOf(file)).length;
      c.network!.heal();
      await waitFor("machine c to rejoin and run jobs again", async () => {
        const after = (await linesOf(file)).slice(linesAtHeal);
        return after.some((line) => line.split(" ")[1] === c.name);
      });
      const total = await feed.stop();
      await waitFor("every job to finish", async () => {
        const { jobs } = await a.json<StatusJson>(["status"]);
        return jobs.pending + jobs.processing + jobs.failed === 0;
      }, 60_000);
      assert.match(await a.run(["worker", "stop"]), /Asked 3 supervisors to stop/);
      for (const [m, running] of supervisors) {
        assert.equal(await within(`${m.name} to stop`, running.done, 60_000), 0, running.output());
      }

      // No job lost.
      const { jobs: counts } = await a.json<StatusJson>(["status"]);
      assert.equal(
        counts.completed,
        total,
        `all ${total} jobs completed: ${JSON.stringify(counts)}`,
      );
      // A job ran twice only where a run was marked lost.
      const jobs = await runsAndOutcomes(schema, file);
      for (const [id, job] of jobs) {
        if (job.runs.length > 1) {
          assert.ok(
            job.outcomes.some((o) => o.outcome === "lost"),
            `${id} ran ${job.runs.length} times (${job.runs}) but no run was marked lost`,
          );
        }
        assert.ok(job.runs.length >= 1, `${id} ran`);
      }
      // The others recovered what c held after the lease; c's late settles were refused.
      for (const id of held) {
        const { outcomes } = jobs.get(id)!;
        assert.ok(
          outcomes.some((o) => o.outcome === "lost" && o.worker.startsWith("machine-c-")),
          `${id}: machine c's run was marked lost: ${JSON.stringify(outcomes)}`,
        );
        assert.equal(outcomes.at(-1)!.outcome, "completed");
      }
      const recoveredBy = [a, b].map((m) => supervisors.get(m)!.output()).join("\n");
      assert.match(recoveredBy, /recovered \S+ \(worker lost \(lease expired\)\)/);
      const refused = cOutput().split("\n").filter((line) =>
        / lost +\S+: another worker owns it now/.test(line)
      );
      assert.ok(refused.length > 0, `machine c logged its refused settles:\n${cOutput()}`);
      for (const id of held) {
        const about = refused.filter((line) => line.includes(` ${id}:`));
        assert.ok(about.length <= 1, `one line per refused settle: ${about.join("\n")}`);
      }
      // One line when the database went away and one when it came back, per process.
      for (const who of C_PROCESSES) {
        assert.equal(outageLines(who, /database unavailable/).length, 1, `${who}: one line`);
        assert.equal(outageLines(who, /reachable again/).length, 1, `${who}: resumed`);
      }
      assert.ok(!cOutput().includes("    at "), "no stack trace");
    } finally {
      await cleanup.run();
    }
  },
});

const FLEET = STRESS
  ? { machines: 8, workers: 8, jobs: 10_000 }
  : { machines: 3, workers: 4, jobs: 1_000 };

Deno.test({
  name: `fleet: ${FLEET.machines} supervisors × ${FLEET.workers} workers drain ` +
    `${FLEET.jobs.toLocaleString("en-US")} jobs, each exactly once, within the connection budget`,
  ...opts,
  fn: async () => {
    const schema = newSchema();
    const cleanup = cleanupStack();
    cleanup.defer(() => dropSchema(schema));
    try {
      const [{ max_connections: max }] = await admin((sql) => sql`SHOW max_connections`);
      const budget = FLEET.machines * (FLEET.workers + 2);
      console.log(`max_connections = ${max}; this fleet may hold ${budget}`);
      const machines = await Promise.all(
        Array.from({ length: FLEET.machines }, (_, i) => machine(`node-${i + 1}`, schema, cleanup)),
      );
      const shared = await Deno.makeTempDir({ prefix: "queuectl-fleet-runs-" });
      cleanup.defer(() => Deno.remove(shared, { recursive: true }));
      const file = `${shared}/runs.txt`;
      const supervisors = machines.map((m) => m.start(["--count", String(FLEET.workers)]));
      await Promise.all(machines.map((m) => registered(m, FLEET.workers)));

      const ids = Array.from({ length: FLEET.jobs }, (_, i) => `once-${i}`);
      // Every worker is idle and waiting: the jobs arrive at once and wake them all.
      const store = await openStore(queueUrl(PG_URL!, schema));
      try {
        await store.enqueue(ids.map((id) => ({
          id,
          command: `echo $QUEUECTL_JOB_ID $QUEUECTL_HOST >> ${file}`,
          maxRetries: 3,
          priority: 0,
          runAt: Date.now(),
          timeout: null,
          cwd: "/",
        })));
      } finally {
        await store.close();
      }
      // From here on only the fleet is connected (once the enqueue's connection has gone).
      let peak = await waitFor("the enqueue's connection to go", async () => {
        const now = (await connectionsOf(schema)).all;
        return now <= budget ? now : null;
      });
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, (await connectionsOf(schema)).all);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      try {
        await waitFor("every job to complete", async () => {
          const [row] = await admin((sql) =>
            sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".jobs WHERE state = 'completed'`)
          );
          return row.n === FLEET.jobs;
        }, (FLEET.jobs / 10 + 120) * 1000);
      } finally {
        sampling = false;
        await sampler;
      }
      console.log(`the fleet held at most ${peak} connections`);
      assert.ok(peak <= budget, `at most ${budget} connections, saw ${peak}`);
      assert.match(
        await machines[0].run(["worker", "stop"]),
        new RegExp(`Asked ${FLEET.machines} supervisors to stop`),
      );
      for (const running of supervisors) {
        assert.equal(await within("a supervisor to stop", running.done, 60_000), 0);
      }

      const runs = await linesOf(file);
      const counts = new Map<string, number>();
      for (const line of runs) {
        const id = line.split(" ")[0];
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      assert.deepEqual(twice, [], "no job ran twice");
      assert.equal(runs.length, FLEET.jobs, "every job ran");
      assert.deepEqual([...counts.keys()].sort(), [...ids].sort(), "exactly the enqueued ids ran");
      const outcomes = await admin((sql) =>
        sql.unsafe(`SELECT outcome, count(*)::int AS n FROM "${schema}".attempts GROUP BY 1`)
      );
      assert.deepEqual(outcomes.map((row) => ({ ...row })), [
        { outcome: "completed", n: FLEET.jobs },
      ]);
      const hosts = new Set(runs.map((line) => line.split(" ")[1]));
      assert.equal(hosts.size, FLEET.machines, "every machine ran jobs");
      for (const running of supervisors) {
        assert.doesNotMatch(running.output(), /lost|recovered|worker exited|unavailable/);
      }
    } finally {
      await cleanup.run();
    }
  },
});
