/**
 * What a worker process tells its supervisor, one JSON object per line on
 * its stdout, and how the supervisor prints it for people.
 * @module
 */

import { formatDuration } from "../core/duration.ts";

/** A worker's report. */
export type WorkerEvent =
  /** Written before the process starts: if the worker dies, the supervisor knows it ran. */
  | { e: "started"; job: string; attempt: number; command: string }
  | { e: "completed"; job: string; ms: number }
  | { e: "failed"; job: string; error: string; retryIn: number; attempt: number }
  | { e: "dead"; job: string; error: string; attempts: number }
  | { e: "cancelled"; job: string }
  | { e: "lost"; job: string }
  | { e: "recovered"; job: string; state: string; error: string }
  | { e: "store"; message: string }
  /** The worker took the stop: it starts nothing more (held jobs go back). */
  | { e: "stopping" };

/** One log line for an event from `worker`. */
export function describeEvent(worker: string, event: WorkerEvent): string {
  const time = new Date().toISOString().slice(11, 23);
  const text = (() => {
    switch (event.e) {
      case "started":
        return `started   ${event.job} (attempt ${event.attempt}): ${
          event.command.split("\n")[0].slice(0, 80)
        }`;
      case "completed":
        return `completed ${event.job} in ${formatDuration(event.ms / 1000)}`;
      case "failed":
        return `failed    ${event.job} (attempt ${event.attempt}): ${event.error}; retry in ${
          formatDuration(event.retryIn)
        }`;
      case "dead":
        return `dead      ${event.job} after ${event.attempts} attempt${
          event.attempts === 1 ? "" : "s"
        }: ${event.error}`;
      case "cancelled":
        return `cancelled ${event.job}: process tree killed`;
      case "lost":
        return `lost      ${event.job}: another worker owns it now; result dropped`;
      case "recovered":
        return `recovered ${event.job} (${event.error}) -> ${event.state}`;
      case "store":
        return event.message;
      case "stopping":
        return "stopping: nothing new starts";
    }
  })();
  return `${time} ${worker} ${text}`;
}
