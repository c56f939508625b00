/**
 * The supervisor behind `worker start`: runs N worker processes (copies of
 * this program), prints their job events, restarts a worker that dies and
 * fails its job at once, and stops them all gracefully on `worker stop`,
 * Ctrl-C or SIGTERM (a second Ctrl-C stops at once).
 *
 * Workers report on their stdout (one JSON event per line, see events.ts);
 * the supervisor tells them to stop by closing their stdin, which works on
 * every OS and needs no I/O thread (see stopGracefully). A worker whose stdin
 * closes because its supervisor died stops gracefully the same way. On
 * PostgreSQL (not on Windows) the supervisor also LISTENs for its workers and
 * writes `wake` to their stdin (wake.ts), so each worker holds one connection.
 * @module
 */

import type { Store } from "../store/store.ts";
import { leftToRun } from "./drain.ts";
import { describeEvent, parseControl, timeNow } from "./events.ts";
import { readJournal } from "./journal.ts";
import { ownStartTime } from "./liveness.ts";
import { type JobTree, killTree } from "./shell.ts";
import { readChunks } from "./pipe.ts";
import { currentSelf, selfCommand, type SelfInfo } from "./self_command.ts";
import { type Services, startSupervisorServices } from "./services/mod.ts";
import { relayWakeups, wakeSender } from "./wake.ts";

/** Heartbeat period of the supervisor (it also learns of `worker stop` through it). */
export const SUPERVISOR_BEAT_MS = 1000;
/** A worker that dies sooner than this after starting is restarted with a growing delay. */
const CRASH_WINDOW_MS = 2000;
const RESTART_MAX_DELAY_MS = 10_000;
/** Longest delay between a job event and the drain check it triggers. */
const DRAIN_CHECK_MS = 10;
/** Longest wait for every worker to take a stop before the supervisor says it stopped claiming. */
const STOP_ACK_MS = 2000;
/** How long a worker's output may stay open after it exited before the exit is handled. */
const EXIT_OUTPUT_MS = 1000;

/** What a supervisor needs. */
export interface SupervisorOptions {
  store: Store;
  /** The `--db` value the workers open. */
  db: string;
  count: number;
  /** Exit once nothing is pending, processing or waiting to retry. */
  drain: boolean;
  /** Queues the workers claim from (default: all). */
  queues?: readonly string[];
  host: string;
  /** Where log lines go (stdout, or worker.log when detached). */
  log: (line: string) => void;
  /** The log file `log` appends to, if any: workers write their job lines there too. */
  logFile?: string;
  /** Test hook: how to start this program again. */
  self?: SelfInfo;
  /**
   * Test hook: another source of Ctrl-C, each call of `press` one press (tests cannot
   * send a console Ctrl-C on Windows).
   */
  interrupts?: (press: () => void) => void;
}

interface Slot {
  index: number;
  workerId: string;
  child: Deno.ChildProcess;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
  /** Writes `wake` to the worker's stdin (wake.ts). */
  wake: () => void;
  startedAt: number;
  /** The worker's started-jobs journal (journal.ts): what it ran, if it dies. */
  journal: string;
  /** Resolves when the worker has taken the stop (or exited). */
  stopped: Promise<void>;
  onStopped: () => void;
  exited: Promise<void>;
  restartDelay: number;
}

/** Runs until stopped; returns the exit code (0 graceful, 130 stopped at once). */
export async function runSupervisor(options: SupervisorOptions): Promise<number> {
  const { store, host } = options;
  // The log's reader may go away (`worker start | head`). Then we stop gracefully, as a
  // SIGPIPE would stop a plain Unix tool, and say so once on stderr if that is still open.
  let logOpen = true;
  const log = (line: string) => {
    if (!logOpen) return;
    try {
      options.log(line);
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      logClosed();
    }
  };
  const logClosed = () => {
    if (!logOpen) return;
    logOpen = false;
    const line = `${timeNow()} supervisor: its output was closed; stopping (running jobs finish)\n`;
    try {
      Deno.stderr.writeSync(new TextEncoder().encode(line));
    } catch { /* stderr is gone too */ }
    void stopGracefully("output closed");
  };
  const id = `${host}-${Deno.pid}-${crypto.randomUUID().slice(0, 4)}`;
  const self = options.self ?? currentSelf();
  const slots: Slot[] = [];
  let spawned = 0;
  // The workers' started-jobs journals, removed when we stop.
  const journals = await Deno.makeTempDir({ prefix: "queuectl-supervisor-" });
  let stopping: "graceful" | "now" | null = null;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => resolveDone = resolve);

  const stopGracefully = async (why: string) => {
    if (stopping) return;
    stopping = "graceful";
    // Close stdin rather than write to it. On Windows, Deno does child-pipe I/O on
    // a pool of 4 × cores blocking threads, and each pending read of a worker's
    // stdout and stderr holds one until the worker prints: from --count 2 × cores
    // on, idle workers held them all, a queued "stop" write never ran, and the
    // drain never ended (issue 13). Closing a pipe needs no thread.
    for (const slot of slots) void slot.stdin.close().catch(() => {});
    // Only once every worker took the stop is it true that nothing new starts: a job
    // a worker started before it saw the stop is reported above this line, not below.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(slots.map((slot) => slot.stopped)),
      new Promise((resolve) => timer = setTimeout(resolve, STOP_ACK_MS)),
    ]);
    clearTimeout(timer);
    if (stopping !== "graceful") return; // stopped at once meanwhile
    log(`${timeNow()} supervisor stopping (${why}): running jobs finish, nothing new is claimed`);
    // A stop at once meanwhile decides the exit code itself (its kills end these waits).
    void Promise.all(slots.map((slot) => slot.exited)).then(() => {
      if (stopping === "graceful") resolveDone(0);
    });
  };
  const stopNow = async () => {
    if (stopping === "now") return;
    stopping = "now";
    log(`${timeNow()} supervisor stopping at once: killing workers and their jobs`);
    await Promise.all(slots.map(async (slot) => {
      // The worker with its job's whole tree in one kill. On Windows, killing the worker
      // alone first takes its cmd.exe down too (seen under Wine: Deno's children end with
      // it), and job processes that outlive that could no longer be found by `taskkill /T`.
      await killTree(workerTree(slot), "SIGKILL");
      try {
        slot.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await store.releaseWorker(
        slot.workerId,
        "worker lost (supervisor stopped at once)",
        await readJournal(slot.journal),
      ).catch(() => {});
    }));
    resolveDone(130);
  };

  const start = (index: number, restartDelay = 0) => {
    spawned++;
    const workerId = `${id}/w${spawned}`;
    const journal = `${journals}/w${spawned}.started`;
    const command = selfCommand([
      "worker",
      "run",
      "--id",
      workerId,
      "--supervisor",
      id,
      "--db",
      options.db,
      ...(options.queues ? ["--queue", options.queues.join(",")] : []),
      // It leads its own process group (below): it need not ask `ps` at start.
      ...(Deno.build.os === "windows" ? [] : ["--group-leader"]),
      "--name",
      `w${index + 1}`,
      "--journal",
      journal,
      ...(options.logFile ? ["--log-file", options.logFile] : []),
    ], self);
    const child = new Deno.Command(command.program, {
      args: command.args,
      stdin: "piped",
      // Its job lines go straight to our stdout (or the log file): nothing to relay per job.
      stdout: options.logFile ? "null" : "inherit",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      // Its own process group: jobs run inside it (see RunSpec.sharedGroup), and
      // Ctrl-C in the terminal reaches only the supervisor, which decides.
      detached: Deno.build.os !== "windows",
    }).spawn();
    let onStopped!: () => void;
    const stdin = child.stdin.getWriter();
    const slot: Slot = {
      index,
      workerId,
      child,
      stdin,
      wake: wakeSender(stdin),
      startedAt: performance.now(),
      journal,
      stopped: new Promise((resolve) => onStopped = resolve),
      onStopped,
      exited: Promise.resolve(),
      restartDelay,
    };
    slots[index] = slot;
    const reading = readLines(child.stderr, (lines) => onStderr(slot, lines));
    slot.exited = (async () => {
      const status = await child.status;
      // On Windows a job's processes inherit the worker's pipes, and may outlive it:
      // read what the worker wrote, but do not wait for them to let go.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        reading,
        new Promise((done) => timer = setTimeout(done, EXIT_OUTPUT_MS)),
      ]);
      clearTimeout(timer);
      slot.onStopped();
      await onExit(slot, status);
    })();
  };

  /** A worker's stderr: control lines for us, anything else printed as its stderr. */
  const onStderr = (slot: Slot, lines: string[]) => {
    const printed: string[] = [];
    for (const line of lines) {
      const control = parseControl(line);
      if (control?.e === "stopping") slot.onStopped();
      else if (control?.e === "idle") {
        if (options.drain) drainSoon();
      } else if (control?.e === "output_closed") logClosed();
      else if (!control) printed.push(`${timeNow()} w${slot.index + 1} stderr: ${line}`);
    }
    if (printed.length > 0) log(printed.join("\n"));
  };

  const onExit = async (slot: Slot, status: Deno.CommandStatus) => {
    const clean = status.success && stopping !== null;
    if (clean || stopping === "now") return;
    const reason = status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
    await killTree(workerTree(slot), "SIGKILL");
    // Jobs it held but never started go back unrun; those its journal names count a lost run.
    const outcomes = await store.releaseWorker(
      slot.workerId,
      `worker lost (${reason})`,
      await readJournal(slot.journal),
    ).catch(() => []);
    for (const outcome of outcomes) {
      log(describeEvent(`w${slot.index + 1}`, {
        e: "recovered",
        job: outcome.id,
        state: outcome.state,
        error: outcome.error,
      }));
    }
    if (stopping) return;
    const crashed = performance.now() - slot.startedAt < CRASH_WINDOW_MS;
    const delay = crashed
      ? Math.min(Math.max(slot.restartDelay * 2, 250), RESTART_MAX_DELAY_MS)
      : 0;
    log(
      `${timeNow()} w${slot.index + 1} worker exited (${reason}); restarting${
        delay ? ` in ${delay} ms` : ""
      }`,
    );
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    if (!stopping) start(slot.index, delay);
  };

  // After a job event, check for an empty queue at most every DRAIN_CHECK_MS.
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  const drainSoon = () => {
    drainTimer ??= setTimeout(() => {
      drainTimer = undefined;
      void checkDrained().catch(() => {}); // the next heartbeat checks again
    }, DRAIN_CHECK_MS);
  };
  let drainCheck: Promise<void> | null = null;
  const checkDrained = () =>
    drainCheck ??= (async () => {
      try {
        if (!(await leftToRun(store, options.queues))) {
          void stopGracefully(
            "drained: nothing left to run",
          );
        }
      } finally {
        drainCheck = null;
      }
    })();

  // Signals: first Ctrl-C / SIGTERM stops gracefully, a second Ctrl-C at once.
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  const onSignal = (signal: Deno.Signal) => () => {
    if (!stopping) void stopGracefully(`${signal} received; press Ctrl-C again to stop at once`);
    else if (signal !== "SIGTERM") void stopNow();
  };
  const handlers = signals.map((signal) => [signal, onSignal(signal)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  options.interrupts?.(onSignal("SIGINT"));

  const beat = async () => {
    const config = await store.getConfig();
    const reply = await store.heartbeat({
      id,
      kind: "supervisor",
      host,
      pid: Deno.pid,
      supervisor: null,
      currentJob: null,
      leaseMs: config.leaseTimeout * 1000,
      processStartedAt: ownStartTime(),
    });
    if (reply.stop) void stopGracefully("worker stop");
    if (options.drain) await checkDrained();
  };
  let beating: Promise<void> | null = null;
  // One line when the database goes away and one when it is back, as workers log.
  let down = false;
  const beatTimer = setInterval(() => {
    beating ??= beat().then(
      () => {
        if (down) log(`${timeNow()} supervisor database reachable again; resuming`);
        down = false;
      },
      (error) => {
        const why = (error as Error).message.split("\n")[0];
        if (!down) log(`${timeNow()} supervisor database unavailable (${why}); retrying`);
        down = true;
      },
    ).finally(() => beating = null);
  }, SUPERVISOR_BEAT_MS);
  let relay: { stop(): Promise<void> } | null = null;

  // Retention and schedules (services/): started once registered, stopped before unregistering.
  let services: Services | null = null;
  try {
    await beat();
    services = startSupervisorServices(store, id, (message) => log(`${timeNow()} ${message}`));
    // The first beat may already have found nothing to drain: then start no worker
    // (one started now would outlive this function, its stop having been sent).
    if (!stopping) {
      log(
        `${timeNow()} supervisor ${id} started ${options.count} worker${
          options.count === 1 ? "" : "s"
        } on ${store.location}${options.queues ? ` for queues ${options.queues.join(", ")}` : ""}${
          options.drain ? " (drain)" : ""
        }`,
      );
      relay = relayWakeups(store, () => {
        // Not once stopping: closing stdin would wait for the write.
        if (!stopping) { for (const slot of slots) slot.wake(); }
      });
      for (let index = 0; index < options.count; index++) start(index);
    }
    // While the workers start: jobs of workers that went silent go back now.
    for (const outcome of await store.recover()) {
      log(
        describeEvent("supervisor", {
          e: "recovered",
          job: outcome.id,
          state: outcome.state,
          error: outcome.error,
        }),
      );
    }
    if (options.drain) await checkDrained();
    const code = await done;
    if (code === 0) log(`${timeNow()} supervisor stopped`);
    return code;
  } finally {
    clearInterval(beatTimer);
    clearTimeout(drainTimer);
    await services?.stop();
    await Promise.all([beating, relay?.stop()]);
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    await store.unregisterWorker(id).catch(() => {});
    await Deno.remove(journals, { recursive: true }).catch(() => {});
  }
}

/** A worker and everything it started: its process group on Unix, its tree on Windows. */
function workerTree(slot: Slot): JobTree {
  if (Deno.build.os === "windows") return { kind: "windows", pid: slot.child.pid };
  return { kind: "group", pgid: slot.child.pid };
}

/** Calls `onLines` with the complete lines of each chunk read (the last line even unterminated). */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLines: (lines: string[]) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  await readChunks(stream, (chunk) => {
    buffered += decoder.decode(chunk, { stream: true });
    const end = buffered.lastIndexOf("\n");
    if (end < 0) return;
    const lines = buffered.slice(0, end).split("\n");
    buffered = buffered.slice(end + 1);
    onLines(lines);
  });
  if (buffered) onLines([buffered]);
}
