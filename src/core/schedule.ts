/**
 * Recurring jobs (SPEC §10): validating a schedule, and the cron arithmetic
 * behind it, on croner (5-field cron and `@hourly`, `@daily` …, in a named
 * time zone with DST handled). A tick's job id is `NAME@<tick time>`, so
 * "once per tick" follows from the uniqueness of job ids.
 * @module
 */

import { Cron } from "croner";
import { invalid, quote } from "./errors.ts";
import type { NewJob } from "./types.ts";

/** Schedule names: what queue names allow, so `NAME@<tick>` never needs quoting. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Nicknames croner expands that mean a time (not `@reboot`). */
const NICKNAMES = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/** A schedule as stored: what `schedule add` was given, validated. */
export interface Schedule {
  name: string;
  /** The cron expression as given (5 fields or a nickname). */
  cron: string;
  /** IANA time zone the expression is read in; `null` means UTC. */
  tz: string | null;
  command: string;
  queue: string;
  /** Job fields of every job the schedule enqueues. */
  maxRetries: number;
  priority: number;
  timeout: number | null;
  cwd: string;
  /** When the schedule was added (ms); ticks before it never run. */
  createdAt: number;
  /** The last tick a job was enqueued for, or `null`. */
  lastTick: number | null;
}

/** What `schedule add` hands the store (times are set by the store). */
export type NewSchedule = Omit<Schedule, "createdAt" | "lastTick">;

/** Checks a schedule name. */
export function parseScheduleName(text: string): string {
  if (!NAME.test(text)) {
    throw invalid(
      `Schedule name must be 1 to 64 characters of A-Z, a-z, 0-9, "_", "." and "-", got ${
        quote(text)
      }`,
    );
  }
  return text;
}

/** Checks an IANA time zone name such as `Europe/Berlin`; `UTC` is one too. */
export function parseTimeZone(text: string): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: text });
    if (text.trim() !== "") return text;
  } catch {
    // Named below.
  }
  throw invalid(
    `Unknown time zone ${quote(text)}; use an IANA name such as Europe/Berlin or America/New_York`,
  );
}

function cronOf(expression: string, tz: string | null): Cron {
  return new Cron(expression, {
    paused: true,
    mode: "5-part",
    timezone: tz ?? "UTC",
    // A job at a fixed hour and minute (`30 2 * * *`, `0 9,17 * * *`) runs once when DST
    // repeats that time and right after the gap when DST skips it, as Vixie cron does;
    // a job with `*` or a step in its minute or hour field runs at every real instant that matches.
    fixedTimeRule: "no-wildcard",
  });
}

/**
 * Checks a cron expression (5 fields, or a nickname such as `@hourly`) in `tz`;
 * throws a bad-input error naming it. It must have a next run.
 */
export function parseCron(expression: string, tz: string | null, now: number): string {
  const text = expression.trim().replace(/\s+/g, " ");
  if (text.startsWith("@") && !NICKNAMES.includes(text.toLowerCase())) {
    throw invalid(
      `Bad cron expression ${quote(expression)}: unknown nickname; use 5 fields ` +
        `(minute hour day-of-month month day-of-week) or one of ${NICKNAMES.join(", ")}`,
    );
  }
  let cron: Cron;
  try {
    cron = cronOf(text, tz);
  } catch (error) {
    const why = (error as Error).message.replace(/^CronPattern: /, "").split("\n")[0];
    throw invalid(
      `Bad cron expression ${quote(expression)}: ${why} ` +
        `(5 fields: minute hour day-of-month month day-of-week)`,
    );
  }
  if (cron.nextRun(new Date(now)) === null) {
    throw invalid(`Cron expression ${quote(expression)} never runs`);
  }
  return text;
}

/** The first tick strictly after `after` (ms), or `null` if there is none. */
export function nextTick(schedule: Pick<Schedule, "cron" | "tz">, after: number): number | null {
  const next = cronOf(schedule.cron, schedule.tz).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/**
 * The tick a supervisor should enqueue a job for at `now`: the latest tick at
 * or before `now` and after the schedule's last tick (or its creation), or
 * `null` when none is due. Ticks missed while nothing ran collapse into this
 * one: at most one catch-up job.
 */
export function dueTick(
  schedule: Pick<Schedule, "cron" | "tz" | "createdAt" | "lastTick">,
  now: number,
): number | null {
  const after = schedule.lastTick ?? schedule.createdAt;
  if (now <= after) return null;
  // previousRuns includes a run at the reference's own second; + 1 ms makes `now` itself count.
  const [latest] = cronOf(schedule.cron, schedule.tz).previousRuns(1, new Date(now + 1));
  if (!latest || latest.getTime() <= after) return null;
  return latest.getTime();
}

/** A tick's time as it appears in job ids: ISO-8601 UTC to the second. */
export function tickText(tick: number): string {
  return new Date(tick).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The id of the job a schedule enqueues for `tick`: `NAME@2026-01-31T18:00:00Z`. */
export function tickJobId(name: string, tick: number): string {
  return `${name}@${tickText(tick)}`;
}

/** The job a schedule enqueues for `tick`: due at the tick, with the schedule's fields. */
export function tickJob(schedule: Schedule, tick: number): NewJob {
  return {
    id: tickJobId(schedule.name, tick),
    command: schedule.command,
    maxRetries: schedule.maxRetries,
    priority: schedule.priority,
    runAt: tick,
    timeout: schedule.timeout,
    cwd: schedule.cwd,
    queue: schedule.queue,
  };
}

/**
 * When a schedule's next job is due: a tick that passed without a supervisor
 * to enqueue it (it goes as soon as one runs), else the next tick after now.
 */
export function nextRun(schedule: Schedule, now: number): number | null {
  const due = dueTick(schedule, now);
  if (due !== null) return due;
  return nextTick(schedule, Math.max(now, schedule.lastTick ?? schedule.createdAt));
}

/** The JSON shape of a schedule (`schedule list --json`, the dashboard's /api/schedules). */
export function scheduleToJson(schedule: Schedule, now: number): Record<string, unknown> {
  const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();
  const next = nextRun(schedule, now);
  return {
    name: schedule.name,
    cron: schedule.cron,
    tz: schedule.tz ?? "UTC",
    command: schedule.command,
    queue: schedule.queue,
    max_retries: schedule.maxRetries,
    priority: schedule.priority,
    timeout: schedule.timeout,
    cwd: schedule.cwd,
    created_at: iso(schedule.createdAt),
    next_run: iso(next),
    last_run: iso(schedule.lastTick),
    last_job: schedule.lastTick === null ? null : tickJobId(schedule.name, schedule.lastTick),
  };
}
