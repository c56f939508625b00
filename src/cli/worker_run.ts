/**
 * `worker run`: one worker process, as its supervisor starts it. It takes
 * its few flags without commander: a worker starts once per process, and the
 * command tree with the Node compatibility it loads costs each start about
 * 40 ms of CPU on the cores that run the jobs. Not for people: its flags may
 * change with any version.
 * @module
 */

import { invalid, quote } from "../core/errors.ts";
import { parseQueueList } from "../core/queue_name.ts";
import { openStore } from "../store/store.ts";
import { readSupervisorPipe, relayedFor, WakeSignal, withRelayedWakeups } from "../worker/wake.ts";
import { hostName, resolveDb } from "./context.ts";

/** The flags of `worker run`. */
interface RunFlags {
  id?: string;
  db?: string;
  supervisor?: string;
  queue?: string;
  name?: string;
  logFile?: string;
  journal?: string;
  groupLeader: boolean;
}

const VALUED: Record<string, keyof RunFlags> = {
  "--id": "id",
  "--db": "db",
  "--supervisor": "supervisor",
  "--queue": "queue",
  "--name": "name",
  "--log-file": "logFile",
  "--journal": "journal",
};

/** Reads `worker run`'s flags; throws a bad-input error on anything else. */
export function parseRunFlags(args: string[]): RunFlags & { id: string } {
  const flags: RunFlags = { groupLeader: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--group-leader") {
      flags.groupLeader = true;
    } else if (arg in VALUED && i + 1 < args.length) {
      (flags as unknown as Record<string, string>)[VALUED[arg]] = args[++i];
    } else {
      throw invalid(`worker run: unexpected argument ${quote(arg)}`);
    }
  }
  if (!flags.id) throw invalid("worker run: --id is required");
  return flags as RunFlags & { id: string };
}

/** Runs one worker until its supervisor stops it; returns the exit code. */
export async function workerRun(args: string[]): Promise<number> {
  const options = parseRunFlags(args);
  const db = resolveDb(options.db);
  const queues = options.queue === undefined ? undefined : parseQueueList(options.queue);
  // Under a supervisor on PostgreSQL, the supervisor listens and relays wake-ups: one connection.
  const relayed = options.supervisor !== undefined && relayedFor(db);
  const [opened, { runWorker }, { openJournal }, { workerOutput }] = await Promise.all([
    openStore(db, { worker: true, listen: !relayed }),
    import("../worker/worker.ts"),
    import("../worker/journal.ts"),
    import("../worker/log_sink.ts"),
  ]);
  const wakes = new WakeSignal();
  const store = relayed ? withRelayedWakeups(opened, wakes) : opened;
  const stop = new AbortController();
  // Ctrl-C reaches the whole terminal process group; only the supervisor decides.
  Deno.addSignalListener("SIGINT", () => {});
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => stop.abort());
  // The supervisor writes "wake" to our stdin; its end means stop (or that it is gone).
  void readSupervisorPipe(Deno.stdin.readable, {
    onWake: () => wakes.wake(),
    onStop: () => stop.abort(),
  });
  const output = workerOutput(options.name ?? options.id, options.logFile);
  const journal = options.journal ? openJournal(options.journal) : undefined;
  try {
    await runWorker({
      id: options.id,
      groupLeader: options.groupLeader,
      host: hostName(),
      supervisor: options.supervisor ?? null,
      store,
      stop: stop.signal,
      emit: output.emit,
      control: output.control,
      journal,
      queues,
    });
  } finally {
    await store.close();
    output.close();
    journal?.close();
  }
  return 0;
}
