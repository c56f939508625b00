/**
 * The scale-out Store: PostgreSQL, shared by workers on many machines.
 * Claims use `FOR UPDATE SKIP LOCKED`; idle workers wake on LISTEN/NOTIFY;
 * time comes from the database clock, so clock skew between machines cannot
 * steal or resurrect jobs. Each queue lives in its own schema.
 *
 * This class only wires the contract to the statement families, one file each:
 * enqueue.ts, claim.ts, exchange.ts, settle.ts, workers.ts, reads.ts, actions.ts,
 * queues.ts, deps.ts, output.ts, metrics.ts, config.ts, purge.ts, services.ts,
 * schedules.ts; the connection is
 * @module
 */

import type { Config, ConfigKey } from "../../core/config.ts";
import type { Metrics, RunTotals } from "../../core/metrics.ts";
import type { NewSchedule, Schedule } from "../../core/schedule.ts";
import type {
  Attempt,
  AttemptLogs,
  CancelOutcome,
  Dependency,
  FailOutcome,
  Job,
  JobStanding,
  NewJob,
  OutputChunk,
  OutputOffsets,
  OutputSnapshot,
  QueueList,
  RunResult,
  StateCounts,
  WorkerInfo,
} from "../../core/types.ts";
import type {
  Beat,
  BeatReply,
  ClaimOptions,
  EnqueueOptions,
  ExchangeReply,
  ExchangeRequest,
  JobFilter,
  ListOptions,
  MetricsOptions,
  PurgeOptions,
  PurgeResult,
  RunTotalsOptions,
  Store,
  StoreOptions,
} from "../store.ts";
import { cancel, retryDead } from "./actions.ts";
import { claim } from "./claim.ts";
import { getConfig, getConfigRows, setConfig } from "./config.ts";
import { PgDb } from "./db.ts";
import { dependencies, standings } from "./deps.ts";
import { enqueue } from "./enqueue.ts";
import { exchange } from "./exchange.ts";
import { metrics, runTotals } from "./metrics.ts";
import { readOutput, saveOutput } from "./output.ts";
import { listQueues, setConcurrency, setPaused } from "./queues.ts";
import {
  attempts,
  countJobs,
  counts,
  getJob,
  listJobs,
  logs,
  oldestPending,
  unfinishedIds,
} from "./reads.ts";
import { purge } from "./purge.ts";
import { addSchedule, fireSchedule, listSchedules, removeSchedule } from "./schedules.ts";
import { serviceDone, serviceTurn } from "./services.ts";
import { complete, fail } from "./settle.ts";
import { parsePostgresUrl, type PostgresTarget } from "./url.ts";
import {
  heartbeat,
  listWorkers,
  recover,
  releaseWorker,
  requestStop,
  unregisterWorker,
} from "./workers.ts";

/** PostgreSQL implementation of {@linkcode Store}. */
export class PostgresStore implements Store {
  readonly kind = "postgres";
  readonly location: string;
  readonly #db: PgDb;

  constructor(target: PostgresTarget, options: StoreOptions = {}) {
    this.#db = new PgDb(target, options);
    this.location = target.location;
  }

  /** Creates the schema and runs pending migrations; workers start listening at once. */
  open(): Promise<void> {
    return this.#db.open();
  }

  enqueue(jobs: NewJob[], options?: EnqueueOptions): Promise<number> {
    return enqueue(this.#db, jobs, options);
  }
  claim(worker: string, leaseMs: number, options?: ClaimOptions): Promise<Job | null> {
    return claim(this.#db, worker, leaseMs, options);
  }
  exchange(worker: string, request: ExchangeRequest): Promise<ExchangeReply> {
    return exchange(this.#db, worker, request);
  }
  complete(id: string, worker: string, result: RunResult): Promise<boolean> {
    return complete(this.#db, id, worker, result);
  }
  fail(id: string, worker: string, result: RunResult): Promise<FailOutcome | null> {
    return fail(this.#db, id, worker, result);
  }
  heartbeat(beat: Beat): Promise<BeatReply> {
    return heartbeat(this.#db, beat);
  }
  recover(): Promise<FailOutcome[]> {
    return recover(this.#db);
  }
  releaseWorker(worker: string, error: string, started?: string[]): Promise<FailOutcome[]> {
    return releaseWorker(this.#db, worker, error, started);
  }
  unregisterWorker(id: string): Promise<void> {
    return unregisterWorker(this.#db, id);
  }
  listWorkers(): Promise<WorkerInfo[]> {
    return listWorkers(this.#db);
  }
  requestStop(): Promise<number> {
    return requestStop(this.#db);
  }

  getJob(id: string): Promise<Job | null> {
    return getJob(this.#db, id);
  }
  listJobs(options?: ListOptions): Promise<Job[]> {
    return listJobs(this.#db, options);
  }
  countJobs(filter?: JobFilter): Promise<number> {
    return countJobs(this.#db, filter);
  }
  counts(): Promise<StateCounts> {
    return counts(this.#db);
  }
  oldestPending(): Promise<number | null> {
    return oldestPending(this.#db);
  }
  attempts(id: string): Promise<Attempt[]> {
    return attempts(this.#db, id);
  }
  logs(id: string, attempt?: number): Promise<AttemptLogs | null> {
    return logs(this.#db, id, attempt);
  }
  cancel(id: string): Promise<CancelOutcome> {
    return cancel(this.#db, id);
  }
  retryDead(ids: string[] | "all"): Promise<string[]> {
    return retryDead(this.#db, ids);
  }

  metrics(options: MetricsOptions): Promise<Metrics> {
    return metrics(this.#db, options);
  }
  runTotals(options: RunTotalsOptions): Promise<RunTotals> {
    return runTotals(this.#db, options);
  }

  listQueues(): Promise<QueueList> {
    return listQueues(this.#db);
  }
  setConcurrency(queue: string, limit: number): Promise<void> {
    return setConcurrency(this.#db, queue, limit);
  }
  setPaused(names: string[] | "all", paused: boolean): Promise<void> {
    return setPaused(this.#db, names, paused);
  }

  dependencies(id: string): Promise<Dependency[]> {
    return dependencies(this.#db, id);
  }
  standings(ids: readonly string[]): Promise<JobStanding[]> {
    return standings(this.#db, ids);
  }
  unfinishedIds(queue?: string): Promise<string[]> {
    return unfinishedIds(this.#db, queue);
  }

  saveOutput(id: string, worker: string, output: OutputSnapshot): Promise<boolean> {
    return saveOutput(this.#db, id, worker, output);
  }
  readOutput(id: string, attempt: number, from: OutputOffsets): Promise<OutputChunk | null> {
    return readOutput(this.#db, id, attempt, from);
  }

  purge(options: PurgeOptions): Promise<PurgeResult> {
    return purge(this.#db, options);
  }
  serviceTurn(name: string, holder: string, leaseMs: number): Promise<boolean> {
    return serviceTurn(this.#db, name, holder, leaseMs);
  }
  serviceDone(name: string, holder: string, againMs: number): Promise<void> {
    return serviceDone(this.#db, name, holder, againMs);
  }
  addSchedule(schedule: NewSchedule): Promise<void> {
    return addSchedule(this.#db, schedule);
  }
  listSchedules(): Promise<Schedule[]> {
    return listSchedules(this.#db);
  }
  removeSchedule(name: string): Promise<void> {
    return removeSchedule(this.#db, name);
  }
  fireSchedule(name: string, tick: number, job: NewJob): Promise<boolean> {
    return fireSchedule(this.#db, name, tick, job);
  }

  getConfig(): Promise<Config> {
    return getConfig(this.#db);
  }
  getConfigRows(): Promise<Map<ConfigKey, string>> {
    return getConfigRows(this.#db);
  }
  setConfig(key: ConfigKey, value: string): Promise<void> {
    return setConfig(this.#db, key, value);
  }

  hasChanged(): boolean {
    return this.#db.hasChanged();
  }
  waitForChange(ms: number, signal?: AbortSignal): Promise<boolean> {
    return this.#db.waitForChange(ms, signal);
  }
  close(): Promise<void> {
    return this.#db.close();
  }
}

/** Opens (creating the schema and migrating as needed) the PostgreSQL store at `url`. */
export async function openPostgresStore(
  url: string,
  options: StoreOptions = {},
): Promise<Store> {
  const store = new PostgresStore(parsePostgresUrl(url), options);
  try {
    await store.open();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}
