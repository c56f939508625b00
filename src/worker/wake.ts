/**
 * Wake-ups relayed by the supervisor, so a worker process needs no LISTEN
 * connection of its own (SPEC §11: a worker holds 1 connection, a supervisor 2).
 *
 * On PostgreSQL the supervisor alone waits for the queue's notifications
 * ({@linkcode relayWakeups}) and writes `wake` to each worker's stdin, the pipe
 * whose end tells the worker to stop. A worker reads that pipe
 * ({@linkcode readSupervisorPipe}) and waits on a {@linkcode WakeSignal}
 * instead of its store. While the supervisor's LISTEN connection is down,
 * workers fall back to `poll-interval`, as a worker's own LISTEN did; listening
 * again counts as a change, so every worker looks once more.
 *
 * SQLite needs no relay: each worker's `PRAGMA data_version` check costs no
 * connection.
 * @module
 */

import { isPostgresUrl, type Store, withOverrides } from "../store/store.ts";

/** What a supervisor writes to a worker's stdin: look for a job now. */
const WAKE_LINE: Uint8Array = new TextEncoder().encode("wake\n");
/** How long one wait of the relay lasts before it waits again (ms); wake-ups end it sooner. */
const RELAY_WAIT_MS = 60_000;

/**
 * Whether a store of this kind relays wake-ups. Not on Windows: there Deno
 * writes to a child's pipe on a small pool of blocking threads that idle
 * workers' pending reads can all hold, so a `wake` write could wait for the
 * next event, and the stop (closing stdin) behind it (see supervisor.ts). A
 * Windows worker LISTENs itself: 2 connections.
 */
function relays(kind: "sqlite" | "postgres"): boolean {
  return kind === "postgres" && Deno.build.os !== "windows";
}

/** Whether workers on `db` (a `--db` value) get their wake-ups from their supervisor. */
export function relayedFor(db: string): boolean {
  return relays(isPostgresUrl(db) ? "postgres" : "sqlite");
}

/**
 * A function that writes `wake` to a worker's stdin, with at most one write
 * under way: wake-ups that come meanwhile are one more write after it, so a
 * worker slow to read never makes them pile up.
 */
export function wakeSender(stdin: WritableStreamDefaultWriter<Uint8Array>): () => void {
  let writing = false;
  let again = false;
  const send = (): void => {
    if (writing) {
      again = true;
      return;
    }
    writing = true;
    stdin.write(WAKE_LINE).catch(() => {}).finally(() => {
      writing = false;
      if (again) {
        again = false;
        send();
      }
    });
  };
  return send;
}

/**
 * Wake-ups received from the supervisor, with the store's semantics: a claim
 * (or exchange) marks what it has seen, and a wake-up after that makes
 * {@linkcode WakeSignal.hasChanged} true and ends the next wait at once, so
 * one that arrives during a claim that found nothing is not missed.
 */
export class WakeSignal {
  #version = 0;
  #seen = 0;
  #waiters = new Set<() => void>();

  /** A wake-up arrived: ends the current wait, or the next one at once. */
  wake(): void {
    this.#version++;
    for (const done of [...this.#waiters]) done();
  }

  /** A claim is starting: wake-ups from now on count as changes. */
  markSeen(): void {
    this.#seen = this.#version;
  }

  /** Whether a wake-up came since the last claim started. */
  hasChanged(): boolean {
    return this.#version !== this.#seen;
  }

  /**
   * Resolves `true` on a wake-up since the last claim started (at once if one
   * came meanwhile), `false` after `ms` or on abort.
   */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.hasChanged() || ms <= 0) return Promise.resolve(this.#take());
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve(this.#take());
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done);
      this.#waiters.add(done);
    });
  }

  #take(): boolean {
    const woken = this.hasChanged();
    this.#seen = this.#version;
    return woken;
  }
}

/**
 * `store`, whose change signal is the wake-ups relayed by the supervisor: its
 * claims and exchanges mark them seen, and `hasChanged` and `waitForChange`
 * read them.
 */
export function withRelayedWakeups(store: Store, wakes: WakeSignal): Store {
  return withOverrides(store, {
    claim: (worker, leaseMs) => {
      wakes.markSeen();
      return store.claim(worker, leaseMs);
    },
    exchange: (worker, request) => {
      wakes.markSeen();
      return store.exchange(worker, request);
    },
    hasChanged: () => wakes.hasChanged(),
    waitForChange: (ms, signal) => wakes.wait(ms, signal),
  });
}

/**
 * Reads a worker's stdin: `wake` lines call `onWake`; a `stop` line, the end of
 * the pipe or an error on it (the supervisor is gone) calls `onStop` once and
 * ends the reading.
 */
export async function readSupervisorPipe(
  stream: ReadableStream<Uint8Array>,
  handlers: { onWake(): void; onStop(): void },
): Promise<void> {
  let buffered = "";
  try {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === "stop") return handlers.onStop();
        if (line === "wake") handlers.onWake();
      }
    }
  } catch {
    // The pipe broke: the supervisor is gone.
  }
  handlers.onStop();
}

/**
 * The supervisor's half: while running, waits for changes to the queue on its
 * own store (its one LISTEN connection) and calls `wakeAll` after each. Does
 * nothing for a store whose workers watch for changes themselves (SQLite).
 */
export function relayWakeups(store: Store, wakeAll: () => void): { stop(): Promise<void> } {
  if (!relays(store.kind as "sqlite" | "postgres")) return { stop: () => Promise.resolve() };
  const abort = new AbortController();
  const running = (async () => {
    while (!abort.signal.aborted) {
      const started = performance.now();
      const changed = await store.waitForChange(RELAY_WAIT_MS, abort.signal).catch(() => false);
      if (abort.signal.aborted) break;
      if (changed) wakeAll();
      else if (performance.now() - started < RELAY_WAIT_MS / 2) {
        // Not a timeout: the store cannot wait now (closed, failing). Do not spin.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          abort.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
    }
  })();
  return {
    stop() {
      abort.abort();
      return running;
    },
  };
}
