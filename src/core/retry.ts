/**
 * The retry policy of SPEC §4.
 * @module
 */

/** Seconds to wait after the `failures`-th failed run: `base ^ failures`, capped at `max`. */
export function backoffSeconds(failures: number, base: number, max: number): number {
  return Math.min(base ** failures, max);
}

/** Whether a job that has started `attempts` runs may run again. */
export function canRetry(attempts: number, maxRetries: number): boolean {
  return attempts < maxRetries + 1;
}
