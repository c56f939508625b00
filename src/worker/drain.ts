/**
 * When `worker start --drain` is done: nothing left that its workers could
 * run, in the queues they serve.
 * @module
 */

import type { Store } from "../store/store.ts";

/**
 * Whether the served queues (default: all) still have work: a job
 * processing, a pending or failed job in a queue that is not paused, or a
 * blocked job while anything anywhere may still run (and so unblock it). Jobs
 * of paused queues, and blocked jobs with nothing left to wait for (behind a
 * dead job), do not keep a drain going.
 */
export async function leftToRun(store: Store, queues?: readonly string[]): Promise<boolean> {
  const { queues: all } = await store.listQueues();
  const served = queues ? all.filter((q) => queues.includes(q.name)) : all;
  const moving = (q: (typeof all)[number]) =>
    q.counts.processing > 0 || (!q.paused && q.counts.pending + q.counts.failed > 0);
  if (served.some(moving)) return true;
  return served.some((q) => q.counts.blocked > 0) && all.some(moving);
}
