/**
 * Named queues (SPEC §9): what a queue name may be, and the rules of a
 * concurrency limit.
 * @module
 */

import { invalid, quote } from "./errors.ts";

/** The queue of a job that names none. */
export const DEFAULT_QUEUE = "default";
/** Longest queue name. */
export const MAX_QUEUE_LENGTH = 64;
/** Highest concurrency limit `queue set` accepts (0 means no limit). */
export const MAX_CONCURRENCY = 1_000_000;

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether `name` is a valid queue name. */
export function isQueueName(name: unknown): name is string {
  return typeof name === "string" && NAME.test(name);
}

/** Validates a queue name; `label` names where it came from in the message. */
export function parseQueueName(name: unknown, label = "Queue name"): string {
  if (!isQueueName(name)) {
    throw invalid(
      `${label} must be 1 to ${MAX_QUEUE_LENGTH} characters of A-Z a-z 0-9 _ . -, got ${
        quote(name)
      }`,
    );
  }
  return name;
}

/** Parses `a,b,c` (as `worker start --queue` takes it) into distinct valid names. */
export function parseQueueList(text: string, label = "--queue"): string[] {
  const names = text.split(",").map((name) => name.trim());
  for (const name of names) parseQueueName(name, `Each queue of ${label}`);
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
