/**
 * LISTEN on the queue's channel over a dedicated connection, so an idle
 * worker wakes as soon as a job becomes runnable. Losing that connection
 * never throws: waits fall back to their timeout, and the channel is listened
 * to again (with backoff) while someone waits; a LISTEN that succeeds after a
 * failure counts as a change, since notifications may have been missed meanwhile.
 * @module
 */

import postgres from "postgres";

/** First delay before listening again after a failure (ms); doubles up to the max. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
/** A LISTEN that has not answered by then is abandoned (ms). */
const LISTEN_TIMEOUT_MS = 10_000;

/** Connection options shared with the store's pool. */
export type ListenerOptions = postgres.Options<Record<string, postgres.PostgresType>>;

/** Counts notifications on one channel and lets callers wait for the next one. */
export class ChangeListener {
  #url: string;
  #options: ListenerOptions;
  #channel: string;
  #conn: postgres.Sql | null = null;
  #attempt: Promise<boolean> | null = null;
  #listening = false;
  /** A connection failed or dropped since the last successful LISTEN: changes may have been missed. */
  #lost = false;
  #version = 0;
  #waiters = new Set<() => void>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelay = RETRY_MIN_MS;
  #closed = false;

  constructor(url: string, options: ListenerOptions, channel: string) {
    this.#url = url;
    this.#options = options;
    this.#channel = channel;
  }

  /** Grows by one on every notification (and after re-listening); compare to detect changes. */
  get version(): number {
    return this.#version;
  }

  /** Starts listening unless already; resolves whether it now listens. Never rejects. */
  listen(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#listening) return Promise.resolve(true);
    if (this.#attempt) return this.#attempt;
    const options = {
      ...this.#options,
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      // Not in the driver's typings, but its documented way to receive notifications.
      onnotify: (channel: string) => {
        if (channel === this.#channel) this.#changed();
      },
      onclose: () => this.#dropped(conn),
    };
    const conn: postgres.Sql = postgres(this.#url, options as ListenerOptions);
    this.#conn = conn;
    // A query sent while the socket dies may never settle; ending the connection rejects it.
    const timer = setTimeout(() => void conn.end({ timeout: 0 }), LISTEN_TIMEOUT_MS);
    Deno.unrefTimer(timer);
    const channel = `"${this.#channel.replaceAll('"', '""')}"`;
    const attempt = conn.unsafe(`LISTEN ${channel}`).then(
      () => {
        clearTimeout(timer);
        this.#attempt = null;
        if (this.#closed || this.#conn !== conn) return false;
        this.#listening = true;
        this.#retryDelay = RETRY_MIN_MS;
        if (this.#lost) {
          this.#lost = false;
          this.#changed();
        }
        return true;
      },
      () => {
        clearTimeout(timer);
        this.#attempt = null;
        this.#dropped(conn);
        return false;
      },
    );
    this.#attempt = attempt;
    return attempt;
  }

  /**
   * Resolves `true` on the next change after `since` (at once if there was one),
   * `false` after `ms` or on abort.
   */
  wait(since: number, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#closed || signal?.aborted) return Promise.resolve(false);
    if (this.#version !== since) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve(this.#version !== since);
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done);
      this.#waiters.add(done);
      if (!this.#listening && this.#retryTimer === undefined) void this.listen();
    });
  }

  /** Stops listening and releases every waiter. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listening = false;
    clearTimeout(this.#retryTimer);
    for (const done of [...this.#waiters]) done();
    const conn = this.#conn;
    this.#conn = null;
    await conn?.end({ timeout: 0 });
  }

  #changed(): void {
    this.#version++;
    for (const done of [...this.#waiters]) done();
  }

  /** The connection `conn` closed or failed: forget it and try again later. */
  #dropped(conn: postgres.Sql): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    void conn.end({ timeout: 0 }).catch(() => {});
    this.#listening = false;
    this.#lost = true;
    if (this.#closed || this.#retryTimer !== undefined) return;
    const timer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#waiters.size > 0) void this.listen();
    }, this.#retryDelay);
    Deno.unrefTimer(timer);
    this.#retryTimer = timer;
    this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
  }
}
