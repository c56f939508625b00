// Many machines, one PostgreSQL queue: real supervisors with their own data dirs
// and host names against one database (issue: PostgreSQL backend).
import assert from "node:assert/strict";
import postgres from "postgres";
import { cli, spawnCli, tempHome, waitFor } from "./helpers.ts";

const url = Deno.env.get("QUEUECTL_TEST_POSTGRES_URL");
if (!url) {
  console.log(
    "PostgreSQL end-to-end tests skipped: set QUEUECTL_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)",
  );
}

const opts = {
  sanitizeResources: false,
  sanitizeOps: false,
  ignore: !url || Deno.build.os === "windows", // sh jobs
};
/** QUEUECTL_STRESS=1: the exactly-once run drains 10,000 jobs instead of 5,000. */
const TOTAL = Deno.env.get("QUEUECTL_STRESS") === "1" ? 10_000 : 5_000;

/** A fresh schema on the test database; dropped by `cleanup`. */
function schemaUrl(): { db: string; schema: string; drop(): Promise<void> } {
  const schema = `qe_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const db = new URL(url!);
  db.searchParams.set("schema", schema);
  return {
    db: db.href,
    schema,
    async drop() {
      const sql = postgres(url!, { onnotice: () => {}, max: 1 });
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.end();
    },
  };
}

interface Machine {
  home: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

async function machine(name: string, db: string): Promise<Machine> {
  const { home, cleanup } = await tempHome();
  return { home, env: { QUEUECTL_DB: db, QUEUECTL_HOST: name }, cleanup };
}

async function run(m: Machine, args: string[], stdin?: string) {
  const result = await cli(m.home, args, { env: m.env, stdin });
  assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
  return result;
}

async function json<T>(m: Machine, args: string[]): Promise<T> {
  return JSON.parse((await run(m, [...args, "--json"])).stdout) as T;
}

/**
 * What the database and the supervisors' logs say about jobs that ran other than once, for
 * the message of a failed exactly-once check: a failure must explain itself.
 */
async function explainRuns(m: Machine, ids: string[], logs: string[]): Promise<string> {
  const lines: string[] = [];
  for (const id of ids.slice(0, 5)) {
    const shown = await cli(m.home, ["show", id, "--json"], { env: m.env });
    lines.push(`--- ${id}: ${shown.stdout.trim() || shown.stderr.trim()}`);
    const pattern = new RegExp(`\\b${id}\\b`);
    for (const log of logs) lines.push(...log.split("\n").filter((line) => pattern.test(line)));
  }
  return lines.join("\n");
}

Deno.test({
  name: `postgres: two machines with 4 workers each drain ${
    TOTAL.toLocaleString("en-US")
  } jobs, each run exactly once`,
  ...opts,
  fn: async () => {
    const { db, drop } = schemaUrl();
    const a = await machine("machine-a", db);
    const b = await machine("machine-b", db);
    try {
      const file = `${a.home}/ran.txt`;
      const jobs = Array.from(
        { length: TOTAL },
        (_, i) => JSON.stringify({ id: `j${i}`, command: `echo $QUEUECTL_JOB_ID >> ${file}` }),
      );
      assert.equal(
        (await cli(a.home, ["enqueue", "--file", "-"], { stdin: jobs.join("\n"), env: a.env }))
          .code,
        0,
      );
      const runA = spawnCli(a.home, ["worker", "start", "--count", "4"], { env: a.env });
      const runB = spawnCli(b.home, ["worker", "start", "--count", "4"], { env: b.env });
      const workers = await waitFor("8 workers on two hosts", async () => {
        const list = await json<{ host: string; kind: string }[]>(a, ["worker", "list"]);
        return list.filter((w) => w.kind === "worker").length === 8 ? list : null;
      });
      assert.deepEqual([...new Set(workers.map((w) => w.host))].sort(), ["machine-a", "machine-b"]);
      await waitFor(
        "every job to complete",
        async () =>
          (await json<{ jobs: Record<string, number> }>(b, ["status"])).jobs.completed === TOTAL,
        (TOTAL / 10 + 120) * 1000,
      );
      // worker stop from a third machine stops both.
      const c = await machine("machine-c", db);
      assert.match((await run(c, ["worker", "stop"])).stdout, /Asked 2 supervisors to stop/);
      await c.cleanup();
      assert.equal(await runA.done, 0, runA.output());
      assert.equal(await runB.done, 0, runB.output());
      const ran = (await Deno.readTextFile(file)).trim().split("\n");
      const seen = new Map<string, number>();
      for (const id of ran) seen.set(id, (seen.get(id) ?? 0) + 1);
      const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
      const never = Array.from({ length: TOTAL }, (_, i) => `j${i}`).filter((id) => !seen.has(id));
      const logs = [runA.output(), runB.output()];
      if (twice.length || never.length || ran.length !== TOTAL) {
        assert.fail(
          `${ran.length} runs of ${TOTAL} jobs; ran twice: ${twice.slice(0, 20)}; never: ${
            never.slice(0, 20)
          }\n${await explainRuns(a, [...twice, ...never], logs)}`,
        );
      }
      assert.equal(seen.size, TOTAL, "every job ran");
      assert.match(runA.output(), /completed/);
      assert.match(runB.output(), /completed/);
    } finally {
      await a.cleanup();
      await b.cleanup();
      await drop();
    }
  },
});

Deno.test({
  name: "postgres: kill -9 of one machine mid-run: the other recovers its jobs after the lease",
  ...opts,
  fn: async () => {
    const { db, drop } = schemaUrl();
    const a = await machine("doomed", db);
    const b = await machine("survivor", db);
    try {
      await run(a, ["config", "set", "lease-timeout", "2"]);
      await run(a, ["config", "set", "backoff-base", "1"]);
      const file = `${a.home}/ran.txt`;
      const jobs = Array.from(
        { length: 40 },
        (_, i) =>
          JSON.stringify({
            id: `k${i}`,
            // On the doomed machine a job blocks until the machine dies.
            command: `[ "$QUEUECTL_HOST" = doomed ] && sleep 60; echo $QUEUECTL_JOB_ID >> ${file}`,
            max_retries: 3,
          }),
      );
      await cli(a.home, ["enqueue", "--file", "-"], { stdin: jobs.join("\n"), env: a.env });
      const runA = spawnCli(a.home, ["worker", "start", "--count", "2"], {
        env: a.env,
        detached: true,
      });
      const held = await waitFor("machine a to hold jobs", async () => {
        const list = await json<
          { pid: number; kind: string; host: string; current_job: string | null }[]
        >(a, ["worker", "list"]);
        const mine = list.filter((w) => w.host === "doomed" && w.kind === "worker");
        return mine.length === 2 && mine.every((w) => w.current_job) ? mine : null;
      });
      // The whole machine dies: supervisor and workers (each leads its own group).
      Deno.kill(-runA.child.pid, "SIGKILL");
      for (const w of held) Deno.kill(-w.pid, "SIGKILL");
      await runA.done;
      const runB = spawnCli(b.home, ["worker", "start", "--count", "2", "--drain"], { env: b.env });
      assert.equal(await runB.done, 0, runB.output());
      assert.match(runB.output(), /worker lost \(lease expired\)/);
      for (const w of held) {
        const job = await json<
          { state: string; attempts: number; history: { outcome: string; worker: string }[] }
        >(
          b,
          ["show", w.current_job!],
        );
        assert.equal(job.state, "completed", `${w.current_job} completed on the survivor`);
        assert.equal(job.history[0].outcome, "lost");
        assert.match(job.history.at(-1)!.worker, /^survivor-/);
      }
      const status = await json<{ jobs: Record<string, number> }>(b, ["status"]);
      assert.equal(status.jobs.completed, 40, "no job lost");
    } finally {
      await a.cleanup();
      await b.cleanup();
      await drop();
    }
  },
});

Deno.test({
  name: "postgres: terminating every connection mid-run: workers reconnect and no job is lost",
  ...opts,
  fn: async () => {
    const { db, schema, drop } = schemaUrl();
    const m = await machine("flaky-network", db);
    const admin = postgres(url!, { onnotice: () => {}, max: 1 });
    try {
      const file = `${m.home}/ran.txt`;
      // Sized by time: a feeder keeps 100 jobs queued until the three cuts are done, so the
      // workers are busy through every cut however fast the machine is.
      // The cuts also end the feeder's own connections: a batch that failed is sent again,
      // with --if-absent, since it may have committed before its connection went.
      let total = 0;
      const topUp = async (count: number) => {
        const jobs = Array.from({ length: count }, (_, i) =>
          JSON.stringify({
            id: `t${total + i}`,
            command: `sleep 0.01; echo $QUEUECTL_JOB_ID >> ${file}`,
          }));
        const result = await cli(m.home, ["enqueue", "--if-absent", "--file", "-"], {
          env: m.env,
          stdin: jobs.join("\n"),
        });
        if (result.code === 0) total += count;
      };
      await topUp(100);
      assert.equal(total, 100);
      // No --drain: the queue may run dry for a moment between two top-ups.
      const runner = spawnCli(m.home, ["worker", "start", "--count", "2"], { env: m.env });
      let cutting = true;
      const feeder = (async () => {
        while (cutting) {
          const status = await cli(m.home, ["status", "--json"], { env: m.env });
          const pending = status.code === 0 ? JSON.parse(status.stdout).jobs.pending : 100;
          if (pending < 100) await topUp(100 - pending);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      try {
        await waitFor("some jobs to complete", async () => {
          const text = await Deno.readTextFile(file).catch(() => "");
          return text.split("\n").length > 30;
        });
        for (let round = 0; round < 3; round++) {
          // Only this test's connections: the server is shared with other tests and other runs.
          const killed = await admin`
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = ${"queuectl:" + schema}`;
          assert.ok(killed.length > 0, "there were connections to terminate");
          await waitFor("progress after the cut", async () => {
            const before = (await Deno.readTextFile(file)).split("\n").length;
            await new Promise((resolve) => setTimeout(resolve, 200));
            return (await Deno.readTextFile(file)).split("\n").length > before;
          });
        }
      } finally {
        cutting = false;
        await feeder;
      }
      await waitFor("every job to complete", async () => {
        const status = await json<{ jobs: Record<string, number> }>(m, ["status"]);
        return status.jobs.completed === total;
      }, 60_000);
      runner.child.kill("SIGTERM");
      assert.equal(await runner.done, 0, runner.output());
      const ran = new Set((await Deno.readTextFile(file)).trim().split("\n"));
      assert.equal(ran.size, total, "every job ran");
    } finally {
      await admin.end();
      await m.cleanup();
      await drop();
    }
  },
});

Deno.test({
  name: "postgres: a CLI command against an unreachable server fails with one line and exit 1",
  ignore: !url,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const result = await cli(home, ["status", "--db", "postgres://postgres@127.0.0.1:1/test"]);
      assert.equal(result.code, 1);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], /^error: /);
      assert.doesNotMatch(lines[0], /password/);
    } finally {
      await cleanup();
    }
  },
});
