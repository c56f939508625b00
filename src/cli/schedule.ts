/**
 * `schedule add|list|remove`: recurring jobs (SPEC §10). Running supervisors
 * enqueue their jobs (src/worker/services/schedules.ts).
 * @module
 */

import { invalid } from "../core/errors.ts";
import { parseJobSpec } from "../core/job_spec.ts";
import { DEFAULT_QUEUE, parseQueueName } from "../core/queue_name.ts";
// core/schedule.ts (and croner under it) loads in the actions only: other commands start without it.
type ScheduleCore = typeof import("../core/schedule.ts");
const scheduleCore = (): Promise<ScheduleCore> => import("../core/schedule.ts");
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { out, printJson, printTable, relative, timestamp } from "./output.ts";

/** Numbers from flags become numbers; anything else stays text for the validator to name. */
function flagValue(text: string | undefined): string | number | undefined {
  if (text === undefined) return undefined;
  return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
}

/** Registers `schedule`. */
export function registerSchedule(program: Program): void {
  const schedule = program.command("schedule").description(
    "recurring jobs: running supervisors enqueue one job per cron tick",
  );

  schedule.command("add")
    .description("add a schedule: its job id is NAME@<tick time, UTC>")
    .argument("<name>", "schedule name: 1-64 of A-Z a-z 0-9 _ . -")
    .option("--cron <expr>", 'required: 5-field cron ("*/15 * * * *") or @hourly, @daily, …')
    .option("-c, --command <cmd>", "required: the shell command to run")
    .option("--tz <zone>", "IANA time zone the expression is read in (default UTC)")
    .option("-q, --queue <queue>", `queue of its jobs (default ${DEFAULT_QUEUE})`)
    .option("--timeout <duration>", "kill a run after this long (default: config job-timeout)")
    .option("--max-retries <n>", "retries after the first run (default: config max-retries)")
    .option("--priority <n>", "higher runs first (default 0)")
    .option("--cwd <dir>", "working directory (default: the current one)")
    .addHelpText(
      "after",
      `
Defaults are taken from the config when the schedule is added. Ticks missed while
no supervisor ran produce one catch-up job, for the latest of them.

Examples:
  queuectl schedule add nightly-backup --cron "30 2 * * *" --tz Europe/Berlin -c "./backup.sh"
  queuectl schedule add heartbeat --cron @hourly -c "curl -fsS https://example.org/ping"`,
    )
    .action(async (nameText, options, command) => {
      const { nextRun, parseCron, parseScheduleName, parseTimeZone } = await scheduleCore();
      const name = parseScheduleName(nameText);
      if (options.cron === undefined) throw invalid('Schedule add needs --cron "<expression>"');
      if (options.command === undefined) throw invalid('Schedule add needs -c "<command>"');
      const tz = options.tz === undefined ? null : parseTimeZone(options.tz);
      const cron = parseCron(options.cron, tz, Date.now());
      const queue = options.queue === undefined
        ? DEFAULT_QUEUE
        : parseQueueName(options.queue, "--queue");
      await withStore(command.optsWithGlobals(), async (store) => {
        const config = await store.getConfig();
        const spec: Record<string, unknown> = { id: `${name}@check`, command: options.command };
        for (
          const [field, value] of [
            ["timeout", options.timeout],
            ["max_retries", flagValue(options.maxRetries)],
            ["priority", flagValue(options.priority)],
            ["cwd", options.cwd],
          ] as const
        ) {
          if (value !== undefined) spec[field] = value;
        }
        const job = parseJobSpec(spec, {
          now: Date.now(),
          cwd: Deno.cwd(),
          maxRetries: config.maxRetries,
          jobTimeout: config.jobTimeout,
        }, { flags: true });
        await store.addSchedule({
          name,
          cron,
          tz,
          command: job.command,
          queue,
          maxRetries: job.maxRetries,
          priority: job.priority,
          timeout: job.timeout,
          cwd: job.cwd,
        });
        const [added] = (await store.listSchedules()).filter((s) => s.name === name);
        const next = added ? nextRun(added, Date.now()) : null;
        out(`added schedule ${name}; next run ${timestamp(next)}`);
      });
    });

  schedule.command("list")
    .description("every schedule with its next run")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      const { nextRun, scheduleToJson } = await scheduleCore();
      await withStore(command.optsWithGlobals(), async (store) => {
        const schedules = await store.listSchedules();
        const now = Date.now();
        if (options.json) return printJson(schedules.map((s) => scheduleToJson(s, now)));
        if (schedules.length === 0) return out("No schedules.");
        printTable(
          ["NAME", "CRON", "TZ", "QUEUE", "NEXT RUN", "LAST RUN", "COMMAND"],
          schedules.map((s) => {
            const next = nextRun(s, now);
            return [
              s.name,
              s.cron,
              s.tz ?? "UTC",
              s.queue,
              next === null ? "never" : `${timestamp(next)} (${relative(next, now)})`,
              s.lastTick === null ? "-" : timestamp(s.lastTick),
              s.command,
            ];
          }),
        );
      });
    });

  schedule.command("remove")
    .alias("rm")
    .description("delete a schedule (jobs it already enqueued stay)")
    .argument("<name>", "schedule name")
    .action(async (name, _options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        await store.removeSchedule(name);
        out(`removed schedule ${name}`);
      });
    });
}
