/**
 * The Store: the only place shared state lives (DESIGN.md "Store contract").
 * Every backend implements this interface and passes tests/store_contract.ts.
 * @module
 */

import type { Config, ConfigKey } from "../core/config.ts";
import type { Metrics, RunTotals } from "../core/metrics.ts";
import type { NewSchedule, Schedule } from "../core/schedule.ts";
import type {
  Attempt,
  AttemptLogs,
  CancelOutcome,
  Dependency,
  FailOutcome,
  Job,
  JobStanding,
  JobState,
  NewJob,
  OutputChunk,
  OutputOffsets,
  OutputSnapshot,
  QueueList,
  RunResult,
  StateCounts,
  WorkerInfo,
} from "../core/types.ts";

/** Options every backend accepts. */
export interface StoreOptions {
  /** Time source in ms since epoch; tests inject a fake one. */
  clock?: () => number;
  /**
   * Open for a worker's hot path (claim/settle/heartbeat): durability of a
   * single settle may be relaxed, since a lost completion only means a re-run.
   * Enqueues stay fully durable. On PostgreSQL such a store works on one
   * connection (queries are pipelined on it).
   */
  worker?: boolean;
  /**
   * Whether {@linkcode Store.waitForChange} may use a connection of its own to
   * be told of changes (PostgreSQL `LISTEN`); default true. Without it a wait
   * only runs out its time: a supervisor listens for its workers and relays
   * wake-ups to them, so each worker process holds one connection. SQLite's
   * change check costs no connection and ignores this.
   */
  listen?: boolean;
}

/** Which jobs {@linkcode Store.countJobs} and {@linkcode Store.listJobs} take. */
export interface JobFilter {
  state?: JobState;
  queue?: string;
}

/** Filter and paging for {@linkcode Store.listJobs}. */
export interface ListOptions extends JobFilter {
  limit?: number;
  offset?: number;
}

/** What {@linkcode Store.claim} may take. */
export interface ClaimOptions {
  /** Only jobs of these queues (default: every queue). */
  queues?: readonly string[] | null;
}

/** Window of {@linkcode Store.metrics}. */
export interface MetricsOptions {
  /** Length of the window in ms; it ends at the store's clock now (both ends inclusive). */
  windowMs: number;
}

/** Which finished runs {@linkcode Store.runTotals} adds up. */
export interface RunTotalsOptions {
  /** Runs that finished at or after this time (ms since epoch)… */
  from: number;
  /** …and before this one. */
  to: number;
  /** Upper bounds of the run-time histogram in ms, ascending. */
  bucketsMs: readonly number[];
}

/** How {@linkcode Store.enqueue} treats ids that exist. */
export interface EnqueueOptions {
  /** Leave a job whose id exists as it is (in any state) instead of refusing the batch. */
  ifAbsent?: boolean;
}

/** The states `purge` and retention may delete: finished ones. */
export const PURGEABLE_STATES = ["completed", "cancelled", "dead"] as const;
/** A state `purge` may delete. */
export type PurgeableState = typeof PURGEABLE_STATES[number];

/** Which finished jobs {@linkcode Store.purge} deletes. */
export interface PurgeOptions {
  /**
   * Per state: delete the jobs in that state that finished more than this many
   * ms before the store's clock now. States left out are not touched.
   */
  olderThanMs: Partial<Record<PurgeableState, number>>;
  /** Only jobs of this queue. */
  queue?: string;
  /** Count what would go; delete nothing. */
  dryRun?: boolean;
  /** Most jobs deleted in one transaction (default: the backend's small batch). */
  batch?: number;
  /**
   * Stop starting new batches after this many ms (a background service's turn);
   * `done` is then false and the rest waits for the next call.
   */
  budgetMs?: number;
}

/** What {@linkcode Store.purge} deleted (or would, with `dryRun`). */
export interface PurgeResult {
  /** Jobs per state. */
  counts: Record<PurgeableState, number>;
  /** Every job that matched was deleted (always true for a dry run). */
  done: boolean;
}

/** A worker or supervisor reporting that it is alive. */
export interface Beat {
  id: string;
  kind: WorkerInfo["kind"];
  host: string;
  pid: number;
  supervisor: string | null;
  currentJob: string | null;
  /** New lease length for the jobs this worker holds. */
  leaseMs: number;
  /**
   * When the process started, as its OS tells (ms since epoch; `null` when
   * unknown). Stored by the first beat that knows it, never changed after:
   * with `host` and `pid` it tells a process that is gone from one that
   * reused its pid.
   */
  processStartedAt?: number | null;
}

/** What a heartbeat tells the caller. */
export interface BeatReply {
  /** `worker stop` asked this process to stop. */
  stop: boolean;
  /** Ids of the jobs this worker still holds (a cancelled job is missing). */
  held: string[];
}

/** A held job's place in the claim order: a claim given it takes only jobs that run before it. */
export interface ClaimBefore {
  priority: number;
  runAt: number;
}

/** What a worker hands over and asks for in one {@linkcode Store.exchange}. */
export interface ExchangeRequest {
  /** Lease of the jobs claimed now (ms). */
  leaseMs: number;
  /** Runs that completed, recorded each only while the worker still holds the job. */
  completed?: { id: string; result: RunResult }[];
  /**
   * Jobs the worker holds but never started: they go back to their state
   * before the claim (pending, or failed and due), as if never claimed. The
   * same exchange does not claim them again.
   */
  release?: string[];
  /** How many jobs to claim now (0 or absent: none). */
  claim?: number;
  /** Claim only jobs that run before this one (see {@linkcode ClaimBefore}). */
  before?: ClaimBefore;
  /** Claim only jobs of these queues (default: every queue). */
  queues?: readonly string[] | null;
}

/** What {@linkcode Store.exchange} did. */
export interface ExchangeReply {
  /** Ids of `completed` that were recorded; the others were no longer held (cancelled or recovered). */
  completed: string[];
  /** The jobs claimed, in claim order. */
  claimed: Job[];
}

/** Storage of jobs, attempts, workers and config. All methods are async. */
export interface Store {
  /** `"sqlite"` or `"postgres"`. */
  readonly kind: string;
  /** Where the data is, for messages (a path or a URL without password). */
  readonly location: string;

  /**
   * Stores jobs in one transaction: all or none. Throws `conflict` on an
   * existing id (unless `ifAbsent`, which skips such jobs) or a cancelled
   * dependency, `invalid` on a dependency that names no stored job nor an
   * earlier one of the batch. A job with a dependency that has not completed
   * starts `blocked`. Returns how many were stored.
   */
  enqueue(jobs: NewJob[], options?: EnqueueOptions): Promise<number>;
  /**
   * Takes the next runnable job for `worker` (of `options.queues`, if given),
   * holding it for `leaseMs`. Paused queues and queues at their concurrency
   * limit are skipped; the limit holds across every worker on every machine.
   */
  claim(worker: string, leaseMs: number, options?: ClaimOptions): Promise<Job | null>;
  /**
   * The worker's hot path in one transaction (one round trip): records
   * completed runs, gives back jobs held but not started, and claims the next
   * jobs (of `request.queues`, by the same rules as {@linkcode claim}). When
   * it has nothing to record and no better job is due, it takes no write
   * lock. Completed runs unblock their dependents as {@linkcode complete} does.
   */
  exchange(worker: string, request: ExchangeRequest): Promise<ExchangeReply>;
  /**
   * Marks a job completed if `worker` still holds it; returns whether it did.
   * In the same transaction its blocked dependents whose dependencies have
   * all completed become pending.
   */
  complete(id: string, worker: string, result: RunResult): Promise<boolean>;
  /** Records a failed run if `worker` still holds the job: retry later or dead. */
  fail(id: string, worker: string, result: RunResult): Promise<FailOutcome | null>;
  /** Records that a worker is alive and extends the leases of its jobs. */
  heartbeat(beat: Beat): Promise<BeatReply>;
  /** Turns expired leases into failed runs and forgets silent workers. */
  recover(): Promise<FailOutcome[]>;
  /**
   * A supervisor saw `worker` die: fail its jobs now as lost runs and forget
   * it. With `started`, only those jobs had started (the supervisor saw them
   * start); the others it held were claimed ahead and go back as if never
   * claimed.
   */
  releaseWorker(worker: string, error: string, started?: string[]): Promise<FailOutcome[]>;
  /** Forgets a worker that stopped cleanly, or whose process is known to be gone. */
  unregisterWorker(id: string): Promise<void>;
  /**
   * Workers and supervisors with a heartbeat within the lease timeout. Only the
   * caller can tell whether a process of its own machine is still there
   * (worker/liveness.ts).
   */
  listWorkers(): Promise<WorkerInfo[]>;
  /** Asks every live supervisor to stop gracefully; returns how many were asked. */
  requestStop(): Promise<number>;

  getJob(id: string): Promise<Job | null>;
  /** Jobs, newest first. */
  listJobs(options?: ListOptions): Promise<Job[]>;
  /** How many jobs match (the same cost at any table size). */
  countJobs(filter?: JobFilter): Promise<number>;
  counts(): Promise<StateCounts>;
  /** Creation time of the oldest pending job, or `null`. */
  oldestPending(): Promise<number | null>;
  /** Every run of a job, oldest first. Throws `not_found`. */
  attempts(id: string): Promise<Attempt[]>;
  /** Output of run `attempt` (default: the last). Throws `not_found`. */
  logs(id: string, attempt?: number): Promise<AttemptLogs | null>;
  /**
   * Cancels a job that has not finished, and with it the blocked jobs that
   * depend on it, transitively (each one's `last_error` names the cancelled
   * dependency). Throws `not_found`, or `conflict` for a finished job.
   */
  cancel(id: string): Promise<CancelOutcome>;
  /** Moves dead jobs back to pending with attempts = 0; all or nothing. Returns their ids. */
  retryDead(ids: string[] | "all"): Promise<string[]>;

  /**
   * Figures over the runs that finished in `[now - windowMs, now]`, from the attempts
   * history by its finish-time index, plus current counts and the oldest
   * pending job. Percentiles are nearest-rank (core/metrics.ts).
   */
  metrics(options: MetricsOptions): Promise<Metrics>;
  /**
   * Runs that finished in `[from, to)` by outcome, and a cumulative histogram
   * of the run times of the completed and failed ones. Served by the same
   * finish-time index; a caller keeping all-time counters (Prometheus) adds
   * up successive windows.
   */
  runTotals(options: RunTotalsOptions): Promise<RunTotals>;

  /** Every queue with its limit, whether it is paused, and its counts per state. */
  listQueues(): Promise<QueueList>;
  /** Sets the most jobs of `queue` processing at once (0: no limit); makes the queue if new. */
  setConcurrency(queue: string, limit: number): Promise<void>;
  /**
   * Pauses (`paused`) or resumes queues by name (making new ones), or every
   * queue, including queues made later (`"all"`). Running jobs are not touched.
   */
  setPaused(names: string[] | "all", paused: boolean): Promise<void>;

  /** The jobs `id` runs after, in its order, with their states. Throws `not_found`. */
  dependencies(id: string): Promise<Dependency[]>;
  /**
   * Where each of `ids` stands, for `wait` (unknown ids are left out); a
   * blocked job behind a dead one, directly or not, names it.
   */
  standings(ids: readonly string[]): Promise<JobStanding[]>;
  /** Ids of the jobs that have not finished (of `queue`, if given), oldest first. */
  unfinishedIds(queue?: string): Promise<string[]>;

  /**
   * Stores the output so far of the run of job `id` that `worker` runs (the
   * worker calls it at a bounded rate); returns false when that run is not
   * running there any more, and then changes nothing.
   */
  saveOutput(id: string, worker: string, output: OutputSnapshot): Promise<boolean>;
  /**
   * Output of run `attempt` of job `id` past the offsets (as last saved while
   * it runs, in full once it ended); `null` if no such run. Throws `not_found`.
   */
  readOutput(id: string, attempt: number, from: OutputOffsets): Promise<OutputChunk | null>;

  /**
   * Deletes finished jobs with their attempts and logs, in small transactions
   * so other writers never wait long; never a pending, processing or failed job.
   * SQLite then returns the freed pages to the file system when the database
   * uses incremental auto-vacuum.
   */
  purge(options: PurgeOptions): Promise<PurgeResult>;

  /**
   * Takes the turn of periodic service `name` (retention …) for `holder` when
   * it is due and no other holder has a live turn; a turn lasts `leaseMs`
   * unless ended sooner. Returns whether `holder` has the turn.
   */
  serviceTurn(name: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Ends `holder`'s turn; the service is due again `againMs` from now. */
  serviceDone(name: string, holder: string, againMs: number): Promise<void>;

  /** Stores a new schedule; throws `conflict` when the name is taken. */
  addSchedule(schedule: NewSchedule): Promise<void>;
  /** Every schedule, by name. */
  listSchedules(): Promise<Schedule[]>;
  /** Deletes a schedule (its jobs stay); throws `not_found`. */
  removeSchedule(name: string): Promise<void>;
  /**
   * Records `tick` as schedule `name`'s last tick and enqueues `job` for it, in
   * one transaction, unless the schedule is gone or already at that tick or a
   * later one; a job with the same id is left as it is. Returns whether a job
   * was stored.
   */
  fireSchedule(name: string, tick: number, job: NewJob): Promise<boolean>;

  getConfig(): Promise<Config>;
  /** Stored config values by key (keys never set are absent). */
  getConfigRows(): Promise<Map<ConfigKey, string>>;
  /** Stores a validated value (see core/config.ts); `""` resets to the default. */
  setConfig(key: ConfigKey, value: string): Promise<void>;

  /**
   * Whether another process may have changed the queue since this store's
   * last claim or exchange: cheap, no round trip (a worker holding jobs
   * claimed ahead asks it between jobs, to look for a more urgent one).
   */
  hasChanged(): boolean;
  /**
   * Resolves `true` when another process may have changed the queue, `false`
   * after `ms` or on abort (and at once when `signal` is already aborted).
   */
  waitForChange(ms: number, signal?: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}

/** True when a `--db` value selects PostgreSQL. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** Opens the store a `--db` value names: a SQLite path or a `postgres://` URL. */
export async function openStore(db: string, options: StoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(db)) {
    const { openPostgresStore } = await import("./postgres/mod.ts");
    return await openPostgresStore(db, options);
  }
  const { openSqliteStore } = await import("./sqlite/mod.ts");
  return openSqliteStore(db, options);
}

/**
 * `store` with some methods replaced; every other method still runs on `store`
 * itself. For callers that add what a store cannot know: wake-ups relayed by a
 * supervisor (worker/wake.ts), or which processes of this machine are gone
 * (worker/liveness.ts).
 */
export function withOverrides(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof Store];
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
