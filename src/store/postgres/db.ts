/**
 * The PostgreSQL connection every statement family runs on: one connection
 * per store (queries are pipelined on it; replaced when it dies), calls
 * retried only when that is safe, errors turned into one-line `unavailable`
 * messages, the test clock, and the LISTEN connection waits use (opened on
 * the first wait, never when the store is opened with `listen: false`).
 *
 * The budget (SPEC §11): a worker process holds 1 connection (its supervisor
 * listens for it and relays wake-ups), a supervisor 2 (its work and its
 * LISTEN), a CLI command 1.
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

/**
 * Every store pipelines its queries on one connection: a worker's claim loop,
 * heartbeat and paired reads as well as a CLI command's reads. A transaction
 * reserves the connection until it ends, so transactions stay short. A second
 * connection would cost more to open than it saves, and a fleet of 10
 * machines × 8 workers must fit a default `max_connections = 100`. The LISTEN
 * connection, where there is one, is extra.
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

/** Settings of every session a store opens, sent with the connection's start-up. */
export function sessionSettings(target: PostgresTarget, worker: boolean): Record<string, string> {
  return {
    application_name: `queuectl:${target.schema}`,
    search_path: target.schemaIdent,
    // Every statement here is short. One whose plan is estimated above jit_above_cost (on a
    // big table, or a generic plan) would otherwise be JIT-compiled on each run: 0.5 s measured.
    jit: "off",
    // A worker's settle may be lost in a crash (it only means a re-run);
    // enqueue turns durability back on for its own transaction.
    ...(worker ? { synchronous_commit: "off" } : {}),
  };
}

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
  /** `null` when opened with `listen: false`: waits then only run out their time. */
  #listener: ChangeListener | null;
  /** Listener version when the last claim started: a change after it wakes `waitForChange`. */
  #seen = 0;
  #closed = false;

  constructor(target: PostgresTarget, options: StoreOptions = {}) {
    this.target = target;
    this.#clock = options.clock ?? null;
    this.worker = options.worker ?? false;
    this.#options = {
      max: POOL_SIZE,
      prepare: true,
      // Parameters and results avoid array types, so the driver needs no type lookup per connection.
      fetch_types: false,
      connect_timeout: CONNECT_TIMEOUT_S,
      onnotice: () => {},
      types: TYPES as unknown as ListenerOptions["types"],
      transform: { undefined: null },
      connection: sessionSettings(target, this.worker),
    };
    this.#sql = this.#pool();
    this.#listener = options.listen === false
      ? null
      : new ChangeListener(target.url, this.#options, target.channel);
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

  /** Creates the schema and runs pending migrations; a listening worker starts listening at once. */
  async open(): Promise<void> {
    await this.run("idempotent", (sql) => migrate(this, sql));
    if (this.worker) await this.#listener?.listen();
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
    if (this.#listener) this.#seen = this.#listener.version;
  }

  /** Whether a notification came since the last claim started (never without a listener). */
  hasChanged(): boolean {
    return this.#listener !== null && this.#listener.version !== this.#seen;
  }

  /** Resolves `true` on a notification since the last claim started, `false` after `ms` or on abort. */
  async waitForChange(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (!this.#listener) {
      await sleep(ms, signal);
      return false;
    }
    const changed = await this.#listener.wait(this.#seen, ms, signal);
    this.#seen = this.#listener.version;
    return changed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([
      this.#listener?.close(),
      this.#sql.end({ timeout: CLOSE_TIMEOUT_S }),
      ...[...this.#retired.keys()].map((pool) => this.#retire(pool)),
    ]);
  }
}

/** Resolves after `ms`, or at once on abort. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}
