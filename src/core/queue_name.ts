/**
 * Queue names (SPEC §9): 1–64 characters of `A-Z a-z 0-9 _ . -`, default
 * `default`; and the rules of a queue's concurrency limit.
 * @module
 */

import { invalid, quote } from "./errors.ts";

/** The queue of a job that names none. */
export const DEFAULT_QUEUE = "default";
/** Longest queue name. */
export const MAX_QUEUE_LENGTH = 64;
/** Highest concurrency limit `queue set` accepts (0 means no limit). */
export const MAX_CONCURRENCY = 1_000_000;

const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether `name` is a valid queue name. */
export function isQueueName(name: unknown): name is string {
  return typeof name === "string" && QUEUE_NAME.test(name);
}

/** Checks a queue name; throws a bad-input error naming `what` (e.g. `--queue`). */
export function parseQueueName(text: unknown, what = "Queue name"): string {
  if (!isQueueName(text)) {
    throw invalid(
      `${what} must be 1 to ${MAX_QUEUE_LENGTH} characters of A-Z, a-z, 0-9, "_", "." and "-", ` +
        `got ${quote(text)}`,
    );
  }
  return text;
}

/** Parses `a,b,c` (as `worker start --queue` takes it) into distinct valid names. */
export function parseQueueList(text: string, what = "--queue"): string[] {
  const names = text.split(",").map((name) => name.trim());
  for (const name of names) parseQueueName(name, `Each queue of ${what}`);
  return [...new Set(names)];
}

/** Validates a concurrency limit given as text: a whole number, 0 for no limit. */
export function parseConcurrency(text: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(value >= 0 && value <= MAX_CONCURRENCY)) {
    throw invalid(
      `--concurrency must be a whole number from 0 (no limit) to ${MAX_CONCURRENCY}, got ${
        quote(text)
      }`,
    );
  }
  return value;
}
