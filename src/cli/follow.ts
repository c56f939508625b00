/**
 * `logs ID --follow`: streams the output of a job's current run while it is
 * produced (stdout to stdout, stderr to stderr), from any machine on the same
 * database. It waits for a job that has not started, reads what the worker
 * flushed after the bytes already shown, and ends with the run: exit 0 if it
 * completed, 1 otherwise. A reader over the Store's change signal, with a
 * poll as fallback.
 * @module
 */

import { QueueError, quote } from "../core/errors.ts";
import type { OutputChunk, OutputOffsets } from "../core/types.ts";
import type { Store } from "../store/store.ts";
import { dim } from "./output.ts";

/** Longest wait for a change before looking again (ms): new output shows within 0.5 s. */
const POLL_MS = 100;
/** Shortest time between two looks: a busy database changes all the time (ms). */
const MIN_GAP_MS = 50;

const encoder = new TextEncoder();

/** A note for people on stderr, only when it is a terminal (a pipe gets the job's bytes only). */
function note(text: string): void {
  if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(encoder.encode(dim(text) + "\n"));
}

async function writeAll(file: typeof Deno.stdout, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

/** Prints what `chunk` adds after `at`, and moves `at` to its end. */
async function show(chunk: OutputChunk, at: OutputOffsets): Promise<void> {
  for (const [name, file] of [["stdout", Deno.stdout], ["stderr", Deno.stderr]] as const) {
    const total = name === "stdout" ? chunk.stdoutTotal : chunk.stderrTotal;
    const cut = total - at[name] - chunk[name].length;
    if (cut > 0) note(`[queuectl: ${cut} bytes of ${name} were cut before they could be shown]`);
    await writeAll(file, chunk[name]);
    at[name] = Math.max(at[name], total);
  }
}

/** Follows the current (or next) run of job `id`; returns the exit code. */
export async function followLogs(store: Store, id: string): Promise<number> {
  const job = await store.getJob(id);
  if (!job) throw new QueueError("not_found", `No job with id ${quote(id)}`);
  const runs = (await store.attempts(id)).length;
  // A running job's current run; a finished job's last one; else the run to come.
  const waiting = job.state === "pending" || job.state === "failed" || job.state === "blocked";
  const attempt = waiting ? runs + 1 : runs;
  if (attempt === 0) {
    throw new QueueError("not_found", `Job ${quote(id)} is ${job.state} and never ran`);
  }
  if (waiting) note(`waiting for job ${id} to start…`);
  const at: OutputOffsets = { stdout: 0, stderr: 0 };
  while (true) {
    const looked = performance.now();
    const chunk = await store.readOutput(id, attempt, at);
    if (chunk) {
      await show(chunk, at);
      if (chunk.outcome !== "running") {
        note(`── run ${attempt} ${chunk.outcome} ──`);
        return chunk.outcome === "completed" ? 0 : 1;
      }
    } else {
      // Not started yet: give up on a job that will not start.
      const [now] = await store.standings([id]);
      const over = !now || now.state === "completed" || now.state === "dead" ||
        now.state === "cancelled" || now.deadDependency !== null;
      if (over && !(await store.readOutput(id, attempt, at))) {
        const why = !now
          ? "it is no longer stored"
          : now.deadDependency !== null
          ? `it is blocked behind dead job ${quote(now.deadDependency)}`
          : `it is ${now.state}${now.lastError ? ` (${now.lastError})` : ""}`;
        throw new QueueError("not_found", `Job ${quote(id)} will not run: ${why}`);
      }
    }
    await store.waitForChange(POLL_MS);
    const gap = MIN_GAP_MS - (performance.now() - looked);
    if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
  }
}
