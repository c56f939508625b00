/**
 * The default Store: one SQLite file in WAL mode, shared by any number of
 * processes on one machine. Writers take the lock up front (`BEGIN
 * IMMEDIATE`) and never hold a transaction while a job runs.
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { type Config, configFromRows, type ConfigKey } from "../core/config.ts";
import { QueueError, quote } from "../core/errors.ts";
import type { Metrics, RunTotals } from "../core/metrics.ts";
import { buildMetrics, buildRunTotals, runTimeRanks, toJob, toWorker } from "./rows.ts";
import { backoffSeconds, canRetry } from "../core/retry.ts";
import {
  type Attempt,
  type AttemptLogs,
  type FailOutcome,
  type Job,
  JOB_STATES,
  type JobState,
  type NewJob,
  type RunResult,
  type StateCounts,
  type WorkerInfo,
} from "../core/types.ts";
import { SQLITE_MIGRATIONS } from "./sqlite_schema.ts";
import type {
  Beat,
  BeatReply,
  ListOptions,
  MetricsOptions,
  RunTotalsOptions,
  Store,
  StoreOptions,
} from "./store.ts";

/** How long a writer waits for the lock before giving up (ms). */
const BUSY_TIMEOUT_MS = 60_000;
/** Longest pause between two tries for the write lock (ms). */
const LOCK_RETRY_MAX_MS = 2;
/** How often an idle worker checks whether another process wrote (ms). */
const CHANGE_CHECK_MS = 4;
/** Jobs per INSERT statement in a batch enqueue. */
const ENQUEUE_CHUNK = 20_000;

type Row = Record<string, SQLInputValue>;

function blob(bytes: Uint8Array): Uint8Array | null {
  return bytes.length === 0 ? null : bytes;
}

function notFound(id: string): QueueError {
  return new QueueError("not_found", `No job with id ${quote(id)}`);
}

/** The first id that occurs twice in a batch, if any. */
function repeatedId(jobs: NewJob[]): string | undefined {
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.id)) return job.id;
    seen.add(job.id);
  }
  return undefined;
}

/** Creates the file user-only before SQLite opens it (its WAL files copy the mode). */
function prepareFile(path: string): void {
  if (path === ":memory:") return;
  try {
    Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const file = Deno.openSync(path, { create: true, write: true, mode: 0o600 });
    file.close();
  } catch (error) {
    throw new QueueError(
      "unavailable",
      `Cannot open database ${quote(path)}: ${(error as Error).message}`,
    );
  }
}

/** SQLite implementation of {@linkcode Store}. */
export class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly location: string;
  #db: DatabaseSync;
  #now: () => number;
  #worker: boolean;
  #statements = new Map<string, StatementSync>();
  #dataVersion: StatementSync;

  constructor(path: string, options: StoreOptions = {}) {
    this.location = path;
    this.#now = options.clock ?? Date.now;
    this.#worker = options.worker ?? false;
    prepareFile(path);
    try {
      this.#db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
      const mode = this.#db.prepare("PRAGMA journal_mode").get() as Row;
      if (mode.journal_mode !== "wal") this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec(`PRAGMA synchronous = ${this.#worker ? "NORMAL" : "FULL"}`);
      this.#migrate();
    } catch (error) {
      if (error instanceof QueueError) throw error;
      throw new QueueError(
        "unavailable",
        `Cannot open database ${quote(path)}: ${(error as Error).message}`,
      );
    }
    this.#dataVersion = this.#db.prepare("PRAGMA data_version");
  }

  #migrate(): void {
    const version = () =>
      (this.#db.prepare("PRAGMA user_version").get() as Row).user_version as number;
    if (version() === SQLITE_MIGRATIONS.length) return;
    this.#txSync(() => {
      const current = version();
      if (current > SQLITE_MIGRATIONS.length) {
        throw new QueueError(
          "unavailable",
          `Database ${quote(this.location)} has schema version ${current}, newer than this ` +
            `queuectl knows (${SQLITE_MIGRATIONS.length}); upgrade queuectl`,
        );
      }
      for (let n = current; n < SQLITE_MIGRATIONS.length; n++) {
        this.#db.exec(SQLITE_MIGRATIONS[n]);
      }
      this.#db.exec(`PRAGMA user_version = ${SQLITE_MIGRATIONS.length}`);
    });
  }

  /** A cached prepared statement. */
  #sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` in a write transaction that takes the lock first. While another
   * process holds it we retry ourselves, yielding to the event loop with waits
   * of at most {@linkcode LOCK_RETRY_MAX_MS}: SQLite's own busy handler would
   * block the thread in sleeps of 1, 2, 5, 10… ms, far longer than the ~0.2 ms
   * our transactions hold the lock, and it made contended settles 10x slower.
   */
  async #tx<T>(fn: () => T): Promise<T> {
    if (!this.#tryBegin()) {
      const deadline = performance.now() + BUSY_TIMEOUT_MS;
      let wait = 0;
      do {
        if (performance.now() > deadline) {
          throw new QueueError(
            "unavailable",
            `Database ${quote(this.location)} stayed locked for ${BUSY_TIMEOUT_MS / 1000} s`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait + 0.5, LOCK_RETRY_MAX_MS);
      } while (!this.#tryBegin());
    }
    return this.#inTx(fn);
  }

  /** Takes the write lock if it is free at once. */
  #tryBegin(): boolean {
    this.#db.exec("PRAGMA busy_timeout = 0");
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      return true;
    } catch (error) {
      // Deno's node:sqlite gives no result code here, only SQLite's message for SQLITE_BUSY.
      if ((error as Error).message === "database is locked") return false;
      throw error;
    } finally {
      this.#db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /** A write transaction that waits in SQLite's busy handler (opening the database only). */
  #txSync<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    return this.#inTx(fn);
  }

  #inTx<T>(fn: () => T): T {
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Runs `fn` in a read transaction, so its queries see one snapshot. */
  #read<T>(fn: () => T): T {
    this.#db.exec("BEGIN");
    try {
      return fn();
    } finally {
      if (this.#db.isTransaction) this.#db.exec("COMMIT");
    }
  }

  #config(): Config {
    const rows = this.#sql("SELECT key, value FROM config").all() as Row[];
    return configFromRows(rows.map((row) => [row.key as string, row.value as string]));
  }

  async enqueue(jobs: NewJob[]): Promise<void> {
    const now = this.#now();
    const insert = this.#sql(`
      INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                        created_at, updated_at)
      SELECT value ->> 0, value ->> 1, 'pending', value ->> 2, value ->> 3, value ->> 4,
             value ->> 5, value ->> 6, ?, ?
      FROM json_each(?)`);
    if (this.#worker) this.#db.exec("PRAGMA synchronous = FULL");
    try {
      await this.#tx(() => {
        for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
          const chunk = jobs.slice(start, start + ENQUEUE_CHUNK).map((job) => [
            job.id,
            job.command,
            job.priority,
            job.maxRetries,
            job.timeout,
            job.cwd,
            job.runAt,
          ]);
          const text = JSON.stringify(chunk);
          try {
            insert.run(now, now, text);
          } catch (error) {
            if (!/UNIQUE constraint failed/.test((error as Error).message)) throw error;
            const repeated = repeatedId(jobs);
            if (repeated !== undefined) {
              const id = quote(repeated);
              throw new QueueError(
                "conflict",
                `A job with id ${id} appears twice in the batch; nothing was enqueued`,
              );
            }
            const taken = this.#sql(
              "SELECT id FROM jobs WHERE id IN (SELECT value ->> 0 FROM json_each(?)) LIMIT 1",
            ).get(text) as Row | undefined;
            throw new QueueError(
              "conflict",
              `A job with id ${quote(taken?.id ?? "?")} already exists; nothing was enqueued`,
            );
          }
        }
      });
    } finally {
      if (this.#worker) this.#db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  async claim(worker: string, leaseMs: number): Promise<Job | null> {
    const now = this.#now();
    const job = await this.#tx(() => {
      const row = this.#sql(`
        UPDATE jobs
        SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = ?,
            lease_until = ?, started_at = ?, updated_at = ?, finished_at = NULL
        WHERE seq = (
          SELECT seq FROM jobs INDEXED BY jobs_claim
          WHERE state IN ('pending', 'failed') AND run_at <= ?
          ORDER BY priority DESC, run_at, seq
          LIMIT 1)
        RETURNING *`).get(worker, now + leaseMs, now, now, now) as Row | undefined;
      if (!row) return null;
      this.#sql(`
        INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
        VALUES (?, ?, ?, ?, 'running')`).run(row.seq, row.runs, worker, now);
      return toJob(row);
    });
    return job;
  }

  async complete(id: string, worker: string, result: RunResult): Promise<boolean> {
    const now = this.#now();
    const done = await this.#tx(() => {
      const row = this.#sql(`
        UPDATE jobs
        SET state = 'completed', finished_at = ?, updated_at = ?, exit_code = ?,
            last_error = NULL, worker = NULL, lease_until = NULL
        WHERE id = ? AND state = 'processing' AND worker = ?
        RETURNING seq, runs`).get(now, now, result.exitCode, id, worker) as Row | undefined;
      if (!row) return false;
      this.#finishAttempt(row, now, "completed", result);
      return true;
    });
    return done;
  }

  #finishAttempt(
    row: Row,
    now: number,
    outcome: Attempt["outcome"],
    result: Pick<RunResult, "exitCode" | "error"> & Partial<RunResult>,
  ): void {
    this.#sql(`
      UPDATE attempts
      SET finished_at = ?, outcome = ?, exit_code = ?, error = ?, stdout = ?, stderr = ?
      WHERE job_seq = ? AND attempt = ?`).run(
      now,
      outcome,
      result.exitCode,
      result.error,
      blob(result.stdout ?? new Uint8Array()),
      blob(result.stderr ?? new Uint8Array()),
      row.seq,
      row.runs,
    );
  }

  /** Settles a failed run of a processing job row: schedule a retry or bury it. */
  #failRow(
    row: Row,
    now: number,
    outcome: "failed" | "lost",
    result: Pick<RunResult, "exitCode" | "error"> & Partial<RunResult>,
    config: Config,
  ): FailOutcome {
    const id = row.id as string;
    const attempts = row.attempts as number;
    const error = result.error ?? "failed";
    this.#finishAttempt(row, now, outcome, result);
    if (canRetry(attempts, row.max_retries as number)) {
      const runAt = now +
        Math.round(backoffSeconds(attempts, config.backoffBase, config.backoffMax) * 1000);
      this.#sql(`
        UPDATE jobs SET state = 'failed', run_at = ?, updated_at = ?, finished_at = ?,
                        exit_code = ?, last_error = ?, worker = NULL, lease_until = NULL
        WHERE seq = ?`).run(runAt, now, now, result.exitCode, error, row.seq);
      return { id, state: "failed", runAt, attempts, error };
    }
    this.#sql(`
      UPDATE jobs SET state = 'dead', updated_at = ?, finished_at = ?, exit_code = ?,
                      last_error = ?, worker = NULL, lease_until = NULL
      WHERE seq = ?`).run(now, now, result.exitCode, error, row.seq);
    return { id, state: "dead", attempts, error };
  }

  async fail(id: string, worker: string, result: RunResult): Promise<FailOutcome | null> {
    const now = this.#now();
    const outcome = await this.#tx(() => {
      const row = this.#sql(`
        SELECT seq, id, attempts, runs, max_retries FROM jobs
        WHERE id = ? AND state = 'processing' AND worker = ?`).get(id, worker) as Row | undefined;
      if (!row) return null;
      return this.#failRow(row, now, "failed", result, this.#config());
    });
    return outcome;
  }

  async heartbeat(beat: Beat): Promise<BeatReply> {
    const now = this.#now();
    const reply = await this.#tx(() => {
      const worker = this.#sql(`
        INSERT INTO workers (id, kind, host, pid, supervisor, started_at, heartbeat_at, current_job)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                                       current_job = excluded.current_job
        RETURNING stop_requested`).get(
        beat.id,
        beat.kind,
        beat.host,
        beat.pid,
        beat.supervisor,
        now,
        now,
        beat.currentJob,
      ) as Row;
      const held = this.#sql(`
        UPDATE jobs INDEXED BY jobs_lease SET lease_until = ?
        WHERE state = 'processing' AND worker = ?
        RETURNING id`).all(now + beat.leaseMs, beat.id) as Row[];
      return { stop: worker.stop_requested === 1, held: held.map((row) => row.id as string) };
    });
    return reply;
  }

  async recover(): Promise<FailOutcome[]> {
    const now = this.#now();
    // A cheap read first: most calls find nothing and need no write lock.
    const expired = this.#sql(
      "SELECT 1 FROM jobs WHERE state = 'processing' AND lease_until < ? LIMIT 1",
    ).get(now);
    const config = this.#config();
    const staleBefore = now - 2 * config.leaseTimeout * 1000;
    const stale = this.#sql("SELECT 1 FROM workers WHERE heartbeat_at < ? LIMIT 1").get(
      staleBefore,
    );
    if (!expired && !stale) return [];
    const outcomes = await this.#tx(() => {
      const rows = this.#sql(`
        SELECT seq, id, attempts, runs, max_retries FROM jobs
        WHERE state = 'processing' AND lease_until < ?`).all(now) as Row[];
      const result = rows.map((row) =>
        this.#failRow(
          row,
          now,
          "lost",
          { exitCode: null, error: "worker lost (lease expired)" },
          config,
        )
      );
      this.#sql("DELETE FROM workers WHERE heartbeat_at < ?").run(staleBefore);
      return result;
    });
    return outcomes;
  }

  async releaseWorker(worker: string, error: string): Promise<FailOutcome[]> {
    const now = this.#now();
    const outcomes = await this.#tx(() => {
      const config = this.#config();
      const rows = this.#sql(`
        SELECT seq, id, attempts, runs, max_retries FROM jobs INDEXED BY jobs_lease
        WHERE state = 'processing' AND worker = ?`).all(worker) as Row[];
      const result = rows.map((row) =>
        this.#failRow(row, now, "lost", { exitCode: null, error }, config)
      );
      this.#sql("DELETE FROM workers WHERE id = ?").run(worker);
      return result;
    });
    return outcomes;
  }

  async unregisterWorker(id: string): Promise<void> {
    await this.#tx(() => this.#sql("DELETE FROM workers WHERE id = ?").run(id));
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    const since = this.#now() - this.#config().leaseTimeout * 1000;
    const rows = this.#sql(
      "SELECT * FROM workers WHERE heartbeat_at >= ? ORDER BY kind DESC, started_at, id",
    ).all(since) as Row[];
    return rows.map(toWorker);
  }

  async requestStop(): Promise<number> {
    const since = this.#now() - this.#config().leaseTimeout * 1000;
    const changes = await this.#tx(() =>
      this.#sql(
        "UPDATE workers SET stop_requested = 1 WHERE kind = 'supervisor' AND heartbeat_at >= ?",
      ).run(since).changes
    );
    return Number(changes);
  }

  async getJob(id: string): Promise<Job | null> {
    const row = this.#sql("SELECT * FROM jobs WHERE id = ?").get(id) as Row | undefined;
    return row ? toJob(row) : null;
  }

  async listJobs(options: ListOptions = {}): Promise<Job[]> {
    const limit = options.limit ?? 50;
    const offset = options.offset ?? 0;
    const rows = options.state
      ? this.#sql("SELECT * FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ? OFFSET ?")
        .all(options.state, limit, offset)
      : this.#sql("SELECT * FROM jobs ORDER BY seq DESC LIMIT ? OFFSET ?").all(limit, offset);
    return (rows as Row[]).map(toJob);
  }

  async counts(): Promise<StateCounts> {
    return this.#counts();
  }

  #counts(): StateCounts {
    const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as StateCounts;
    for (const row of this.#sql("SELECT state, n FROM job_counts").all() as Row[]) {
      counts[row.state as JobState] = row.n as number;
    }
    return counts;
  }

  async oldestPending(): Promise<number | null> {
    return this.#oldestPending();
  }

  #oldestPending(): number | null {
    const row = this.#sql(
      "SELECT created_at FROM jobs WHERE state = 'pending' ORDER BY seq LIMIT 1",
    ).get() as Row | undefined;
    return row ? row.created_at as number : null;
  }

  #seq(id: string): number {
    const row = this.#sql("SELECT seq FROM jobs WHERE id = ?").get(id) as Row | undefined;
    if (!row) throw notFound(id);
    return row.seq as number;
  }

  async attempts(id: string): Promise<Attempt[]> {
    const rows = this.#sql(`
      SELECT attempt, worker, started_at, finished_at, outcome, exit_code, error,
             coalesce(length(stdout), 0) AS stdout_bytes, coalesce(length(stderr), 0) AS stderr_bytes
      FROM attempts WHERE job_seq = ? ORDER BY attempt`).all(this.#seq(id)) as Row[];
    return rows.map((row) => ({
      attempt: row.attempt as number,
      worker: row.worker as string | null,
      startedAt: row.started_at as number,
      finishedAt: row.finished_at as number | null,
      outcome: row.outcome as Attempt["outcome"],
      exitCode: row.exit_code as number | null,
      error: row.error as string | null,
      stdoutBytes: row.stdout_bytes as number,
      stderrBytes: row.stderr_bytes as number,
    }));
  }

  async logs(id: string, attempt?: number): Promise<AttemptLogs | null> {
    const seq = this.#seq(id);
    const row = (attempt === undefined
      ? this.#sql(
        "SELECT attempt, stdout, stderr FROM attempts WHERE job_seq = ? ORDER BY attempt DESC LIMIT 1",
      ).get(seq)
      : this.#sql("SELECT attempt, stdout, stderr FROM attempts WHERE job_seq = ? AND attempt = ?")
        .get(seq, attempt)) as Row | undefined;
    if (!row) return null;
    return {
      attempt: row.attempt as number,
      stdout: (row.stdout as Uint8Array | null) ?? new Uint8Array(),
      stderr: (row.stderr as Uint8Array | null) ?? new Uint8Array(),
    };
  }

  async cancel(id: string): Promise<JobState> {
    const now = this.#now();
    const previous = await this.#tx(() => {
      const row = this.#sql("SELECT seq, runs, state FROM jobs WHERE id = ?").get(id) as
        | Row
        | undefined;
      if (!row) throw notFound(id);
      const state = row.state as JobState;
      if (state === "completed" || state === "dead") {
        throw new QueueError("conflict", `Cannot cancel job ${quote(id)}: it is already ${state}`);
      }
      if (state === "cancelled") return state;
      if (state === "processing") {
        this.#finishAttempt(row, now, "cancelled", { exitCode: null, error: "cancelled" });
      }
      this.#sql(`
        UPDATE jobs SET state = 'cancelled', updated_at = ?, finished_at = ?,
                        last_error = CASE WHEN state = 'processing' THEN 'cancelled while running'
                                          ELSE last_error END,
                        worker = NULL, lease_until = NULL
        WHERE seq = ?`).run(now, now, row.seq);
      return state;
    });
    return previous;
  }

  async retryDead(ids: string[] | "all"): Promise<string[]> {
    const now = this.#now();
    const retried = await this.#tx(() => {
      let seqs: number[];
      let found: string[];
      if (ids === "all") {
        const rows = this.#sql("SELECT seq, id FROM jobs WHERE state = 'dead' ORDER BY seq")
          .all() as Row[];
        seqs = rows.map((row) => row.seq as number);
        found = rows.map((row) => row.id as string);
      } else {
        seqs = [];
        found = [];
        for (const id of new Set(ids)) {
          const row = this.#sql("SELECT seq, state FROM jobs WHERE id = ?").get(id) as
            | Row
            | undefined;
          if (!row) throw notFound(id);
          if (row.state !== "dead") {
            throw new QueueError(
              "conflict",
              `Job ${quote(id)} is ${row.state}, not dead; nothing was retried`,
            );
          }
          seqs.push(row.seq as number);
          found.push(id);
        }
      }
      const update = this.#sql(`
        UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?,
                        started_at = NULL, finished_at = NULL, exit_code = NULL, last_error = NULL
        WHERE seq = ?`);
      for (const seq of seqs) update.run(now, now, seq);
      return found;
    });
    return retried;
  }

  async metrics(options: MetricsOptions): Promise<Metrics> {
    const until = this.#now();
    const since = until - options.windowMs;
    return this.#read(() => {
      // Each query walks the attempts_finished index over the window only, so the
      // cost follows the runs in the window, not the size of the history.
      const minutes = this.#sql(`
        SELECT finished_at / 60000 AS minute,
               sum(CASE WHEN outcome = 'completed' THEN 1 ELSE 0 END) AS completed,
               sum(CASE WHEN outcome IN ('failed', 'lost') THEN 1 ELSE 0 END) AS failed,
               sum(CASE WHEN attempt > 1 THEN 1 ELSE 0 END) AS retries,
               sum(CASE WHEN outcome IN ('completed', 'failed') THEN 1 ELSE 0 END) AS timed,
               sum(CASE WHEN outcome IN ('completed', 'failed') THEN finished_at - started_at
                        ELSE 0 END) AS run_ms,
               max(CASE WHEN outcome IN ('completed', 'failed') THEN finished_at - started_at
                        END) AS longest
        FROM attempts
        WHERE finished_at >= ? AND finished_at <= ?
        GROUP BY finished_at / 60000
        ORDER BY minute`).all(since, until) as Row[];
      const ranks = runTimeRanks(minutes);
      // Nearest rank: one sort of the window's run times, three rows back.
      const ranked = ranks.length === 0 ? [] : this.#sql(`
          SELECT rn, d FROM (
            SELECT finished_at - started_at AS d,
                   row_number() OVER (ORDER BY finished_at - started_at) AS rn
            FROM attempts
            WHERE finished_at >= ? AND finished_at <= ? AND outcome IN ('completed', 'failed')
          ) ranked
          WHERE rn IN (?, ?, ?)`).all(since, until, ...ranks) as Row[];
      // A job died in the window if its last run failed in the window and it is still dead.
      const dead = this.#sql(`
        SELECT count(*) AS n
        FROM attempts a CROSS JOIN jobs j
        WHERE a.finished_at >= ? AND a.finished_at <= ? AND a.outcome IN ('failed', 'lost')
          AND j.seq = a.job_seq AND j.state = 'dead' AND j.runs = a.attempt`)
        .get(since, until) as Row;
      return buildMetrics({
        since,
        until,
        counts: this.#counts(),
        oldestPendingAt: this.#oldestPending(),
        minutes,
        ranks,
        ranked,
        dead: dead.n as number,
      });
    });
  }

  async runTotals(options: RunTotalsOptions): Promise<RunTotals> {
    const { from, to, bucketsMs } = options;
    const buckets = bucketsMs.map((_, i) =>
      `, sum(CASE WHEN finished_at - started_at <= ? THEN 1 ELSE 0 END) AS b${i}`
    );
    const rows = this.#sql(`
      SELECT outcome, count(*) AS n, sum(finished_at - started_at) AS run_ms ${buckets.join("")}
      FROM attempts
      WHERE finished_at >= ? AND finished_at < ?
      GROUP BY outcome`).all(...bucketsMs, from, to) as Row[];
    return buildRunTotals(rows, bucketsMs);
  }

  async getConfig(): Promise<Config> {
    return this.#config();
  }

  async getConfigRows(): Promise<Map<ConfigKey, string>> {
    const rows = this.#sql("SELECT key, value FROM config").all() as Row[];
    return new Map(rows.map((row) => [row.key as ConfigKey, row.value as string]));
  }

  async setConfig(key: ConfigKey, value: string): Promise<void> {
    await this.#tx(() =>
      this.#sql(`
        INSERT INTO config (key, value) VALUES (?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, value)
    );
  }

  async waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    const version = () => (this.#dataVersion.get() as Row).data_version;
    const start = version();
    const deadline = performance.now() + ms;
    while (!signal?.aborted && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(CHANGE_CHECK_MS, ms)));
      if (version() !== start) return;
    }
  }

  async close(): Promise<void> {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }
}

/** Opens (creating and migrating as needed) the SQLite store at `path`. */
export function openSqliteStore(path: string, options: StoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}
