/**
 * `enqueue`: one job from JSON or flags, or many from a file (SPEC §7).
 * @module
 */

import { invalid } from "../core/errors.ts";
import { parseJobBatch, parseJobJson, parseJobSpec, type SpecDefaults } from "../core/job_spec.ts";
import type { NewJob } from "../core/types.ts";
import type { Store } from "../store/store.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { err, out, printJson } from "./output.ts";

const FLAG_FIELDS = {
  id: "id",
  maxRetries: "max_retries",
  priority: "priority",
  runAt: "run_at",
  delay: "delay",
  timeout: "timeout",
  cwd: "cwd",
  queue: "queue",
  after: "after",
} as const;

async function readInput(path: string): Promise<string> {
  try {
    if (path === "-") return await new Response(Deno.stdin.readable).text();
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw invalid(`Cannot read jobs from ${JSON.stringify(path)}: no such file`);
    }
    if (error instanceof TypeError) {
      throw invalid(`Cannot read jobs from ${JSON.stringify(path)}: not UTF-8 text`);
    }
    throw invalid(`Cannot read jobs from ${JSON.stringify(path)}: ${(error as Error).message}`);
  }
}

async function defaults(store: Store): Promise<SpecDefaults> {
  const config = await store.getConfig();
  return {
    now: Date.now(),
    cwd: Deno.cwd(),
    maxRetries: config.maxRetries,
    jobTimeout: config.jobTimeout,
  };
}

/** Numbers from flags become numbers; anything else stays text for the validator to name. */
function flagValue(text: string): string | number {
  return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
}

/** Registers `enqueue`. */
export function registerEnqueue(program: Program): void {
  program.command("enqueue")
    .description("add a job (JSON object, -c with flags, or --file with many)")
    .argument("[json]", `job as a JSON object, e.g. '{"command":"sleep 2","max_retries":2}'`)
    .option("-c, --command <cmd>", "the shell command to run")
    .option("--id <id>", "job id (default: generated)")
    .option("--max-retries <n>", "retries after the first run (default: config max-retries)")
    .option("--priority <n>", "higher runs first (default 0)")
    .option("--run-at <time>", "ISO-8601 time before which it does not run")
    .option("--delay <duration>", "run after this long: seconds or 90s, 5m, 2h")
    .option("--timeout <duration>", "kill the job after this long (default: config job-timeout)")
    .option("--cwd <dir>", "working directory (default: the current one)")
    .option("-q, --queue <queue>", "named queue (default: default)")
    .option(
      "--after <id>",
      "run only after this job completed (repeatable; the job is blocked until then)",
      (id: string, ids: string[] | undefined) => [...(ids ?? []), id],
    )
    .option(
      "-f, --file <path>",
      "many jobs: a JSON array or NDJSON file, - for stdin; all or nothing",
    )
    .option("--if-absent", "leave a job whose id exists as it is (any state) and exit 0")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  queuectl enqueue -c "echo hello" --delay 5m
  queuectl enqueue '{"id":"job1","command":"sleep 2","max_retries":3}'
  queuectl enqueue --file jobs.ndjson
  queuectl enqueue -c "make deploy" --queue deploys --after build-1 --after test-1
  queuectl enqueue -c "./report.sh" --id report-2026-11-30 --if-absent
  PowerShell: queuectl enqueue -c "Get-Date" --priority 5`,
    )
    .action(async (json, options, command) => {
      const flags = Object.entries(FLAG_FIELDS).filter(([flag]) =>
        options[flag as keyof typeof options] !== undefined
      );
      const forms = [json !== undefined, options.command !== undefined, options.file !== undefined]
        .filter(Boolean);
      if (forms.length !== 1) {
        throw invalid("Give exactly one of: a JSON job argument, -c <command>, or --file <path>");
      }
      if (options.command === undefined && flags.length > 0) {
        throw invalid(
          `--${
            flags[0][0].replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())
          } goes with -c; put fields in the JSON instead`,
        );
      }
      const text = options.file !== undefined ? await readInput(options.file) : undefined;
      await withStore(command.optsWithGlobals(), async (store) => {
        const base = await defaults(store);
        let jobs: NewJob[];
        if (text !== undefined) {
          jobs = parseJobBatch(text, base);
        } else if (json !== undefined) {
          jobs = [parseJobJson(json, base)];
        } else {
          const spec: Record<string, unknown> = { command: options.command };
          for (const [flag, field] of flags) {
            const value = options[flag as keyof typeof options] as string;
            spec[field] = field === "max_retries" || field === "priority"
              ? flagValue(value)
              : value;
          }
          jobs = [parseJobSpec(spec, base, { flags: true })];
        }
        const stored = await store.enqueue(jobs, { ifAbsent: !!options.ifAbsent });
        const existing = jobs.length - stored;
        if (options.json) {
          printJson({
            enqueued: stored,
            ...(options.ifAbsent ? { already_there: existing } : {}),
            ids: jobs.map((job) => job.id),
          });
        } else if (text !== undefined) {
          out(
            `enqueued ${stored} job${stored === 1 ? "" : "s"}${
              options.ifAbsent ? `; ${existing} already there` : ""
            }`,
          );
        } else {
          out(jobs[0].id);
          if (existing > 0) err(`job ${jobs[0].id} was already there; left as it is`);
        }
      });
    });
}
