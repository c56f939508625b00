// Many machines on one PostgreSQL queue (SPEC §11): the connection budget, one machine cut off
// from the database while the others go on, and a fleet draining a queue exactly once. Machines
// are supervisors with their own data dir and QUEUECTL_HOST; each may reach the database through
// a TCP proxy of its own on loopback (fleet_helpers.ts), which is how one of them is cut off.
import assert from "node:assert/strict";
import { cleanupStack, ndjson, waitFor, within } from "./helpers.ts";
import {
  admin,
  connectionsOf,
  dropSchema,
  type Machine,
  machine,
  newSchema,
  PG_URL,
} from "./fleet_helpers.ts";

if (!PG_URL) {
  console.log(
    "Fleet tests skipped: set QUEUECTL_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)",
  );
}

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
