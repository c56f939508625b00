/**
 * The worker loop: take jobs, run them one at a time, record how they ended,
 * until asked to stop. Beside it, one ticker keeps the worker's heartbeat
 * (which extends the leases of the jobs it holds and tells it when one was
 * cancelled), refreshes the config, and recovers jobs whose workers went silent.
 *
 * The hot path costs one store round trip per batch, not two per job: when
 * runs are short the worker claims a few jobs ahead, and records completed
 * runs together with its next claim ({@linkcode Store.exchange}). A job held
 * ahead keeps its lease and stays cancellable, and between jobs the worker
 * looks for a more urgent one whenever the queue changed, so a new
 * higher-priority job waits for at most the run in progress.
 * @module
 */

import { type Config, DEFAULT_CONFIG } from "../core/config.ts";
import { QueueError } from "../core/errors.ts";
import type { Job, RunResult } from "../core/types.ts";
import type { ExchangeRequest, Store } from "../store/store.ts";
import type { ControlEvent, WorkerEvent } from "./events.ts";
import { ownStartTime } from "./liveness.ts";
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
/**
 * Jobs are claimed ahead (up to config `claim-ahead` at once) only after a run
 * shorter than this (ms), so the work a worker holds unstarted stays brief.
 */
export const AHEAD_RUN_MS = 100;
/** Longest a completed run waits to be recorded while the worker runs jobs held ahead (ms). */
export const FLUSH_MS = 50;

/** What a worker needs. */
export interface WorkerOptions {
  id: string;
  host: string;
  supervisor: string | null;
  store: Store;
  /** Aborted for a graceful stop: finish the current job, claim nothing new. */
  stop: AbortSignal;
  /** Receives every job event (the worker process writes them to the log). */
  emit: (event: WorkerEvent) => void;
  /** Tells the supervisor what it acts on: the stop was taken, nothing is left to run. */
  control?: (event: ControlEvent) => void;
  /**
   * Where the worker notes each job it starts, before its process starts, so
   * that a supervisor seeing this worker die knows which held jobs ran (lost
   * runs) and which never started (they go back unrun). `settled` says that
   * every run noted so far is recorded in the store.
   */
  journal?: { started(job: string): void; settled(): void };
  /** The process is known to lead its own process group (Unix; else it is looked up). */
  groupLeader?: boolean;
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
    ahead: [],
    done: [],
    doneSince: 0,
    flushing: Promise.resolve(),
    lastRunMs: Infinity,
    beatAt: -Infinity,
    beat: async () => undefined,
    claiming: 0,
    claimed: 0,
    holding: new Set(),
    sharedGroup: await ownGroup(options.groupLeader),
  };
  const ticker = startTicker(options, state, retry);
  // The moment the stop arrives: say so (the supervisor waits for it before it tells
  // people nothing new starts), and give back at once the jobs held but not started.
  let releasing: Promise<void> = Promise.resolve();
  const onStop = () => {
    options.control?.({ e: "stopping" });
    releasing = release(options, state, state.ahead.splice(0).map((held) => held.job));
  };
  if (stop.aborted) onStop();
  else stop.addEventListener("abort", onStop, { once: true });
  let idle = false;
  try {
    while (!stop.aborted) {
      const held = await nextJob(options, state, retry);
      if (held === undefined) break; // stopped
      if (held === null) {
        if (!idle) options.control?.({ e: "idle" });
        idle = true;
        await store.waitForChange(state.config.pollInterval * 1000, stop);
        continue;
      }
      idle = false;
      await runJob(held, options, state, retry);
    }
  } finally {
    stop.removeEventListener("abort", onStop);
    await releasing;
    clearTimeout(state.flushTimer);
    await state.flushing;
    await flush(options, state, retry, { release: state.ahead.splice(0).map((h) => h.job.id) })
      .catch(() => {});
    await ticker.stop();
    await store.unregisterWorker(id).catch(() => {});
  }
}

/** A job claimed and not started yet. */
interface Held {
  job: Job;
  /** performance.now() when the claim's reply arrived. */
  at: number;
}

interface WorkerState {
  config: Config;
  /** Set when this worker leads its own process group (see RunSpec.sharedGroup). */
  sharedGroup?: { pgid: number; worker: number };
  /** The job running now, and how to kill it. */
  current: { id: string; abort: AbortController } | null;
  /** Jobs claimed but not started, in claim order, with when the claim's reply came. */
  ahead: Held[];
  /** Runs that completed but are not recorded yet, with how long each took. */
  done: { id: string; result: RunResult; ms: number }[];
  /** When the oldest of `done` completed (performance.now()). */
  doneSince: number;
  /** The flush a timer started for `done` while a job runs, and that timer. */
  flushing: Promise<void>;
  flushTimer?: ReturnType<typeof setTimeout>;
  /** How long the last run took (ms). */
  lastRunMs: number;
  /** performance.now() when the last heartbeat that renewed our leases was sent. */
  beatAt: number;
  /** Runs a heartbeat now (or waits for the one under way); resolves to the ids still held. */
  beat: () => Promise<Set<string> | undefined>;
  /** Claims started and finished: a heartbeat that overlapped one cannot judge held jobs. */
  claiming: number;
  claimed: number;
  /** Jobs this worker knows it holds: from the claim's reply until their settle is done. */
  holding: Set<string>;
}

/**
 * The next job to run: the first held ahead, or a fresh claim (recording
 * completed runs on the way). `null` when nothing is due; `undefined` once
 * stopped.
 */
async function nextJob(
  options: WorkerOptions,
  state: WorkerState,
  retry: Retry,
): Promise<Held | null | undefined> {
  const { store } = options;
  const head = state.ahead[0]?.job;
  if (!head) {
    const claim = state.lastRunMs < AHEAD_RUN_MS ? state.config.claimAhead : 1;
    await flush(options, state, retry, { claim });
  } else if (state.done.length > 0 && performance.now() - state.doneSince >= FLUSH_MS) {
    await flush(options, state, retry, { claim: store.hasChanged() ? 1 : 0, before: head });
  } else if (store.hasChanged()) {
    // Something changed since our claim: a more urgent job may be due. A read
    // unless one is; then it is claimed to run next.
    await flush(options, state, retry, { claim: 1, before: head, completed: [] });
  }
  if (options.stop.aborted) return undefined;
  return state.ahead.shift() ?? null;
}

/**
 * One exchange with the store: records completed runs (all of `done` unless
 * `completed` says otherwise), gives back `release`, and claims; claimed jobs
 * join the front of `ahead` (a claim with `before` only returns more urgent
 * ones). Emits the outcome of every run it recorded. Jobs claimed after the
 * stop go straight back.
 */
async function flush(
  options: WorkerOptions,
  state: WorkerState,
  retry: Retry,
  request: Omit<ExchangeRequest, "leaseMs" | "completed"> & { completed?: [] },
): Promise<void> {
  const { id, store, emit, stop } = options;
  const done = request.completed ?? state.done.splice(0);
  const claiming = (request.claim ?? 0) > 0;
  if (claiming) state.claiming++;
  let reply;
  try {
    reply = await retry(() =>
      store.exchange(id, {
        ...request,
        leaseMs: state.config.leaseTimeout * 1000,
        completed: done.map(({ id, result }) => ({ id, result })),
        queues: options.queues,
      })
    );
  } finally {
    if (claiming) state.claimed++;
  }
  for (const job of reply?.claimed ?? []) state.holding.add(job.id);
  for (const job of request.release ?? []) state.holding.delete(job);
  if (reply && reply.claimed.length > 0) {
    const at = performance.now();
    if (stop.aborted) await release(options, state, reply.claimed);
    else state.ahead.unshift(...reply.claimed.map((job) => ({ job, at })));
  }
  if (done.length === 0) return;
  // Every run started so far is now recorded, unless one is running (a timer's flush).
  if (reply && state.current === null) options.journal?.settled();
  const recorded = new Set(reply?.completed ?? []);
  for (const run of done) {
    state.holding.delete(run.id);
    if (recorded.has(run.id)) emit({ e: "completed", job: run.id, ms: run.ms });
    else await lostOrCancelled(options, run.id, retry);
  }
}

/** Gives back jobs held but never started. */
async function release(options: WorkerOptions, state: WorkerState, jobs: Job[]): Promise<void> {
  if (jobs.length === 0) return;
  const ids = jobs.map((job) => job.id);
  await options.store.exchange(options.id, { leaseMs: 0, release: ids }).catch(() => {});
  for (const id of ids) state.holding.delete(id);
}

/** Reports a run whose result the store refused: the job was cancelled, or recovered elsewhere. */
async function lostOrCancelled(options: WorkerOptions, job: string, retry: Retry): Promise<void> {
  const now = await retry(() => options.store.getJob(job));
  options.emit(now?.state === "cancelled" ? { e: "cancelled", job } : { e: "lost", job });
}

/** Runs one claimed job; a completed run waits in `done` for the next exchange, a failure is settled now. */
async function runJob(
  { job, at }: Held,
  options: WorkerOptions,
  state: WorkerState,
  retry: Retry,
): Promise<void> {
  const { id, store, emit, stop } = options;
  if (stop.aborted) {
    // The stop came while the claim was on its way: this job never starts.
    return await release(options, state, [job]);
  }
  const leaseMs = state.config.leaseTimeout * 1000;
  if (performance.now() > Math.max(at, state.beatAt) + (leaseMs * 2) / 3) {
    // Held so long without a renewal (a stalled process, an unreachable database) that
    // the lease may have run out and the job gone to another worker: make sure first.
    const held = await state.beat();
    if (!held?.has(job.id) || stop.aborted) {
      if (held?.has(job.id)) await release(options, state, [job]);
      state.holding.delete(job.id);
      return;
    }
  }
  const abort = new AbortController();
  state.current = { id: job.id, abort };
  // Noted before the process starts: a supervisor that sees this worker die then knows the
  // job may have run (a lost run), and every held job not noted goes back unrun.
  options.journal?.started(job.id);
  emit({ e: "started", job: job.id, attempt: job.attempts, command: job.command });
  const started = performance.now();
  const flusher = outputFlusher(store, job.id, id);
  // runCommand starts the process before it first yields: nothing starts after a stop.
  const result = await runCommand({
    command: job.command,
    cwd: job.cwd,
    timeout: job.timeout,
    shell: state.config.shell,
    env: { QUEUECTL_JOB_ID: job.id, QUEUECTL_ATTEMPT: String(job.attempts) },
    signal: abort.signal,
    sharedGroup: state.sharedGroup,
    onOutput: flusher.report,
  });
  await flusher.stop();
  state.current = null;
  const ms = performance.now() - started;
  state.lastRunMs = ms;
  // A job held ahead started later than its claim: its start, on the store's clock.
  const waited = Math.round(started - at);
  const run = waited > 0 && job.startedAt !== null
    ? { ...result, startedAt: job.startedAt + waited }
    : result;

  if (abort.signal.aborted) {
    // The heartbeat found the job no longer ours: cancelled, or recovered elsewhere.
    state.holding.delete(job.id);
    return await lostOrCancelled(options, job.id, retry);
  }
  if (result.error === null) {
    if (state.done.length === 0) state.doneSince = performance.now();
    state.done.push({ id: job.id, result: run, ms: Math.round(ms) });
    // Recorded with the next exchange, or by this timer if the next job runs long.
    state.flushTimer ??= setTimeout(function flushLate() {
      state.flushTimer = undefined;
      if (state.done.length === 0) return;
      const due = state.doneSince + FLUSH_MS - performance.now();
      if (due > 0) state.flushTimer = setTimeout(flushLate, due);
      else state.flushing = flush(options, state, retry, {}).catch(() => {});
    }, FLUSH_MS);
    return;
  }
  const outcome = await retry(() => store.fail(job.id, id, run));
  state.holding.delete(job.id);
  if (!outcome) await lostOrCancelled(options, job.id, retry);
  else if (outcome.state === "dead") {
    emit({ e: "dead", job: job.id, error: outcome.error, attempts: outcome.attempts });
  } else {
    const retryIn = Math.max(0, (outcome.runAt - Date.now()) / 1000);
    emit({ e: "failed", job: job.id, error: outcome.error, retryIn, attempt: outcome.attempts });
  }
}

/** The worker's own process group, if it leads one (the supervisor starts workers so on Unix). */
async function ownGroup(leader?: boolean): Promise<WorkerState["sharedGroup"]> {
  if (Deno.build.os === "windows") return undefined;
  if (leader) return { pgid: Deno.pid, worker: Deno.pid };
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
  let busy: Promise<Set<string> | undefined> | null = null;
  let lastConfig = performance.now();
  let lastRecover = 0;

  async function tick(): Promise<Set<string> | undefined> {
    const leaseMs = state.config.leaseTimeout * 1000;
    const current = state.current;
    const claimsBefore = state.claiming;
    const idleBefore = state.claiming === state.claimed;
    const sent = performance.now();
    const reply = await retry(() =>
      store.heartbeat({
        id,
        kind: "worker",
        host,
        pid: Deno.pid,
        supervisor,
        currentJob: current?.id ?? null,
        leaseMs,
        processStartedAt: ownStartTime(),
      })
    );
    if (reply === undefined) return undefined;
    state.beatAt = sent;
    const held = new Set(reply.held);
    if (current && state.current === current && !held.has(current.id)) current.abort.abort();
    const noClaimOverlapped = idleBefore && state.claiming === claimsBefore &&
      state.claiming === state.claimed;
    if (noClaimOverlapped) {
      // Jobs held ahead that are no longer ours (cancelled, recovered) never start.
      state.ahead = state.ahead.filter(({ job }) => {
        if (held.has(job.id)) return true;
        state.holding.delete(job.id);
        return false;
      });
      for (const job of reply.held) {
        // Held but unknown to us: the reply to a claim was lost. Give it back as a failed run.
        if (!state.holding.has(job)) {
          await store.fail(job, id, {
            exitCode: null,
            error: "worker lost (claim reply lost)",
            stdout: new Uint8Array(),
            stderr: new Uint8Array(),
          }).catch(() => {});
        }
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
    return held;
  }

  const interval = Math.min(HEARTBEAT_MS, (state.config.leaseTimeout * 1000) / 3);
  const run = (): Promise<Set<string> | undefined> =>
    busy ??= tick().catch(() => undefined).finally(() => busy = null);
  state.beat = async () => {
    await busy; // one under way may have been sent before the question arose
    return await run();
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
