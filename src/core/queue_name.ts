/**
 * Queue names (SPEC §9): 1–64 characters of `A-Z a-z 0-9 _ . -`, default
 * `default`. Schedules and `purge --queue` name queues already.
 * @module
 */

import { invalid, quote } from "./errors.ts";

/** The queue of a job that names none. */
export const DEFAULT_QUEUE = "default";

const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks a queue name; throws a bad-input error naming `what` (e.g. `--queue`). */
export function parseQueueName(text: string, what = "Queue name"): string {
  if (!QUEUE_NAME.test(text)) {
    throw invalid(
      `${what} must be 1 to 64 characters of A-Z, a-z, 0-9, "_", "." and "-", got ${quote(text)}`,
    );
  }
  return text;
}
