/**
 * The scale-out Store: PostgreSQL, shared by workers on many machines.
 * Claims use `FOR UPDATE SKIP LOCKED`; idle workers wake on LISTEN/NOTIFY;
 * time comes from the database clock, so clock skew between machines cannot
 * steal or resurrect jobs. Each queue lives in its own schema.
 * @module
 */

import postgres from "postgres";
import { type Config, configFromRows, type ConfigKey } from "../core/config.ts";
import { invalid, QueueError, quote } from "../core/errors.ts";
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
import { ChangeListener, type ListenerOptions } from "./postgres_listener.ts";
import { POSTGRES_MIGRATIONS } from "./postgres_schema.ts";
import { parsePostgresUrl, type PostgresTarget } from "./postgres_url.ts";
import type { Metrics, RunTotals } from "../core/metrics.ts";
import { buildMetrics, buildRunTotals, runTimeRanks, toJob, toWorker } from "./rows.ts";
import type {
  Beat,
  BeatReply,
  ListOptions,
  MetricsOptions,
  RunTotalsOptions,
  Store,
  StoreOptions,
} from "./store.ts";

/** A worker's pool: its claim loop, its heartbeat and paired reads run at once. */
const WORKER_POOL_SIZE = 3;
/**
 * Other stores (CLI commands, the dashboard) pipeline on one connection: a
 * second one costs more to open than it saves. The LISTEN connection is extra.
 */
const POOL_SIZE = 1;
/** Seconds to wait for the server to accept a connection. */
const CONNECT_TIMEOUT_S = 10;
/**
 * Seconds `close()` lets running queries finish. Callers close when their
 * calls are done, and waiting for the server to close idle sockets costs a
 * CLI command about 50 ms, so close cuts at once.
 */
const CLOSE_TIMEOUT_S = 0;
/** How long a replaced pool keeps serving its running queries before it is cut off (ms). */
const RETIRE_GRACE_MS = 5_000;
/** Jobs per INSERT statement in a batch enqueue. */
const ENQUEUE_CHUNK = 10_000;

/**
 * The current time in ms since the epoch. Every statement that needs the time
 * takes it as `$1`: `null` in production, so the database clock decides (one
 * value per transaction), or an injected test clock's reading.
 */
const NOW = "coalesce($1::bigint, floor(extract(epoch FROM now()) * 1000)::bigint)";

type Row = Record<string, unknown>;
type Sql = postgres.Sql | postgres.TransactionSql;

/** How a call may be repeated after the connection failed under it. */
type Retry =
  /** Reads and writes whose repetition changes nothing: repeat after any connection error. */
  | "idempotent"
  /** Repeat only when the server says the statement did not run. */
  | "safe";

/** bigint columns (epoch ms, seq, counts) as JS numbers: all fit in 2^53. */
const TYPES = {
  bigint: {
    to: 20,
    from: [20],
    serialize: (value: number) => String(value),
    parse: (text: string) => Number(text),
  },
};

/** Runs a prepared statement. */
function query(sql: Sql, text: string, params: unknown[] = []): Promise<Row[]> {
  return sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
}

/** Output as stored: empty output is NULL, like SQLite's store. */
function blob(bytes: Uint8Array | undefined): Uint8Array | null {
  return !bytes || bytes.length === 0 ? null : bytes;
}

/** A driver's Buffer as a plain Uint8Array. */
function bytes(value: unknown): Uint8Array {
  return value ? new Uint8Array(value as Uint8Array) : new Uint8Array();
}

/** Whether `id` could name a stored job: PostgreSQL text cannot hold NUL characters. */
function storable(id: string): boolean {
  return !id.includes("\0");
}

/** PostgreSQL text cannot hold NUL characters; free text loses them. */
function text(value: string | null): string | null {
  return value === null ? null : value.replaceAll("\0", "");
}

function notFound(id: string): QueueError {
  return new QueueError("not_found", `No job with id ${quote(id)}`);
}

function conflict(id: string): QueueError {
  return new QueueError(
    "conflict",
    `A job with id ${quote(id)} already exists; nothing was enqueued`,
  );
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

function isPostgresError(error: unknown): error is postgres.PostgresError {
  return error instanceof Error && error.name === "PostgresError";
}

/**
 * Deadlock and serialization failure: the server rolled the transaction back,
 * so running it again is safe. (Two enqueues in one counter shard that insert
 * the same id can deadlock; run again, one of them reports the conflict.)
 */
const ROLLED_BACK = ["40P01", "40001"];

/** Error classes that mean the database cannot be used right now (not a bad statement). */
const UNAVAILABLE_CLASSES = ["08", "28", "3D", "53", "57"];

/** Whether `error` is about reaching the database rather than about a statement. */
function isConnectionError(error: unknown): boolean {
  if (error instanceof QueueError || !(error instanceof Error)) return false;
  const code = errorCode(error);
  if (isPostgresError(error)) {
    // FATAL ends the session: e.g. a bad setting in the URL refused at connect.
    return error.severity === "FATAL" || error.severity === "PANIC" ||
      UNAVAILABLE_CLASSES.includes(code.slice(0, 2));
  }
  return /^(E[A-Z]+|CONNECT(ION)?_[A-Z_]+|SASL_[A-Z_]+|AUTH_[A-Z_]+)$/.test(code);
}

/** Connection errors raised inside a transaction before its COMMIT was sent. */
const uncommitted = new WeakSet<object>();

/** Whether a connection error proves the statement did not take effect, so repeating it is safe. */
function didNotRun(error: unknown): boolean {
  const code = errorCode(error);
  // The server aborted the statement as it shut the session down, the driver
  // refused the query before sending it, or the transaction never committed.
  return code === "57P01" || code === "57P02" || code === "CONNECTION_ENDED" ||
    uncommitted.has(error as object);
}

/** Whether repeating at once could help: not when the server refuses or cannot be found. */
function worthRetrying(error: unknown): boolean {
  const code = errorCode(error);
  if (isPostgresError(error)) return code === "57P01" || code === "57P02";
  return !/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|CONNECT_TIMEOUT)$/.test(
    code,
  );
}

/** The one-line reason a connection error gives. */
function reason(error: unknown): string {
  const code = errorCode(error);
  if (isPostgresError(error)) return error.message;
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset by the server",
    EPIPE: "connection closed by the server",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    CONNECT_TIMEOUT: `no answer within ${CONNECT_TIMEOUT_S} seconds`,
    CONNECTION_CLOSED: "the connection was closed",
    CONNECTION_ENDED: "the connection was closed",
    CONNECTION_DESTROYED: "the connection was closed",
  };
  return known[code] ?? ((error as Error).message || code);
}

/** PostgreSQL implementation of {@linkcode Store}. */
export class PostgresStore implements Store {
  readonly kind = "postgres";
  readonly location: string;
  #target: PostgresTarget;
  #options: ListenerOptions;
  #clock: (() => number) | null;
  #worker: boolean;
  #sql: postgres.Sql;
  /** Pools replaced after a connection failure, finishing their queries until a timer ends them. */
  #retired = new Map<postgres.Sql, ReturnType<typeof setTimeout>>();
  #listener: ChangeListener;
  /** Listener version when the last claim started: a change after it wakes `waitForChange`. */
  #seen = 0;
  #closed = false;

  constructor(target: PostgresTarget, options: StoreOptions = {}) {
    this.#target = target;
    this.location = target.location;
    this.#clock = options.clock ?? null;
    this.#worker = options.worker ?? false;
    this.#options = {
      max: this.#worker ? WORKER_POOL_SIZE : POOL_SIZE,
      prepare: true,
      // Parameters and results avoid array types, so the driver needs no type lookup per connection.
      fetch_types: false,
      connect_timeout: CONNECT_TIMEOUT_S,
      onnotice: () => {},
      types: TYPES as unknown as ListenerOptions["types"],
      transform: { undefined: null },
      connection: {
        application_name: `queuectl:${target.schema}`,
        search_path: target.schemaIdent,
        // A worker's settle may be lost in a crash (it only means a re-run);
        // enqueue turns durability back on for its own transaction.
        ...(this.#worker ? { synchronous_commit: "off" } : {}),
      },
    };
    this.#sql = this.#pool();
    this.#listener = new ChangeListener(target.url, this.#options, target.channel);
  }

  #pool(): postgres.Sql {
    return postgres(this.#target.url, this.#options) as unknown as postgres.Sql;
  }

  /** The location quoted in full for messages (a long URL cut short would not name the queue). */
  get #where(): string {
    return JSON.stringify(this.location);
  }

  /** The test clock's reading, or `null` for the database clock. */
  #now(): number | null {
    return this.#clock ? this.#clock() : null;
  }

  /** Creates the schema and runs pending migrations; workers start listening at once. */
  async open(): Promise<void> {
    await this.#run("idempotent", (sql) => this.#migrate(sql));
    if (this.#worker) await this.#listener.listen();
  }

  async #migrate(sql: postgres.Sql): Promise<void> {
    const version = async (tx: Sql) => {
      try {
        const [row] = await query(tx, "SELECT version FROM schema_version");
        return row ? row.version as number : 0;
      } catch (error) {
        if (errorCode(error) === "42P01") return 0; // no table yet
        throw error;
      }
    };
    if (await version(sql) === POSTGRES_MIGRATIONS.length) return;
    await sql.begin(async (tx) => {
      // Several processes may open a fresh database at once: one migrates, the others wait.
      await query(tx, "SELECT pg_advisory_xact_lock(hashtext('queuectl'), hashtext($1))", [
        this.#target.schema,
      ]);
      const [schema] = await query(tx, "SELECT 1 FROM pg_namespace WHERE nspname = $1", [
        this.#target.schema,
      ]);
      if (!schema) await tx.unsafe(`CREATE SCHEMA ${this.#target.schemaIdent}`);
      await tx.unsafe("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
      const [row] = await query(tx, "SELECT version FROM schema_version");
      if (!row) await tx.unsafe("INSERT INTO schema_version (version) VALUES (0)");
      const current = row ? row.version as number : 0;
      if (current > POSTGRES_MIGRATIONS.length) {
        throw new QueueError(
          "unavailable",
          `Database ${this.#where} has schema version ${current}, newer than this ` +
            `queuectl knows (${POSTGRES_MIGRATIONS.length}); upgrade queuectl`,
        );
      }
      for (let n = current; n < POSTGRES_MIGRATIONS.length; n++) {
        await tx.unsafe(POSTGRES_MIGRATIONS[n]);
      }
      await query(tx, "UPDATE schema_version SET version = $1", [POSTGRES_MIGRATIONS.length]);
    });
  }

  /**
   * Runs `fn` on the pool. A deadlock or serialization failure (the server
   * rolled the work back) is run again once. A connection failure replaces
   * the pool (a query caught on a dying socket may otherwise never settle), is
   * retried once when `retry` allows, and surfaces as an `unavailable` QueueError.
   */
  async #run<T>(retry: Retry, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    // A call after close() must not open a fresh pool that nobody ends.
    if (this.#closed) throw new Error(`PostgreSQL store ${this.#where} is closed`);
    for (let attempt = 1;; attempt++) {
      const sql = this.#sql;
      try {
        return await fn(sql);
      } catch (error) {
        const last = attempt > 1;
        if (!last && ROLLED_BACK.includes(errorCode(error))) continue;
        if (!isConnectionError(error)) throw this.#statementError(error);
        if (this.#closed) throw this.#unavailable(error); // closed while it ran
        this.#replace(sql);
        if (last || !worthRetrying(error) || (retry === "safe" && !didNotRun(error))) {
          throw this.#unavailable(error);
        }
      }
    }
  }

  /** Errors the server gave a statement: bad values and missing rights get a clear line. */
  #statementError(error: unknown): unknown {
    if (!isPostgresError(error)) return error;
    if (error.code.startsWith("22")) {
      return invalid(`Cannot store a value in PostgreSQL: ${error.message}`);
    }
    if (error.code === "42501") return this.#unavailable(error);
    return error;
  }

  /**
   * Replaces a pool that lost a connection. A query the driver sends on a socket
   * that is dying may never settle, so the old pool is ended (rejecting such a
   * query) once its other running queries had time to finish.
   */
  #replace(failed: postgres.Sql): void {
    if (failed !== this.#sql) return;
    this.#sql = this.#pool();
    const timer = setTimeout(() => this.#retire(failed), RETIRE_GRACE_MS);
    Deno.unrefTimer(timer);
    this.#retired.set(failed, timer);
  }

  #retire(pool: postgres.Sql): Promise<void> {
    clearTimeout(this.#retired.get(pool));
    this.#retired.delete(pool);
    return pool.end({ timeout: 0 }).catch(() => {});
  }

  /** Runs `fn` in a transaction; a connection lost before COMMIT was sent may be retried. */
  #transaction<T>(fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
    return this.#run("safe", async (sql) => {
      let committing = false;
      try {
        return await sql.begin(async (tx) => {
          const result = await fn(tx);
          committing = true;
          return result;
        }) as T;
      } catch (error) {
        if (!committing && error instanceof Error) uncommitted.add(error);
        throw error;
      }
    });
  }

  #unavailable(error: unknown): QueueError {
    const why = reason(error).replace(/\s+/g, " ").trim();
    return new QueueError(
      "unavailable",
      `Cannot use PostgreSQL database ${this.#where}: ${why}`,
    );
  }

  async #config(sql: Sql): Promise<Config> {
    const rows = await query(sql, "SELECT key, value FROM config");
    return configFromRows(rows.map((row) => [row.key as string, row.value as string]));
  }

  async enqueue(jobs: NewJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const seen = new Set<string>();
    for (const job of jobs) {
      if (job.id.includes("\0") || job.command.includes("\0") || job.cwd.includes("\0")) {
        const field = job.id.includes("\0") ? "id" : job.command.includes("\0") ? "command" : "cwd";
        const what = quote(job.id);
        throw invalid(
          `Job ${what} has a NUL character in its ${field}; PostgreSQL cannot store it`,
        );
      }
      if (seen.has(job.id)) {
        throw new QueueError(
          "conflict",
          `A job with id ${quote(job.id)} appears twice in the batch; nothing was enqueued`,
        );
      }
      seen.add(job.id);
    }
    const now = this.#now();
    const insert = `
      INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                        created_at, updated_at)
      SELECT v ->> 0, v ->> 1, 'pending', (v ->> 2)::integer, (v ->> 3)::integer,
             (v ->> 4)::double precision, v ->> 5, (v ->> 6)::bigint, ${NOW}, ${NOW}
      FROM json_array_elements($2::text::json) AS v`;
    const encode = (start: number) =>
      JSON.stringify(
        jobs.slice(start, start + ENQUEUE_CHUNK).map((job) => [
          job.id,
          job.command,
          job.priority,
          job.maxRetries,
          job.timeout,
          job.cwd,
          job.runAt,
        ]),
      );
    try {
      if (jobs.length <= ENQUEUE_CHUNK && !this.#worker) {
        // One statement is atomic by itself: no BEGIN/COMMIT round trips.
        await this.#run("safe", (sql) => query(sql, insert, [now, encode(0)]));
        return;
      }
      await this.#transaction(async (tx) => {
        if (this.#worker) await tx.unsafe("SET LOCAL synchronous_commit = on");
        // Chunks are pipelined: each is sent as soon as it is encoded, and the
        // next is encoded while the server stores it.
        const pending: Promise<Row[]>[] = [];
        for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
          const inserted = query(tx, insert, [now, encode(start)]);
          inserted.catch(() => {}); // starts it; Promise.all below reports the error
          pending.push(inserted);
          await new Promise((resolve) => setTimeout(resolve, 0)); // let the socket write it
        }
        await Promise.all(pending);
      });
    } catch (error) {
      if (errorCode(error) !== "23505") throw error;
      const ids = jobs.map((job) => job.id);
      const [taken] = await this.#run(
        "idempotent",
        (sql) =>
          query(
            sql,
            `SELECT id FROM jobs
             WHERE id IN (SELECT json_array_elements_text($1::text::json)) LIMIT 1`,
            [JSON.stringify(ids)],
          ),
      );
      throw conflict(taken ? taken.id as string : "?");
    }
  }

  async claim(worker: string, leaseMs: number): Promise<Job | null> {
    this.#seen = this.#listener.version;
    const rows = await this.#run("safe", (sql) =>
      query(
        sql,
        `
      WITH next AS MATERIALIZED (
        SELECT seq FROM jobs
        WHERE state IN ('pending', 'failed') AND run_at <= ${NOW}
        ORDER BY priority DESC, run_at, seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE jobs
        SET state = 'processing', attempts = attempts + 1, runs = runs + 1, worker = $2,
            lease_until = ${NOW} + $3::bigint, started_at = ${NOW}, updated_at = ${NOW},
            finished_at = NULL
        WHERE seq = (SELECT seq FROM next)
        RETURNING *
      ), attempt AS (
        INSERT INTO attempts (job_seq, attempt, worker, started_at, outcome)
        SELECT seq, runs, $2, ${NOW}, 'running' FROM claimed
      )
      SELECT * FROM claimed`,
        [this.#now(), worker, leaseMs],
      ));
    return rows.length ? toJob(rows[0]) : null;
  }

  async complete(id: string, worker: string, result: RunResult): Promise<boolean> {
    const rows = await this.#run("safe", (sql) =>
      query(
        sql,
        `
      WITH done AS (
        UPDATE jobs
        SET state = 'completed', finished_at = ${NOW}, updated_at = ${NOW}, exit_code = $4,
            last_error = NULL, worker = NULL, lease_until = NULL
        WHERE id = $2 AND state = 'processing' AND worker = $3
        RETURNING seq, runs
      ), attempt AS (
        UPDATE attempts AS a
        SET finished_at = ${NOW}, outcome = 'completed', exit_code = $4, error = $5,
            stdout = $6::bytea, stderr = $7::bytea
        FROM done WHERE a.job_seq = done.seq AND a.attempt = done.runs
      )
      SELECT count(*)::integer AS n FROM done`,
        [
          this.#now(),
          id,
          worker,
          result.exitCode,
          text(result.error),
          blob(result.stdout),
          blob(result.stderr),
        ],
      ));
    return (rows[0].n as number) > 0;
  }

  /**
   * Records failed runs of processing jobs read as `rows` (seq, runs, attempts,
   * max_retries): each is retried after its backoff or buried. A row changes
   * only if it is still that run and still passes `guard`.
   */
  async #failRows(
    rows: Row[],
    guard: { worker?: string; expired?: boolean },
    outcome: "failed" | "lost",
    result: Pick<RunResult, "exitCode" | "error"> & Partial<RunResult>,
    config: Config,
  ): Promise<FailOutcome[]> {
    if (rows.length === 0) return [];
    const input = rows.map((row) => ({
      seq: row.seq as number,
      runs: row.runs as number,
      retry: canRetry(row.attempts as number, row.max_retries as number),
      backoff: Math.round(
        backoffSeconds(row.attempts as number, config.backoffBase, config.backoffMax) * 1000,
      ),
    }));
    const error = text(result.error ?? "failed")!;
    const settled = await this.#run("safe", (sql) =>
      query(
        sql,
        `
      WITH input AS (
        SELECT * FROM json_to_recordset($2::text::json)
          AS input (seq bigint, runs integer, retry boolean, backoff bigint)
      ), failed AS (
        UPDATE jobs AS j
        SET state = CASE WHEN input.retry THEN 'failed' ELSE 'dead' END,
            run_at = CASE WHEN input.retry THEN ${NOW} + input.backoff ELSE j.run_at END,
            updated_at = ${NOW}, finished_at = ${NOW}, exit_code = $3, last_error = $4,
            worker = NULL, lease_until = NULL
        FROM input
        WHERE j.seq = input.seq AND j.runs = input.runs AND j.state = 'processing'
          AND ($5::text IS NULL OR j.worker = $5)
          AND (NOT $6::boolean OR j.lease_until < ${NOW})
        RETURNING j.seq, j.runs, j.id, j.state, j.run_at, j.attempts
      ), attempt AS (
        UPDATE attempts AS a
        SET finished_at = ${NOW}, outcome = $7, exit_code = $3, error = $8,
            stdout = $9::bytea, stderr = $10::bytea
        FROM failed WHERE a.job_seq = failed.seq AND a.attempt = failed.runs
      )
      SELECT * FROM failed`,
        [
          this.#now(),
          JSON.stringify(input),
          result.exitCode,
          error,
          guard.worker ?? null,
          guard.expired ?? false,
          outcome,
          text(result.error),
          blob(result.stdout),
          blob(result.stderr),
        ],
      ));
    const bySeq = new Map(settled.map((row) => [row.seq as number, row]));
    const outcomes: FailOutcome[] = [];
    for (const row of rows) {
      const done = bySeq.get(row.seq as number);
      if (!done) continue;
      const id = done.id as string;
      const attempts = done.attempts as number;
      outcomes.push(
        done.state === "failed"
          ? { id, state: "failed", runAt: done.run_at as number, attempts, error }
          : { id, state: "dead", attempts, error },
      );
    }
    return outcomes;
  }

  async fail(id: string, worker: string, result: RunResult): Promise<FailOutcome | null> {
    const [rows, config] = await this.#run("idempotent", (sql) =>
      Promise.all([
        query(
          sql,
          `SELECT seq, runs, attempts, max_retries FROM jobs
           WHERE id = $1 AND state = 'processing' AND worker = $2`,
          [id, worker],
        ),
        this.#config(sql),
      ]));
    const [outcome] = await this.#failRows(rows, { worker }, "failed", result, config);
    return outcome ?? null;
  }

  async heartbeat(beat: Beat): Promise<BeatReply> {
    const [row] = await this.#run("idempotent", (sql) =>
      query(
        sql,
        `
      WITH beat AS (
        INSERT INTO workers (id, kind, host, pid, supervisor, started_at, heartbeat_at, current_job)
        VALUES ($2, $3, $4, $5, $6, ${NOW}, ${NOW}, $7)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                                       current_job = excluded.current_job
        RETURNING stop_requested
      ), held AS (
        UPDATE jobs SET lease_until = ${NOW} + $8::bigint
        WHERE state = 'processing' AND worker = $2
        RETURNING id
      )
      SELECT (SELECT stop_requested FROM beat) AS stop,
             (SELECT coalesce(json_agg(id ORDER BY id COLLATE "C"), '[]') FROM held) AS held`,
        [
          this.#now(),
          beat.id,
          beat.kind,
          beat.host,
          beat.pid,
          beat.supervisor,
          beat.currentJob,
          beat.leaseMs,
        ],
      ));
    return { stop: row.stop === true, held: row.held as string[] };
  }

  async recover(): Promise<FailOutcome[]> {
    const [expired, config] = await this.#run("idempotent", (sql) =>
      Promise.all([
        query(
          sql,
          `SELECT seq, runs, attempts, max_retries FROM jobs
           WHERE state = 'processing' AND lease_until < ${NOW}
           ORDER BY lease_until, seq`,
          [this.#now()],
        ),
        this.#config(sql),
      ]));
    const [outcomes] = await Promise.all([
      this.#failRows(
        expired,
        { expired: true },
        "lost",
        { exitCode: null, error: "worker lost (lease expired)" },
        config,
      ),
      this.#run(
        "idempotent",
        (sql) =>
          query(sql, `DELETE FROM workers WHERE heartbeat_at < ${NOW} - $2::bigint`, [
            this.#now(),
            2 * config.leaseTimeout * 1000,
          ]),
      ),
    ]);
    return outcomes;
  }

  async releaseWorker(worker: string, error: string): Promise<FailOutcome[]> {
    const [rows, config] = await this.#run("idempotent", (sql) =>
      Promise.all([
        query(
          sql,
          `SELECT seq, runs, attempts, max_retries FROM jobs
           WHERE state = 'processing' AND worker = $1 ORDER BY seq`,
          [worker],
        ),
        this.#config(sql),
      ]));
    const outcomes = await this.#failRows(
      rows,
      { worker },
      "lost",
      { exitCode: null, error },
      config,
    );
    await this.unregisterWorker(worker);
    return outcomes;
  }

  async unregisterWorker(id: string): Promise<void> {
    await this.#run("idempotent", (sql) => query(sql, "DELETE FROM workers WHERE id = $1", [id]));
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    const rows = await this.#run("idempotent", async (sql) => {
      const config = await this.#config(sql);
      return query(
        sql,
        `SELECT * FROM workers WHERE heartbeat_at >= ${NOW} - $2::bigint
         ORDER BY kind DESC, started_at, id COLLATE "C"`,
        [this.#now(), config.leaseTimeout * 1000],
      );
    });
    return rows.map(toWorker);
  }

  async requestStop(): Promise<number> {
    const rows = await this.#run("idempotent", async (sql) => {
      const config = await this.#config(sql);
      return query(
        sql,
        `UPDATE workers SET stop_requested = true
         WHERE kind = 'supervisor' AND heartbeat_at >= ${NOW} - $2::bigint
         RETURNING id`,
        [this.#now(), config.leaseTimeout * 1000],
      );
    });
    return rows.length;
  }

  async getJob(id: string): Promise<Job | null> {
    if (!storable(id)) return null;
    const rows = await this.#run(
      "idempotent",
      (sql) => query(sql, "SELECT * FROM jobs WHERE id = $1", [id]),
    );
    return rows.length ? toJob(rows[0]) : null;
  }

  async listJobs(options: ListOptions = {}): Promise<Job[]> {
    const limit = options.limit ?? 50;
    const offset = options.offset ?? 0;
    const rows = await this.#run(
      "idempotent",
      (sql) =>
        options.state
          ? query(sql, "SELECT * FROM jobs WHERE state = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3", [
            options.state,
            limit,
            offset,
          ])
          : query(sql, "SELECT * FROM jobs ORDER BY seq DESC LIMIT $1 OFFSET $2", [limit, offset]),
    );
    return rows.map(toJob);
  }

  async counts(): Promise<StateCounts> {
    const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as StateCounts;
    const rows = await this.#run(
      "idempotent",
      (sql) => query(sql, "SELECT state, sum(n)::bigint AS n FROM job_counts GROUP BY state"),
    );
    for (const row of rows) counts[row.state as JobState] = row.n as number;
    return counts;
  }

  async oldestPending(): Promise<number | null> {
    const rows = await this.#run("idempotent", (sql) =>
      query(
        sql,
        "SELECT created_at FROM jobs WHERE state = 'pending' ORDER BY seq LIMIT 1",
      ));
    return rows.length ? rows[0].created_at as number : null;
  }

  async attempts(id: string): Promise<Attempt[]> {
    if (!storable(id)) throw notFound(id);
    const rows = await this.#run("idempotent", (sql) =>
      query(
        sql,
        `SELECT a.attempt, a.worker, a.started_at, a.finished_at, a.outcome, a.exit_code, a.error,
                coalesce(length(a.stdout), 0) AS stdout_bytes,
                coalesce(length(a.stderr), 0) AS stderr_bytes
         FROM jobs AS j LEFT JOIN attempts AS a ON a.job_seq = j.seq
         WHERE j.id = $1 ORDER BY a.attempt`,
        [id],
      ));
    if (rows.length === 0) throw notFound(id);
    return rows.filter((row) => row.attempt !== null).map((row) => ({
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
    if (!storable(id)) throw notFound(id);
    const rows = await this.#run("idempotent", (sql) =>
      query(
        sql,
        `SELECT a.attempt, a.stdout, a.stderr
         FROM jobs AS j LEFT JOIN LATERAL (
           SELECT attempt, stdout, stderr FROM attempts
           WHERE job_seq = j.seq AND ($2::integer IS NULL OR attempt = $2)
           ORDER BY attempt DESC LIMIT 1
         ) AS a ON true
         WHERE j.id = $1`,
        [id, attempt ?? null],
      ));
    if (rows.length === 0) throw notFound(id);
    const row = rows[0];
    if (row.attempt === null) return null;
    return { attempt: row.attempt as number, stdout: bytes(row.stdout), stderr: bytes(row.stderr) };
  }

  async cancel(id: string): Promise<JobState> {
    if (!storable(id)) throw notFound(id);
    const now = this.#now();
    return await this.#transaction(async (tx) => {
      const [row] = await query(
        tx,
        "SELECT seq, runs, state FROM jobs WHERE id = $1 FOR UPDATE",
        [id],
      );
      if (!row) throw notFound(id);
      const state = row.state as JobState;
      if (state === "completed" || state === "dead") {
        throw new QueueError(
          "conflict",
          `Cannot cancel job ${quote(id)}: it is already ${state}`,
        );
      }
      if (state === "cancelled") return state;
      if (state === "processing") {
        await query(
          tx,
          `UPDATE attempts
             SET finished_at = ${NOW}, outcome = 'cancelled', exit_code = NULL, error = 'cancelled',
                 stdout = NULL, stderr = NULL
             WHERE job_seq = $2 AND attempt = $3`,
          [now, row.seq, row.runs],
        );
      }
      await query(
        tx,
        `UPDATE jobs
           SET state = 'cancelled', updated_at = ${NOW}, finished_at = ${NOW},
               last_error = CASE WHEN state = 'processing' THEN 'cancelled while running'
                                 ELSE last_error END,
               worker = NULL, lease_until = NULL
           WHERE seq = $2`,
        [now, row.seq],
      );
      return state;
    });
  }

  async retryDead(ids: string[] | "all"): Promise<string[]> {
    const now = this.#now();
    const reset = `
      UPDATE jobs
      SET state = 'pending', attempts = 0, run_at = ${NOW}, updated_at = ${NOW},
          started_at = NULL, finished_at = NULL, exit_code = NULL, last_error = NULL`;
    return await this.#transaction(async (tx) => {
      if (ids === "all") {
        const rows = await query(tx, `${reset} WHERE state = 'dead' RETURNING seq, id`, [now]);
        rows.sort((a, b) => (a.seq as number) - (b.seq as number));
        return rows.map((row) => row.id as string);
      }
      const wanted = [...new Set(ids)];
      if (wanted.length === 0) return [];
      const bad = wanted.find((id) => !storable(id));
      if (bad !== undefined) throw notFound(bad);
      const rows = await query(
        tx,
        `SELECT seq, id, state FROM jobs
         WHERE id IN (SELECT json_array_elements_text($1::text::json)) ORDER BY seq FOR UPDATE`,
        [JSON.stringify(wanted)],
      );
      const byId = new Map(rows.map((row) => [row.id as string, row]));
      for (const id of wanted) {
        const row = byId.get(id);
        if (!row) throw notFound(id);
        if (row.state !== "dead") {
          throw new QueueError(
            "conflict",
            `Job ${quote(id)} is ${row.state}, not dead; nothing was retried`,
          );
        }
      }
      await query(
        tx,
        `${reset} WHERE seq IN (SELECT value::bigint FROM json_array_elements_text($2::text::json))`,
        [now, JSON.stringify(rows.map((row) => row.seq))],
      );
      return wanted;
    });
  }

  async metrics(options: MetricsOptions): Promise<Metrics> {
    const [counts, oldestPendingAt] = await Promise.all([this.counts(), this.oldestPending()]);
    return await this.#run("idempotent", async (sql) => {
      const [{ now }] = await query(sql, `SELECT ${NOW} AS now`, [this.#now()]);
      const until = now as number;
      const since = until - options.windowMs;
      // Each query walks the attempts_finished index over the window only.
      const timed = "outcome IN ('completed', 'failed')";
      const minutes = await query(
        sql,
        `SELECT finished_at / 60000 AS minute,
                count(*) FILTER (WHERE outcome = 'completed') AS completed,
                count(*) FILTER (WHERE outcome IN ('failed', 'lost')) AS failed,
                count(*) FILTER (WHERE attempt > 1) AS retries,
                count(*) FILTER (WHERE ${timed}) AS timed,
                coalesce(sum(finished_at - started_at) FILTER (WHERE ${timed}), 0)::bigint AS run_ms,
                max(finished_at - started_at) FILTER (WHERE ${timed}) AS longest
         FROM attempts
         WHERE finished_at >= $1 AND finished_at <= $2
         GROUP BY 1 ORDER BY 1`,
        [since, until],
      );
      const ranks = runTimeRanks(minutes);
      const ranked = ranks.length === 0 ? [] : await query(
        sql,
        `SELECT rn, d FROM (
           SELECT finished_at - started_at AS d,
                  row_number() OVER (ORDER BY finished_at - started_at) AS rn
           FROM attempts
           WHERE finished_at >= $1 AND finished_at <= $2 AND ${timed}
         ) ranked
         WHERE rn IN ($3, $4, $5)`,
        [since, until, ...ranks],
      );
      // A job died in the window if its last run failed in the window and it is still dead.
      const [dead] = await query(
        sql,
        `SELECT count(*) AS n
         FROM attempts a JOIN jobs j ON j.seq = a.job_seq
         WHERE a.finished_at >= $1 AND a.finished_at <= $2 AND a.outcome IN ('failed', 'lost')
           AND j.state = 'dead' AND j.runs = a.attempt`,
        [since, until],
      );
      return buildMetrics({
        since,
        until,
        counts,
        oldestPendingAt,
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
      `, count(*) FILTER (WHERE finished_at - started_at <= $${i + 3}) AS b${i}`
    );
    const rows = await this.#run("idempotent", (sql) =>
      query(
        sql,
        `SELECT outcome, count(*) AS n, coalesce(sum(finished_at - started_at), 0)::bigint AS run_ms
                ${buckets.join("")}
         FROM attempts
         WHERE finished_at >= $1 AND finished_at < $2
         GROUP BY outcome`,
        [from, to, ...bucketsMs],
      ));
    return buildRunTotals(rows, bucketsMs);
  }

  async getConfig(): Promise<Config> {
    return await this.#run("idempotent", (sql) => this.#config(sql));
  }

  async getConfigRows(): Promise<Map<ConfigKey, string>> {
    const rows = await this.#run(
      "idempotent",
      (sql) => query(sql, "SELECT key, value FROM config"),
    );
    return new Map(rows.map((row) => [row.key as ConfigKey, row.value as string]));
  }

  async setConfig(key: ConfigKey, value: string): Promise<void> {
    await this.#run("idempotent", (sql) =>
      query(
        sql,
        `INSERT INTO config (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [key, value],
      ));
  }

  async waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    await this.#listener.wait(this.#seen, ms, signal);
    this.#seen = this.#listener.version;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([
      this.#listener.close(),
      this.#sql.end({ timeout: CLOSE_TIMEOUT_S }),
      ...[...this.#retired.keys()].map((pool) => this.#retire(pool)),
    ]);
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
