/**
 * Job validation of SPEC §3, in one place: JSON objects, flag values and
 * batch files all pass through {@linkcode parseJobSpec}.
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { invalid, QueueError, quote } from "./errors.ts";
import { parseDuration } from "./duration.ts";
import { newJobId } from "./ids.ts";
import { DEFAULT_QUEUE, parseQueueName } from "./queue_name.ts";
import type { NewJob } from "./types.ts";

/** Longest command accepted: the largest single argument Linux passes to a shell. */
export const MAX_COMMAND_BYTES = 131_071;
/** Longest job id. */
export const MAX_ID_LENGTH = 200;

const FIELDS = [
  "id",
  "command",
  "max_retries",
  "priority",
  "run_at",
  "delay",
  "timeout",
  "cwd",
  "queue",
  "after",
];
const FIELD_SET = new Set(FIELDS);
const ISO_TIME =
  /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;
const encoder = new TextEncoder();

/** Values a job spec falls back on. */
export interface SpecDefaults {
  /** Current time, ms since epoch. */
  now: number;
  /** Directory `enqueue` ran in. */
  cwd: string;
  /** Config `max-retries`. */
  maxRetries: number;
  /** Config `job-timeout` in seconds (0: none). */
  jobTimeout: number;
}

/** Options of {@linkcode parseJobSpec}. */
export interface SpecOptions {
  /** Name fields as command-line flags (`--max-retries`) in messages. */
  flags?: boolean;
  /** Prefix for messages, such as `Line 7`. */
  where?: string;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** Whether `id` is a valid job id. */
function validId(id: unknown): id is string {
  return typeof id === "string" && id.length >= 1 && id.length <= MAX_ID_LENGTH &&
    !CONTROL.test(id);
}

function integer(label: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = min === -(2 ** 31) ? "an integer" : `an integer from ${min} to ${max}`;
    throw invalid(`${label} must be ${range}, got ${quote(value)}`);
  }
  return value;
}

/**
 * Validates one job object and fills in defaults. Throws a {@linkcode QueueError}
 * of kind `invalid` whose message names the field and the bad value.
 */
export function parseJobSpec(
  input: unknown,
  defaults: SpecDefaults,
  options: SpecOptions = {},
): NewJob {
  const label = (field: string) => options.flags ? `--${field.replaceAll("_", "-")}` : field;
  try {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw invalid(`A job must be a JSON object, got ${quote(input)}`);
    }
    const spec = input as Record<string, unknown>;
    for (const key of Object.keys(spec)) {
      if (!FIELD_SET.has(key)) {
        throw invalid(`Unknown field ${quote(key)}; valid fields: ${FIELDS.join(", ")}`);
      }
    }

    const command = spec.command;
    if (command === undefined) throw invalid(`${label("command")} is required`);
    if (typeof command !== "string") {
      throw invalid(`${label("command")} must be a string, got ${quote(command)}`);
    }
    if (command.trim() === "") throw invalid(`${label("command")} must not be empty`);
    if (command.includes("\0")) throw invalid(`${label("command")} must not contain a NUL byte`);
    // UTF-8 takes at most 3 bytes per UTF-16 unit: short commands need no encoding.
    const bytes = command.length * 3 <= MAX_COMMAND_BYTES ? 0 : encoder.encode(command).length;
    if (bytes > MAX_COMMAND_BYTES) {
      throw invalid(
        `${label("command")} is ${bytes} bytes long; the limit is ${MAX_COMMAND_BYTES} ` +
          `(the longest argument the OS passes to a shell)`,
      );
    }

    let id: string;
    if (spec.id === undefined) {
      id = newJobId();
    } else {
      if (typeof spec.id !== "string") {
        throw invalid(`${label("id")} must be a string, got ${quote(spec.id)}`);
      }
      if (!validId(spec.id)) {
        throw invalid(
          `${
            label("id")
          } must be 1 to ${MAX_ID_LENGTH} characters without control characters, got ${
            quote(spec.id)
          }`,
        );
      }
      id = spec.id;
    }

    const maxRetries = spec.max_retries === undefined
      ? defaults.maxRetries
      : integer(label("max_retries"), spec.max_retries, 0, 1_000_000);
    const priority = spec.priority === undefined
      ? 0
      : integer(label("priority"), spec.priority, -(2 ** 31), 2 ** 31 - 1);

    if (spec.run_at !== undefined && spec.delay !== undefined) {
      throw invalid(`Give either ${label("run_at")} or ${label("delay")}, not both`);
    }
    let runAt = defaults.now;
    if (spec.run_at !== undefined) {
      const text = spec.run_at;
      const time = typeof text === "string" && ISO_TIME.test(text.trim())
        ? Date.parse(text.trim().replace(" ", "T"))
        : NaN;
      if (Number.isNaN(time)) {
        throw invalid(
          `${label("run_at")} must be an ISO-8601 timestamp like 2026-01-31T18:00:00Z, got ${
            quote(text)
          }`,
        );
      }
      runAt = time;
    }
    if (spec.delay !== undefined) {
      const seconds = parseDuration(spec.delay);
      if (seconds === null || seconds < 0 || seconds > 10 * 365 * 86400) {
        throw invalid(
          `${label("delay")} must be seconds or a duration like 90s, 5m, 2h, got ${
            quote(spec.delay)
          }`,
        );
      }
      runAt = defaults.now + Math.round(seconds * 1000);
    }

    let timeout: number | null = defaults.jobTimeout > 0 ? defaults.jobTimeout : null;
    if (spec.timeout !== undefined) {
      const seconds = parseDuration(spec.timeout);
      if (seconds === null || seconds <= 0 || seconds > 365 * 86400) {
        throw invalid(
          `${label("timeout")} must be more than 0 seconds (a number or a duration like 90s), got ${
            quote(spec.timeout)
          }`,
        );
      }
      timeout = seconds;
    }

    let cwd = defaults.cwd;
    if (spec.cwd !== undefined) {
      if (typeof spec.cwd !== "string" || spec.cwd.trim() === "" || spec.cwd.includes("\0")) {
        throw invalid(`${label("cwd")} must be a directory path, got ${quote(spec.cwd)}`);
      }
      cwd = isAbsolute(spec.cwd) ? spec.cwd : resolve(defaults.cwd, spec.cwd);
    }

    const queue = spec.queue === undefined
      ? DEFAULT_QUEUE
      : parseQueueName(spec.queue, label("queue"));

    let after: string[] = [];
    if (spec.after !== undefined) {
      const list = spec.after;
      if (!Array.isArray(list) || !list.every(validId)) {
        throw invalid(
          `${label("after")} must be ${options.flags ? "job ids" : "an array of job ids"}, got ${
            quote(list)
          }`,
        );
      }
      after = [...new Set(list)];
      if (after.includes(id)) throw invalid(`Job ${quote(id)} cannot run after itself`);
    }

    return { id, command, maxRetries, priority, runAt, timeout, cwd, queue, after };
  } catch (error) {
    if (error instanceof QueueError && options.where) {
      throw invalid(`${options.where}: ${error.message}`);
    }
    throw error;
  }
}

function parseJson(text: string, where?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0];
    throw invalid(`${where ? `${where}: ` : ""}Malformed JSON: ${reason}`);
  }
}

/**
 * Parses a job given as a JSON object in text. When the text looks like JSON
 * whose double quotes were stripped on the way in (Windows PowerShell 5.1 does
 * that to arguments of native programs), the message says what to do instead.
 */
export function parseJobJson(text: string, defaults: SpecDefaults): NewJob {
  try {
    return parseJobSpec(parseJson(text), defaults);
  } catch (error) {
    if (error instanceof QueueError && /^\s*\{\s*[A-Za-z_]+\s*:/.test(text)) {
      throw invalid(
        `${error.message} (the double quotes look stripped: Windows PowerShell 5.1 removes them ` +
          `from arguments, so use -c "<command>" with flags, or --file)`,
      );
    }
    throw error;
  }
}

/**
 * Parses many jobs: a JSON array of objects, or NDJSON (one object per line,
 * blank lines ignored). Rejects the whole batch on the first bad job and on
 * ids repeated inside it.
 */
export function parseJobBatch(text: string, defaults: SpecDefaults): NewJob[] {
  // PowerShell and Notepad often start UTF-8 files with a byte-order mark.
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const trimmed = text.trimStart();
  const jobs: NewJob[] = [];
  if (trimmed.startsWith("[")) {
    const items = parseJson(trimmed);
    if (!Array.isArray(items)) throw invalid("Malformed JSON: expected an array of jobs");
    items.forEach((item, index) =>
      jobs.push(parseJobSpec(item, defaults, { where: `Job ${index + 1}` }))
    );
  } else {
    const lines: string[] = [];
    const numbers: number[] = [];
    text.split("\n").forEach((line, index) => {
      if (line.trim() === "") return;
      lines.push(line);
      numbers.push(index + 1);
    });
    // One JSON.parse of the whole file is several times faster than one per line;
    // only when that fails (or a line held more than one value) do we parse line
    // by line, to name the bad line.
    let items: unknown[] | null = null;
    try {
      const parsed = JSON.parse(`[${lines.join(",")}]`);
      if (parsed.length === lines.length) items = parsed;
    } catch {
      // Parsed line by line below.
    }
    lines.forEach((line, i) => {
      const where = `Line ${numbers[i]}`;
      jobs.push(parseJobSpec(items ? items[i] : parseJson(line, where), defaults, { where }));
    });
  }
  if (jobs.length === 0) throw invalid("No jobs given: the input is empty");
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.id)) {
      throw invalid(`Job id ${quote(job.id)} appears more than once in the input`);
    }
    seen.add(job.id);
  }
  checkBatchOrder(jobs);
  return jobs;
}

/**
 * Refuses a job of a batch that runs after a job coming later in the same
 * batch: an `after` id must name a stored job or an earlier one of the batch.
 */
export function checkBatchOrder(jobs: readonly NewJob[]): void {
  const position = new Map<string, number>();
  jobs.forEach((job, index) => position.set(job.id, index));
  jobs.forEach((job, index) => {
    for (const dependency of job.after ?? []) {
      const at = position.get(dependency);
      if (at !== undefined && at > index) {
        throw invalid(
          `Job ${quote(job.id)} runs after ${quote(dependency)}, which comes later in the ` +
            `batch; a job may only run after stored jobs or earlier ones of the batch`,
        );
      }
    }
  });
}
