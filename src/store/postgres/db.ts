/**
 * The PostgreSQL connection every statement family runs on: the pool (one
 * per process, replaced when a connection dies), calls retried only when
 * that is safe, errors turned into one-line `unavailable` messages, the
 * test clock, and the LISTEN connection idle workers wait on.
 * @module
 */

import postgres from "postgres";
import { invalid, QueueError } from "../../core/errors.ts";
import type { StoreOptions } from "../store.ts";
import {
  CONNECT_TIMEOUT_S,
  didNotRun,
  errorCode,
  isConnectionError,
  isPostgresError,
  reason,
  ROLLED_BACK,
  uncommitted,
  worthRetrying,
} from "./errors.ts";
import { ChangeListener, type ListenerOptions } from "./listener.ts";
import { migrate } from "./schema.ts";
import type { Retry } from "./sql.ts";
import type { PostgresTarget } from "./url.ts";

/** A worker's pool: its claim loop, its heartbeat and paired reads run at once. */
const WORKER_POOL_SIZE = 3;
/**
 * Other stores (CLI commands, the dashboard) pipeline on one connection: a
 * second one costs more to open than it saves. The LISTEN connection is extra.
 */
const POOL_SIZE = 1;
/**
 * Seconds `close()` lets running queries finish. Callers close when their
 * calls are done, and waiting for the server to close idle sockets costs a
 * CLI command about 50 ms, so close cuts at once.
 */
const CLOSE_TIMEOUT_S = 0;
/** How long a replaced pool keeps serving its running queries before it is cut off (ms). */
const RETIRE_GRACE_MS = 5_000;

/** bigint columns (epoch ms, seq, counts) as JS numbers: all fit in 2^53. */
const TYPES = {
  bigint: {
    to: 20,
    from: [20],
    serialize: (value: number) => String(value),
    parse: (text: string) => Number(text),
  },
};

/** One queue's connection to PostgreSQL. */
export class PgDb {
  readonly target: PostgresTarget;
  /** Opened for a worker's hot path: settles may be lost in a crash (a re-run). */
  readonly worker: boolean;
  #options: ListenerOptions;
  #clock: (() => number) | null;
  #sql: postgres.Sql;
  /** Pools replaced after a connection failure, finishing their queries until a timer ends them. */
  #retired = new Map<postgres.Sql, ReturnType<typeof setTimeout>>();
  #listener: ChangeListener;
  /** Listener version when the last claim started: a change after it wakes `waitForChange`. */
  #seen = 0;
  #closed = false;

  constructor(target: PostgresTarget, options: StoreOptions = {}) {
    this.target = target;
    this.#clock = options.clock ?? null;
    this.worker = options.worker ?? false;
    this.#options = {
      max: this.worker ? WORKER_POOL_SIZE : POOL_SIZE,
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
        ...(this.worker ? { synchronous_commit: "off" } : {}),
      },
    };
    this.#sql = this.#pool();
    this.#listener = new ChangeListener(target.url, this.#options, target.channel);
  }

  #pool(): postgres.Sql {
    return postgres(this.target.url, this.#options) as unknown as postgres.Sql;
  }

  /** The location quoted in full for messages (a long URL cut short would not name the queue). */
  get where(): string {
    return JSON.stringify(this.target.location);
  }

  /** The test clock's reading, or `null` for the database clock: pass it as `$1` for {@linkcode NOW}. */
  now(): number | null {
    return this.#clock ? this.#clock() : null;
  }

  /** Creates the schema and runs pending migrations; workers start listening at once. */
  async open(): Promise<void> {
    await this.run("idempotent", (sql) => migrate(this, sql));
    if (this.worker) await this.#listener.listen();
  }

  /**
   * Runs `fn` on the pool. A deadlock or serialization failure (the server
   * rolled the work back) is run again once. A connection failure replaces
   * the pool (a query caught on a dying socket may otherwise never settle), is
   * retried once when `retry` allows, and surfaces as an `unavailable` QueueError.
   */
  async run<T>(retry: Retry, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    // A call after close() must not open a fresh pool that nobody ends.
    if (this.#closed) throw new Error(`PostgreSQL store ${this.where} is closed`);
    for (let attempt = 1;; attempt++) {
      const sql = this.#sql;
      try {
        return await fn(sql);
      } catch (error) {
        const last = attempt > 1;
        if (!last && ROLLED_BACK.includes(errorCode(error))) continue;
        if (!isConnectionError(error)) throw this.#statementError(error);
        if (this.#closed) throw this.unavailable(error); // closed while it ran
        this.#replace(sql);
        if (last || !worthRetrying(error) || (retry === "safe" && !didNotRun(error))) {
          throw this.unavailable(error);
        }
      }
    }
  }

  /** Runs `fn` in a transaction; a connection lost before COMMIT was sent may be retried. */
  transaction<T>(fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
    return this.run("safe", async (sql) => {
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

  /** Errors the server gave a statement: bad values and missing rights get a clear line. */
  #statementError(error: unknown): unknown {
    if (!isPostgresError(error)) return error;
    if (error.code.startsWith("22")) {
      return invalid(`Cannot store a value in PostgreSQL: ${error.message}`);
    }
    if (error.code === "42501") return this.unavailable(error);
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

  /** A connection error as the one-line `unavailable` error callers see. */
  unavailable(error: unknown): QueueError {
    const why = reason(error).replace(/\s+/g, " ").trim();
    return new QueueError("unavailable", `Cannot use PostgreSQL database ${this.where}: ${why}`);
  }

  /** A claim is starting: a notification from now on wakes the next {@linkcode waitForChange}. */
  markSeen(): void {
    this.#seen = this.#listener.version;
  }

  /** Whether a notification came since the last claim started. */
  hasChanged(): boolean {
    return this.#listener.version !== this.#seen;
  }

  /** Resolves on a notification since the last claim started, or after `ms`. */
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
