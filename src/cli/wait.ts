/**
 * `wait`: blocks until jobs are finished, for scripts (SPEC §9). A job is
 * finished once it is completed, dead or cancelled, or blocked behind a dead
 * job (directly or not), so a chain that cannot move never hangs a script.
 * It reads the Store's change signal, with a poll as fallback.
 * @module
 */

import { formatDuration, parseDuration } from "../core/duration.ts";
import { invalid, QueueError, quote } from "../core/errors.ts";
import { parseQueueName } from "../core/queue_name.ts";
import type { JobStanding } from "../core/types.ts";
import type { Store } from "../store/store.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { out, printJson } from "./output.ts";

/** Longest wait for a change before the jobs are looked at again (ms). */
const POLL_MS = 500;
/** Shortest time between two looks: a busy database changes all the time (ms). */
const MIN_GAP_MS = 100;

/** Whether `job` will not change without someone's help. */
function finished(job: JobStanding): boolean {
  return job.state === "completed" || job.state === "dead" || job.state === "cancelled" ||
    (job.state === "blocked" && job.deadDependency !== null);
}

/** Why a finished or timed-out job did not complete, in a few words. */
function reason(job: JobStanding | undefined, timedOut: boolean): string {
  if (!job) return "no longer stored";
  if (job.state === "blocked" && job.deadDependency !== null) {
    return `blocked behind dead job ${quote(job.deadDependency)}`;
  }
  if (!finished(job) && timedOut) return `still ${job.state}`;
  return job.lastError ? `${job.state}: ${job.lastError}` : job.state;
}

/** Waits for `ids` until each is finished or `deadline`; returns their last standings. */
async function watch(
  store: Store,
  ids: string[],
  deadline: number,
): Promise<{ standings: Map<string, JobStanding>; timedOut: boolean }> {
  const standings = new Map<string, JobStanding>();
  let open = ids;
  while (true) {
    const looked = performance.now();
    const seen = new Map((await store.standings(open)).map((job) => [job.id, job]));
    for (const id of open) {
      const job = seen.get(id);
      if (job) standings.set(id, job);
      else standings.delete(id); // removed meanwhile
    }
    open = open.filter((id) => seen.has(id) && !finished(seen.get(id)!));
    if (open.length === 0) return { standings, timedOut: false };
    const left = deadline - performance.now();
    if (left <= 0) return { standings, timedOut: true };
    await store.waitForChange(Math.min(POLL_MS, left));
    const gap = MIN_GAP_MS - (performance.now() - looked);
    if (gap > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(gap, left)));
  }
}

/** Registers `wait`. */
export function registerWait(program: Program): void {
  program.command("wait")
    .description(
      "wait until jobs are completed, dead, cancelled or blocked behind a dead job " +
        "(none named: every unfinished job); exit 0 only if all completed",
    )
    .argument("[ids...]", "job ids")
    .option("-q, --queue <queue>", "without ids: every unfinished job of this queue")
    .option("-t, --timeout <duration>", "give up after this long (exit 1): seconds or 90s, 5m, 2h")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      `
Exit code 0 when every job completed; 1 otherwise (also on timeout), with one line
per job that did not complete. Examples:
  queuectl wait build test deploy && echo shipped
  queuectl wait --queue nightly --timeout 2h`,
    )
    .action(async (ids, options, command) => {
      if (ids.length > 0 && options.queue !== undefined) {
        throw invalid("Give job ids or --queue, not both");
      }
      const queue = options.queue === undefined
        ? undefined
        : parseQueueName(options.queue, "--queue");
      const timeout = options.timeout === undefined ? null : parseDuration(options.timeout);
      if (options.timeout !== undefined && (timeout === null || timeout <= 0)) {
        throw invalid(`--timeout must be a duration like 30s or 5m, got ${quote(options.timeout)}`);
      }
      const code = await withStore(command.optsWithGlobals(), async (store) => {
        const wanted = ids.length > 0 ? [...new Set(ids)] : await store.unfinishedIds(queue);
        if (ids.length > 0) {
          const known = new Set((await store.standings(wanted)).map((job) => job.id));
          const missing = wanted.find((id) => !known.has(id));
          if (missing !== undefined) {
            throw new QueueError("not_found", `No job with id ${quote(missing)}`);
          }
        }
        const deadline = performance.now() + (timeout === null ? Infinity : timeout * 1000);
        const { standings, timedOut } = await watch(store, wanted, deadline);
        const failed = wanted.filter((id) => standings.get(id)?.state !== "completed");
        if (options.json) {
          printJson({
            total: wanted.length,
            completed: wanted.length - failed.length,
            timed_out: timedOut,
            not_completed: failed.map((id) => {
              const job = standings.get(id);
              return {
                id,
                state: job?.state ?? null,
                last_error: job?.lastError ?? null,
                blocked_by_dead: job?.deadDependency ?? null,
              };
            }),
          });
        } else {
          for (const id of failed) out(`${id}: ${reason(standings.get(id), timedOut)}`);
          if (timedOut) out(`timed out after ${formatDuration(timeout!)}`);
          else if (failed.length === 0) {
            out(
              wanted.length === 0
                ? "No unfinished jobs."
                : `All ${wanted.length} job${wanted.length === 1 ? "" : "s"} completed.`,
            );
          }
        }
        return failed.length === 0 ? 0 : 1;
      });
      if (code !== 0) Deno.exit(code);
    });
}
