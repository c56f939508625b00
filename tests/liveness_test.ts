// Dead supervisors and workers of this machine are seen at once (issue 12): a row whose host is
// this machine and whose process is gone (or whose pid now belongs to a younger process) is
// neither listed, counted nor asked to stop; other hosts' rows still age out by heartbeat.
// On SQLite always, on PostgreSQL when QUEUECTL_TEST_POSTGRES_URL names a database.
import assert from "node:assert/strict";
import { openStore, type Store } from "../src/store/store.ts";
import { liveWorkers, ownStartTime, processStartTime } from "../src/worker/liveness.ts";
import { cleanupStack, cli, killGroup, spawnCli, tempHome, waitFor, within } from "./helpers.ts";
import { dropSchema, newSchema, PG_URL, queueUrl } from "./fleet_helpers.ts";

interface Backend {
  name: string;
  ignore: boolean;
  /** A fresh database for one test, removed at cleanup. */
  fresh(cleanup: ReturnType<typeof cleanupStack>): Promise<{ home: string; db: string }>;
}

const BACKENDS: Backend[] = [
  {
    name: "sqlite",
    ignore: false,
    async fresh(cleanup) {
      const made = await tempHome();
      cleanup.defer(made.cleanup);
      return made;
    },
  },
  {
    name: "postgres",
    ignore: !PG_URL,
    async fresh(cleanup) {
      const made = await tempHome();
      cleanup.defer(made.cleanup);
      const schema = newSchema();
      cleanup.defer(() => dropSchema(schema));
      return { home: made.home, db: queueUrl(PG_URL!, schema) };
    },
  },
];

/** The pid of a process that has just exited. */
async function exitedPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

for (const backend of BACKENDS) {
  Deno.test({
    name: `liveness [${backend.name}]: gone local processes and reused pids are dead now; ` +
      "other hosts' rows are left to their heartbeat",
    ignore: backend.ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const cleanup = cleanupStack();
      try {
        const { db } = await backend.fresh(cleanup);
        const store: Store = await openStore(db);
        cleanup.defer(() => store.close());
        ownStartTime(); // asks in the background
        const me = await waitFor("this process's start time", () => ownStartTime());
        const again = await processStartTime(Deno.pid);
        assert.ok(again && Math.abs(again - me) < 2000, "the same start, to the second");
        assert.ok(Math.abs(me - Date.now()) < 3_600_000, "this process's start");
        assert.equal(await processStartTime(await exitedPid()), null, "an exited process has none");
        const gonePid = await exitedPid();
        const beat = {
          kind: "supervisor" as const,
          supervisor: null,
          currentJob: null,
          leaseMs: 30_000,
        };
        const rows = [
          { id: "alive", host: "here", pid: Deno.pid, processStartedAt: me },
          { id: "exited", host: "here", pid: gonePid, processStartedAt: me },
          // Same pid, but the process with it started an hour after this registration.
          { id: "reused", host: "here", pid: Deno.pid, processStartedAt: me - 3_600_000 },
          { id: "unknown-start", host: "here", pid: Deno.pid, processStartedAt: null },
          { id: "elsewhere", host: "another-machine", pid: gonePid, processStartedAt: me },
        ];
        for (const row of rows) await store.heartbeat({ ...beat, ...row });

        const live = await liveWorkers(store, "here");
        assert.deepEqual(live.map((w) => w.id).sort(), ["alive", "elsewhere", "unknown-start"]);
        assert.deepEqual(
          (await store.listWorkers()).map((w) => w.id).sort(),
          ["alive", "elsewhere", "unknown-start"],
          "the dead rows were forgotten",
        );
        const fromThere = await liveWorkers(store, "another-machine");
        assert.deepEqual(
          fromThere.map((w) => w.id).sort(),
          ["alive", "unknown-start"],
          "seen from there, its own row is dead and ours are left to their heartbeat",
        );
      } finally {
        await cleanup.run();
      }
    },
  });

  Deno.test({
    name: `liveness [${backend.name}]: after kill -9 of one worker start, worker list, status ` +
      "and worker stop see only the live one at once",
    ignore: backend.ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const cleanup = cleanupStack();
      try {
        const { home, db } = await backend.fresh(cleanup);
        const env = { QUEUECTL_DB: db };
        const run = async (args: string[]) => {
          const result = await cli(home, args, { env });
          assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
          return result.stdout;
        };
        // A stale heartbeat would take 10 minutes to drop the dead supervisor.
        await run(["config", "set", "lease-timeout", "600"]);
        const start = () => {
          const running = spawnCli(home, ["worker", "start", "--count", "1"], {
            env,
            detached: true,
          });
          cleanup.defer(async () => {
            killGroup(running.child.pid);
            await within("a supervisor to exit", running.done, 30_000);
          });
          return running;
        };
        const doomed = start();
        const survivor = start();
        type Row = { kind: string; pid: number; supervisor: string | null; id: string };
        const list = async () => JSON.parse(await run(["worker", "list", "--json"])) as Row[];
        await waitFor("both supervisors and their workers", async () => {
          const rows = await list();
          return rows.filter((w) => w.kind === "supervisor").length === 2 &&
            rows.filter((w) => w.kind === "worker").length === 2;
        });
        const doomedId = (await list()).find((w) => w.pid === doomed.child.pid)!.id;

        Deno.kill(doomed.child.pid, "SIGKILL");
        await doomed.done;
        const rows = await list();
        assert.deepEqual(
          rows.filter((w) => w.kind === "supervisor").map((w) => w.pid),
          [survivor.child.pid],
          "worker list: the killed supervisor is gone at once",
        );
        // Its worker saw its stdin close and stops; until it has, it is still alive.
        await waitFor("the orphaned worker to leave", async () => {
          return !(await list()).some((w) => w.supervisor === doomedId);
        });
        const status = JSON.parse(await run(["status", "--json"]));
        assert.equal(status.supervisors, 1, "status counts one supervisor");
        assert.equal(status.workers, 1);

        const stop = await within("worker stop", run(["worker", "stop"]), 120_000);
        assert.match(stop, /^Asked 1 supervisor to stop/);
        assert.match(stop, /All workers stopped\./);
        assert.equal(await survivor.done, 0, survivor.output());
        assert.deepEqual(await list(), []);
      } finally {
        await cleanup.run();
      }
    },
  });
}
