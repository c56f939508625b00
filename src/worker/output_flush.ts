/**
 * Writes a running job's output to the store as the runner reports it, so
 * `logs --follow` and the dashboard can show it from any machine. One write
 * at a time: a report that comes while a write is under way replaces any
 * other waiting report, so a chatty job never queues writes up. The runner
 * reports at a bounded rate and never for a job that ends quickly, so short
 * jobs never write here.
 * @module
 */

import type { OutputSnapshot } from "../core/types.ts";
import type { Store } from "../store/store.ts";

/** Flushes reports of one run of job `id` held by `worker`. */
export interface OutputFlusher {
  /** Takes the latest output; writes it now, or after the write under way. */
  report(output: OutputSnapshot): void;
  /** Drops what waits and resolves once the write under way (if any) is done. */
  stop(): Promise<void>;
}

/** A flusher for the run of job `id` that `worker` holds. */
export function outputFlusher(store: Store, id: string, worker: string): OutputFlusher {
  let writing: Promise<void> | null = null;
  let waiting: OutputSnapshot | null = null;
  let stopped = false;
  const write = (output: OutputSnapshot): Promise<void> =>
    store.saveOutput(id, worker, output)
      .then(() => {}, () => {}) // a lost write only delays what readers see
      .finally(() => {
        const next = waiting;
        waiting = null;
        writing = next && !stopped ? write(next) : null;
      });
  return {
    report(output) {
      if (stopped) return;
      if (writing) waiting = output;
      else writing = write(output);
    },
    async stop() {
      stopped = true;
      waiting = null;
      while (writing) await writing;
    },
  };
}
