/**
 * What a worker process reports. Job events are log lines for people: the
 * worker writes them itself, to the supervisor's stdout (which it inherits)
 * or to the log file, so the supervisor does no work per job. The few
 * messages the supervisor acts on travel on the worker's stderr as control
 * lines (a JSON object after {@linkcode CONTROL_MARK}); anything else there is
 * the worker's own stderr, printed as such.
 * @module
 */

import { formatDuration } from "../core/duration.ts";

/** A job event, or a message about the worker's store, for the log. */
export type WorkerEvent =
  | { e: "started"; job: string; attempt: number; command: string }
  | { e: "completed"; job: string; ms: number }
  | { e: "failed"; job: string; error: string; retryIn: number; attempt: number }
  | { e: "dead"; job: string; error: string; attempts: number }
  | { e: "cancelled"; job: string }
  | { e: "lost"; job: string }
  | { e: "recovered"; job: string; state: string; error: string }
  | { e: "store"; message: string };

/** A message for the supervisor. */
export type ControlEvent =
  /** The worker took the stop: it starts nothing more (held jobs go back). */
  | { e: "stopping" }
  /** The worker found nothing to run (a drain may be over). */
  | { e: "idle" }
  /** The log's reader went away (`worker start | head`): the supervisor stops. */
  | { e: "output_closed" };

/** Starts a control line on a worker's stderr (ASCII record separator: never in text output). */
export const CONTROL_MARK = "\x1e";

/** The stderr line that carries `event`. */
export function controlLine(event: ControlEvent): string {
  return `${CONTROL_MARK}${JSON.stringify(event)}\n`;
}

/** The control event a stderr line carries, or `null` for the worker's own output. */
export function parseControl(line: string): ControlEvent | null {
  if (!line.startsWith(CONTROL_MARK)) return null;
  try {
    return JSON.parse(line.slice(CONTROL_MARK.length)) as ControlEvent;
  } catch {
    return null;
  }
}

/** The log's time of day, as every line starts. */
export function timeNow(): string {
  return new Date().toISOString().slice(11, 23);
}

/** One log line for an event of `worker` (its name, e.g. `w1`). */
export function describeEvent(worker: string, event: WorkerEvent, time = timeNow()): string {
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
    }
  })();
  return `${time} ${worker} ${text}`;
}
