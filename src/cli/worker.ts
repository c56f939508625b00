/**
 * `worker start|stop|list`, and the hidden `worker run` that the supervisor
 * starts once per worker process.
 * @module
 */

import { join } from "node:path";
import { invalid, QueueError } from "../core/errors.ts";
import { parseDuration } from "../core/duration.ts";
import { workerToJson } from "../core/format.ts";
import { parseQueueList } from "../core/queue_name.ts";
import { openStore } from "../store/store.ts";
import { positiveInt } from "./args.ts";
import { hostName, resolveDb, resolveHome, withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { dim, out, printJson, printTable, relative } from "./output.ts";

/** How long `worker start --detach` waits for the background supervisor to register. */
const DETACH_WAIT_MS = 30_000;

function appendLog(path: string): (line: string) => void {
  return (line) => Deno.writeTextFileSync(path, line + "\n", { append: true, mode: 0o600 });
}

/** Registers `worker`. */
export function registerWorker(program: Program): void {
  const worker = program.command("worker").description("run and manage worker processes");

  worker.command("start")
    .description("run N worker processes under a supervisor in the foreground")
    .option("-n, --count <n>", "number of worker processes (default 1)", positiveInt(256), 1)
    .option("--drain", "exit once nothing is pending, processing or waiting to retry")
    .option("-q, --queue <names>", "claim only from these queues, comma-separated (default: all)")
    .option("-d, --detach", "run in the background (log in <home>/worker.log); print the pid")
    .option("--log-file <path>", "append the log to this file instead of stdout")
    .action(async (options, command) => {
      const globals = command.optsWithGlobals();
      const db = resolveDb(globals.db);
      const queues = options.queue === undefined ? undefined : parseQueueList(options.queue);
      if (options.detach) {
        const home = resolveHome();
        await Deno.mkdir(home, { recursive: true, mode: 0o700 });
        const logFile = options.logFile ?? join(home, "worker.log");
        const args = [
          "worker",
          "start",
          "--count",
          String(options.count),
          "--db",
          db,
          "--log-file",
          logFile,
        ];
        if (options.drain) args.push("--drain");
        if (queues) args.push("--queue", queues.join(","));
        const { selfCommand } = await import("../worker/self_command.ts");
        const self = selfCommand(args);
        const child = new Deno.Command(self.program, {
          args: self.args,
          stdin: "null",
          stdout: "null",
          stderr: "null",
          detached: true,
        }).spawn();
        let exited = false;
        child.status.then(() => exited = true);
        child.unref();
        // Return once the supervisor has registered: a `worker stop` issued before its
        // first heartbeat would not reach it, so `start --detach && stop` would leave it running.
        await withStore(globals, async (store) => {
          const deadline = Date.now() + DETACH_WAIT_MS;
          while (true) {
            const live = await store.listWorkers();
            if (live.some((w) => w.kind === "supervisor" && w.pid === child.pid)) return;
            if (exited || Date.now() > deadline) {
              throw new QueueError(
                "unavailable",
                `The background supervisor (pid ${child.pid}) ${
                  exited ? "exited at once" : "did not start in time"
                }; see ${logFile}`,
              );
            }
            await store.waitForChange(100);
          }
        }, { listen: false }); // registrations notify nobody: polling needs no LISTEN connection
        out(String(child.pid));
        console.error(
          dim(
            `supervisor started in the background; log: ${logFile}; stop it with: queuectl worker stop`,
          ),
        );
        return;
      }
      // The worker runtime loads only for the commands that run it.
      const { runSupervisor } = await import("../worker/supervisor.ts");
      const log = options.logFile ? appendLog(options.logFile) : out;
      // Workers write their job lines themselves: to the same file, or to our stdout.
      const store = await openStore(db);
      try {
        const code = await runSupervisor({
          store,
          db,
          count: options.count,
          drain: !!options.drain,
          queues,
          host: hostName(),
          log,
          logFile: options.logFile,
        });
        if (code !== 0) Deno.exit(code);
      } finally {
        await store.close();
      }
    });

  worker.command("stop")
    .description(
      "gracefully stop every supervisor on this database (any machine); running jobs finish",
    )
    .option("--no-wait", "return at once instead of waiting until they are gone")
    .option("--timeout <duration>", "give up waiting after this long (exit 1)")
    .action(async (options, command) => {
      const timeout = options.timeout === undefined ? null : parseDuration(options.timeout);
      if (timeout === null && options.timeout !== undefined || (timeout !== null && timeout <= 0)) {
        throw invalid(
          `--timeout must be a duration like 30s or 5m, got ${JSON.stringify(options.timeout)}`,
        );
      }
      await withStore(command.optsWithGlobals(), async (store) => {
        const asked = await store.requestStop();
        if (asked === 0) return out("No workers are running.");
        out(
          `Asked ${asked} supervisor${asked === 1 ? "" : "s"} to stop; running jobs finish first.`,
        );
        if (!options.wait) return;
        const deadline = timeout === null ? Infinity : Date.now() + timeout * 1000;
        while (true) {
          const live = (await store.listWorkers()).filter((w) => w.kind === "supervisor");
          if (live.length === 0) return out("All workers stopped.");
          if (Date.now() > deadline) {
            throw new QueueError(
              "unavailable",
              `${live.length} supervisor(s) still running after ${options.timeout}`,
            );
          }
          // Sweeping leases also forgets supervisors that died without unregistering.
          await store.recover();
          await store.waitForChange(250);
        }
      }, { listen: false }); // supervisors leaving notify nobody: polling needs no LISTEN connection
    });

  worker.command("list")
    .description("live workers: id, host, pid, current job, last heartbeat")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        const workers = await store.listWorkers();
        if (options.json) return printJson(workers.map(workerToJson));
        if (workers.length === 0) return out("No workers are running.");
        const now = Date.now();
        printTable(
          ["ID", "KIND", "HOST", "PID", "JOB", "HEARTBEAT"],
          workers.map((
            w,
          ) => [
            w.id,
            w.kind,
            w.host,
            String(w.pid),
            w.currentJob ?? "-",
            relative(w.heartbeatAt, now),
          ]),
        );
      });
    });
}
