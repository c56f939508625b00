/**
 * The SQLite connection every statement family runs on: opening the file
 * user-only, WAL, the statement cache, write transactions that take the lock
 * with our own short retries, read snapshots, and the change signal idle
 * workers wait on.
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { type Config, configFromRows } from "../../core/config.ts";
import { QueueError, quote } from "../../core/errors.ts";
import type { StoreOptions } from "../store.ts";
import { migrate } from "./schema.ts";

/** How long a writer waits for the lock before giving up (ms). */
const BUSY_TIMEOUT_MS = 60_000;
/** Longest pause between two tries for the write lock (ms). */
const LOCK_RETRY_MAX_MS = 2;
/** How often an idle worker checks whether another process wrote (ms). */
const CHANGE_CHECK_MS = 4;

/** A result row, columns by name. */
export type Row = Record<string, SQLInputValue>;

/** Output as stored: empty output is NULL. */
export function blob(bytes: Uint8Array): Uint8Array | null {
  return bytes.length === 0 ? null : bytes;
}

/** The error for an id that names no job. */
export function notFound(id: string): QueueError {
  return new QueueError("not_found", `No job with id ${quote(id)}`);
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

/** One open SQLite database and the clock its statements use. */
export class SqliteDb {
  readonly location: string;
  /** The store's clock (ms since epoch). */
  readonly now: () => number;
  /** Opened for a worker's hot path: settles use `synchronous = NORMAL`. */
  readonly worker: boolean;
  readonly raw: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  #dataVersion: StatementSync;
  /** `data_version` at the last claim or exchange. */
  #seen: unknown = null;

  constructor(path: string, options: StoreOptions = {}) {
    this.location = path;
    this.now = options.clock ?? Date.now;
    this.worker = options.worker ?? false;
    prepareFile(path);
    try {
      this.raw = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
      // A new database returns the pages purges free to the file system (see purge.ts).
      // The mode can only be chosen before the first table exists; existing databases
      // keep theirs (README: "Disk space").
      const pages = this.raw.prepare("PRAGMA page_count").get() as Row;
      if (pages.page_count === 0) this.raw.exec("PRAGMA auto_vacuum = INCREMENTAL");
      const mode = this.raw.prepare("PRAGMA journal_mode").get() as Row;
      if (mode.journal_mode !== "wal") this.raw.exec("PRAGMA journal_mode = WAL");
      this.raw.exec(`PRAGMA synchronous = ${this.worker ? "NORMAL" : "FULL"}`);
      migrate(this);
    } catch (error) {
      if (error instanceof QueueError) throw error;
      throw new QueueError(
        "unavailable",
        `Cannot open database ${quote(path)}: ${(error as Error).message}`,
      );
    }
    this.#dataVersion = this.raw.prepare("PRAGMA data_version");
  }

  /** A cached prepared statement. */
  sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.raw.prepare(text);
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
  async tx<T>(fn: () => T): Promise<T> {
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
    this.raw.exec("PRAGMA busy_timeout = 0");
    try {
      this.raw.exec("BEGIN IMMEDIATE");
      return true;
    } catch (error) {
      // Deno's node:sqlite gives no result code here, only SQLite's message for SQLITE_BUSY.
      if ((error as Error).message === "database is locked") return false;
      throw error;
    } finally {
      this.raw.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /** A write transaction that waits in SQLite's busy handler (opening the database only). */
  txSync<T>(fn: () => T): T {
    this.raw.exec("BEGIN IMMEDIATE");
    return this.#inTx(fn);
  }

  #inTx<T>(fn: () => T): T {
    try {
      const result = fn();
      this.raw.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.raw.isTransaction) this.raw.exec("ROLLBACK");
      throw error;
    }
  }

  /** Runs `fn` in a read transaction, so its queries see one snapshot. */
  read<T>(fn: () => T): T {
    this.raw.exec("BEGIN");
    try {
      return fn();
    } finally {
      if (this.raw.isTransaction) this.raw.exec("COMMIT");
    }
  }

  /** The stored config with defaults filled in. */
  config(): Config {
    const rows = this.sql("SELECT key, value FROM config").all() as Row[];
    return configFromRows(rows.map((row) => [row.key as string, row.value as string]));
  }

  /** A claim is starting: later writes of other connections make {@linkcode hasChanged} true. */
  markSeen(): void {
    this.#seen = (this.#dataVersion.get() as Row).data_version;
  }

  /** Whether another connection committed a write since {@linkcode markSeen}. */
  hasChanged(): boolean {
    return (this.#dataVersion.get() as Row).data_version !== this.#seen;
  }

  /**
   * Resolves `true` when another connection committed a write since the last
   * claim (or now), `false` after `ms` or on abort.
   */
  async waitForChange(ms: number, signal?: AbortSignal): Promise<boolean> {
    const version = () => (this.#dataVersion.get() as Row).data_version;
    // From the last claim on: a write between that claim and this wait counts.
    const start = this.#seen ?? version();
    const deadline = performance.now() + ms;
    while (!signal?.aborted && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(CHANGE_CHECK_MS, ms)));
      if (version() !== start) return true;
    }
    return false;
  }

  close(): void {
    this.#statements.clear();
    if (this.raw.isOpen) this.raw.close();
  }
}
