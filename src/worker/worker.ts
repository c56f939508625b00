/**
 * The worker loop: claim → run → settle, one job at a time, until asked to
 * stop. Beside it, one ticker keeps the worker's heartbeat (which extends the
 * lease of its job and tells it when that job was cancelled), refreshes the
 * config, and recovers jobs whose workers went silent.
 * @module
 */

import { type Config, DEFAULT_CONFIG } from "../core/config.ts";
import { QueueError } from "../core/errors.ts";
import type { Job } from "../core/types.ts";
import type { Store } from "../store/store.ts";
import type { WorkerEvent } from "./events.ts";
import { outputFlusher } from "./output_flush.ts";
import { runCommand } from "./runner.ts";
import { processGroupOf } from "./shell.ts";

/** Longest gap between heartbeats; shorter when the lease is short. */
export const HEARTBEAT_MS = 1000;
/** How often the config is re-read. */
export const CONFIG_REFRESH_MS = 5000;
/** Longest gap between two sweeps for expired leases. */
export const RECOVER_MS = 5000;
/** Longest wait between tries when the database is unreachable. */
export const RETRY_MAX_MS = 5000;

/** What a worker needs. */
export interface WorkerOptions {
  id: string;
  host: string;
  supervisor: string | null;
  store: Store;
  /** Aborted for a graceful stop: finish the current job, claim nothing new. */
  stop: AbortSignal;
  /** Receives every job event (the worker process writes them for its supervisor). */
  emit: (event: WorkerEvent) => void;
  /** Claim only from these queues (default: every queue). */
  queues?: readonly string[];
}

/** Runs the worker until `stop` is aborted and its current job is settled. */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { id, store, stop, emit } = options;
  const retry = retrier(emit, stop);
  const config = (await retry(() => store.getConfig())) ?? { ...DEFAULT_CONFIG };
  const state: WorkerState = {
    config,
    current: null,
    claiming: 0,
    claimed: 0,
    holding: new Set(),
    sharedGroup: await ownGroup(),
  };
  const ticker = startTicker(options, state, retry);
  try {
    while (!stop.aborted) {
      const leaseMs = state.config.leaseTimeout * 1000;
      state.claiming++;
      const job = await retry(() => store.claim(id, leaseMs, { queues: options.queues }))
        .finally(() => state.claimed++);
      if (job === undefined) break; // stopped while the database was away
      if (job === null) {
        await store.waitForChange(state.config.pollInterval * 1000, stop);
        continue;
      }
      state.holding.add(job.id);
      try {
        await runJob(job, options, state, retry);
      } finally {
        state.holding.delete(job.id);
      }
    }
  } finally {
    await ticker.stop();
    await store.unregisterWorker(id).catch(() => {});
  }
}

interface WorkerState {
  config: Config;
  /** Set when this worker leads its own process group (see RunSpec.sharedGroup). */
  sharedGroup?: { pgid: number; worker: number };
  /** The job running now, and how to kill it. */
  current: { id: string; abort: AbortController } | null;
  /** Claims started and finished: a heartbeat that overlapped one cannot judge held jobs. */
  claiming: number;
  claimed: number;
  /** Jobs this worker knows it holds: from the claim's reply until their settle is done. */
  holding: Set<string>;
}

/** Runs one claimed job and settles it. */
async function runJob(
  job: Job,
  options: WorkerOptions,
  state: WorkerState,
  retry: Retry,
): Promise<void> {
  const { id, store, emit } = options;
  const abort = new AbortController();
  state.current = { id: job.id, abort };
  const started = performance.now();
  const flusher = outputFlusher(store, job.id, id);
  const result = await runCommand({
    command: job.command,
    cwd: job.cwd,
    timeout: job.timeout,
    shell: state.config.shell,
    env: { QUEUECTL_JOB_ID: job.id, QUEUECTL_ATTEMPT: String(job.attempts) },
    signal: abort.signal,
    sharedGroup: state.sharedGroup,
    onStart: (pid) =>
      emit({ e: "started", job: job.id, attempt: job.attempts, pid, command: job.command }),
    onOutput: flusher.report,
  });
  await flusher.stop();
  state.current = null;

  if (abort.signal.aborted) {
    // The heartbeat found the job no longer ours: cancelled, or recovered elsewhere.
    const now = await retry(() => store.getJob(job.id));
    emit(now?.state === "cancelled" ? { e: "cancelled", job: job.id } : { e: "lost", job: job.id });
    return;
  }
  if (result.error === null) {
    const done = await retry(() => store.complete(job.id, id, result));
    emit(
      done
        ? { e: "completed", job: job.id, ms: Math.round(performance.now() - started) }
        : { e: "lost", job: job.id },
    );
    return;
  }
  const outcome = await retry(() => store.fail(job.id, id, result));
  if (!outcome) emit({ e: "lost", job: job.id });
  else if (outcome.state === "dead") {
    emit({ e: "dead", job: job.id, error: outcome.error, attempts: outcome.attempts });
  } else {
    const retryIn = Math.max(0, (outcome.runAt - Date.now()) / 1000);
    emit({ e: "failed", job: job.id, error: outcome.error, retryIn, attempt: outcome.attempts });
  }
}

/** The worker's own process group, if it leads one (the supervisor starts workers so on Unix). */
async function ownGroup(): Promise<WorkerState["sharedGroup"]> {
  if (Deno.build.os === "windows") return undefined;
  const pgid = await processGroupOf(Deno.pid);
  return pgid === Deno.pid ? { pgid, worker: Deno.pid } : undefined;
}

/** Heartbeat, config refresh and lease recovery on one timer. */
function startTicker(
  options: WorkerOptions,
  state: WorkerState,
  retry: Retry,
): { stop(): Promise<void> } {
  const { id, host, supervisor, store, emit } = options;
  let busy: Promise<void> | null = null;
  let lastConfig = performance.now();
  let lastRecover = 0;

  async function tick(): Promise<void> {
    const leaseMs = state.config.leaseTimeout * 1000;
    const current = state.current;
    const claimsBefore = state.claiming;
    const idleBefore = state.claiming === state.claimed;
    const reply = await retry(() =>
      store.heartbeat({
        id,
        kind: "worker",
        host,
        pid: Deno.pid,
        supervisor,
        currentJob: current?.id ?? null,
        leaseMs,
      })
    );
    if (reply === undefined) return;
    if (current && state.current === current && !reply.held.includes(current.id)) {
      current.abort.abort();
    }
    const noClaimOverlapped = idleBefore && state.claiming === claimsBefore &&
      state.claiming === state.claimed;
    for (const held of noClaimOverlapped ? reply.held : []) {
      // Held but unknown to us: the reply to a claim was lost. Give it back as a failed run.
      if (!state.holding.has(held)) {
        await store.fail(held, id, {
          exitCode: null,
          error: "worker lost (claim reply lost)",
          stdout: new Uint8Array(),
          stderr: new Uint8Array(),
        }).catch(() => {});
      }
    }
    const now = performance.now();
    if (now - lastConfig >= CONFIG_REFRESH_MS) {
      state.config = (await retry(() => store.getConfig())) ?? state.config;
      lastConfig = now;
    }
    if (now - lastRecover >= Math.min(RECOVER_MS, leaseMs / 2)) {
      lastRecover = now;
      for (const outcome of (await retry(() => store.recover())) ?? []) {
        emit({ e: "recovered", job: outcome.id, state: outcome.state, error: outcome.error });
      }
    }
  }

  const interval = Math.min(HEARTBEAT_MS, (state.config.leaseTimeout * 1000) / 3);
  const run = () => {
    if (busy) return;
    busy = tick().catch(() => {}).finally(() => busy = null);
  };
  run();
  const timer = setInterval(run, interval);
  return {
    async stop() {
      clearInterval(timer);
      await busy;
    },
  };
}

/** Calls a store method, retrying with backoff while the database is unreachable. */
type Retry = <T>(call: () => Promise<T>) => Promise<T | undefined>;

/**
 * Makes a {@linkcode Retry}: logs one line when the database goes away and one
 * when it is back; gives up (returns `undefined`) only once `stop` is aborted.
 * Bad requests (QueueError other than `unavailable`) are not retried.
 */
function retrier(emit: (event: WorkerEvent) => void, stop: AbortSignal): Retry {
  let down = false;
  return async function retry<T>(call: () => Promise<T>): Promise<T | undefined> {
    let delay = 100;
    while (true) {
      try {
        const value = await call();
        if (down) {
          down = false;
          emit({ e: "store", message: "database reachable again; resuming" });
        }
        return value;
      } catch (error) {
        if (error instanceof QueueError && error.kind !== "unavailable") throw error;
        if (!down) {
          down = true;
          const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
          emit({ e: "store", message: `database unavailable (${message}); retrying` });
        }
        if (stop.aborted && delay > 100) return undefined;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  };
}
