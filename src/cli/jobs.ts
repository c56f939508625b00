/**
 * Reading and cancelling jobs: `list`, `show`, `logs`, `cancel`.
 * @module
 */

import { invalid, QueueError, quote } from "../core/errors.ts";
import { formatDuration } from "../core/duration.ts";
import { attemptToJson, jobToJson, logsToJson, waitingToJson } from "../core/format.ts";
import { parseQueueName } from "../core/queue_name.ts";
import type { Job } from "../core/types.ts";
import type { Store } from "../store/store.ts";
import { jobState, positiveInt } from "./args.ts";
import { withStore } from "./context.ts";
import { followLogs } from "./follow.ts";
import type { Program } from "./mod.ts";
import { dim, out, paintState, printJson, printTable, relative, timestamp } from "./output.ts";

/** Rows `list` shows when not told otherwise. */
const DEFAULT_LIST_LIMIT = 20;

/** One table row per job, as `list` and `dlq list` print them. */
export function jobRows(jobs: Job[]): string[][] {
  const now = Date.now();
  return jobs.map((job) => [
    job.id,
    paintState(job.state),
    `${job.attempts}/${job.maxRetries + 1}`,
    String(job.priority),
    job.state === "pending" || job.state === "failed"
      ? relative(job.runAt, now)
      : relative(job.updatedAt, now),
    job.command,
  ]);
}

/** Header matching {@linkcode jobRows}. */
export const JOB_HEADER = ["ID", "STATE", "TRIES", "PRI", "WHEN", "COMMAND"];

/** `list`'s rows: {@linkcode jobRows} with the queue after the state. */
function listRows(jobs: Job[]): string[][] {
  return jobRows(jobs).map((row, i) => [...row.slice(0, 2), jobs[i].queue, ...row.slice(2)]);
}

/** What a blocked job waits for, for `show`: its unfinished dependencies, and a dead one. */
async function waitingFor(store: Store, job: Job): Promise<Record<string, unknown>> {
  if (job.after.length === 0) return waitingToJson([], null);
  const [dependencies, standings] = await Promise.all([
    store.dependencies(job.id),
    job.state === "blocked" ? store.standings([job.id]) : Promise.resolve([]),
  ]);
  return waitingToJson(dependencies, standings[0]?.deadDependency ?? null);
}

function notFound(id: string): QueueError {
  return new QueueError("not_found", `No job with id ${quote(id)}`);
}

/** Registers `list`, `show`, `logs` and `cancel`. */
export function registerJobs(program: Program): void {
  program.command("list")
    .description("list jobs, newest first")
    .option("-s, --state <state>", "only jobs in this state", jobState)
    .option("-q, --queue <queue>", "only jobs of this queue")
    .option(
      "-n, --limit <n>",
      `at most this many (default ${DEFAULT_LIST_LIMIT})`,
      positiveInt(100_000),
    )
    .option("-a, --all", "every matching job, however many")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      if (options.all && options.limit !== undefined) {
        throw invalid("Give --limit or --all, not both");
      }
      const queue = options.queue === undefined
        ? undefined
        : parseQueueName(options.queue, "--queue");
      const filter = { state: options.state, queue };
      const limit = options.all ? Number.MAX_SAFE_INTEGER : options.limit ?? DEFAULT_LIST_LIMIT;
      await withStore(command.optsWithGlobals(), async (store) => {
        const jobs = await store.listJobs({ ...filter, limit });
        if (options.json) return printJson(jobs.map(jobToJson));
        const what = `${options.state ? `${options.state} ` : ""}jobs${
          queue === undefined ? "" : ` in queue ${queue}`
        }`;
        if (jobs.length === 0) return out(`No ${what}.`);
        printTable([...JOB_HEADER.slice(0, 2), "QUEUE", ...JOB_HEADER.slice(2)], listRows(jobs));
        // Say when rows were left out: a silent cut once misled a script.
        const total = jobs.length < limit ? jobs.length : await store.countJobs(filter);
        if (total > jobs.length) {
          out(
            `Showing ${jobs.length.toLocaleString("en-US")} of ${
              total.toLocaleString("en-US")
            } ${what}; use --limit N or --all to see more`,
          );
        }
      });
    });

  program.command("show")
    .description("one job with every attempt")
    .argument("<id>", "job id")
    .option("--json", "print JSON")
    .action(async (id, options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        const job = await store.getJob(id);
        if (!job) throw notFound(id);
        const [attempts, waiting] = await Promise.all([store.attempts(id), waitingFor(store, job)]);
        if (options.json) {
          return printJson({ ...jobToJson(job), ...waiting, history: attempts.map(attemptToJson) });
        }
        const now = Date.now();
        const fields: [string, string][] = [
          ["id", job.id],
          ["command", job.command],
          ["state", paintState(job.state)],
          ["queue", job.queue],
          ...(job.after.length ? [["after", job.after.join(", ")] as [string, string]] : []),
          ...(job.state === "blocked"
            ? [["waiting for", describeWaiting(waiting)] as [string, string]]
            : []),
          [
            "attempts",
            `${job.attempts} of at most ${job.maxRetries + 1} (max_retries ${job.maxRetries})`,
          ],
          ["priority", String(job.priority)],
          ["run_at", `${timestamp(job.runAt)} (${relative(job.runAt, now)})`],
          ["timeout", job.timeout === null ? "none" : formatDuration(job.timeout)],
          ["cwd", job.cwd],
          ["created_at", timestamp(job.createdAt)],
          ["updated_at", timestamp(job.updatedAt)],
          ["started_at", timestamp(job.startedAt)],
          ["finished_at", timestamp(job.finishedAt)],
          ["exit_code", job.exitCode === null ? "-" : String(job.exitCode)],
          ["last_error", job.lastError ?? "-"],
          ["worker", job.worker ?? "-"],
        ];
        for (const [name, value] of fields) out(`${dim(name.padEnd(12))}${value}`);
        out();
        if (attempts.length === 0) return out(dim("No attempts yet."));
        printTable(
          ["#", "STARTED", "DURATION", "OUTCOME", "EXIT", "OUTPUT", "WORKER", "ERROR"],
          attempts.map((a) => [
            String(a.attempt),
            timestamp(a.startedAt),
            a.finishedAt === null
              ? `${formatDuration((now - a.startedAt) / 1000)}…`
              : formatDuration((a.finishedAt - a.startedAt) / 1000),
            a.outcome,
            a.exitCode === null ? "-" : String(a.exitCode),
            `${a.stdoutBytes}B/${a.stderrBytes}B`,
            a.worker ?? "-",
            a.error ?? "",
          ]),
        );
      });
    });

  program.command("logs")
    .description("captured stdout and stderr of a job's last (or K-th) attempt")
    .argument("<id>", "job id")
    .option("-a, --attempt <k>", "attempt number as listed by show", positiveInt(1_000_000))
    .option(
      "-f, --follow",
      "stream the current run's output as it comes (waits for a job to start); " +
        "exit 0 if that run completes, 1 otherwise",
    )
    .option("--json", "print JSON")
    .action(async (id, options, command) => {
      if (options.follow && (options.attempt !== undefined || options.json)) {
        throw invalid("--follow streams the current run as text; leave out --attempt and --json");
      }
      if (options.follow) {
        const code = await withStore(command.optsWithGlobals(), (store) => followLogs(store, id));
        if (code !== 0) Deno.exit(code);
        return;
      }
      await withStore(command.optsWithGlobals(), async (store) => {
        const logs = await store.logs(id, options.attempt);
        if (!logs) {
          throw new QueueError(
            "not_found",
            options.attempt === undefined
              ? `Job ${quote(id)} has not run yet`
              : `Job ${quote(id)} has no attempt ${options.attempt}`,
          );
        }
        if (options.json) return printJson(logsToJson(id, logs));
        // Raw bytes to the matching stream, so `logs id > out.txt` keeps the job's stdout.
        const tty = Deno.stdout.isTerminal();
        if (tty) out(dim(`── attempt ${logs.attempt}: stdout (${logs.stdout.length} bytes) ──`));
        await Deno.stdout.write(logs.stdout);
        if (tty) out(dim(`── attempt ${logs.attempt}: stderr (${logs.stderr.length} bytes) ──`));
        await Deno.stderr.write(logs.stderr);
      });
    });

  program.command("cancel")
    .description("cancel jobs that have not finished (a running one is killed); all or nothing")
    .argument("<id...>", "job ids")
    .action(async (ids, _options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        // All or nothing, like `dlq retry`: an unknown or finished id anywhere in the list
        // cancels none of them (bad input must not change stored state).
        for (const id of new Set(ids)) {
          const job = await store.getJob(id);
          if (!job) throw notFound(id);
          if (job.state === "completed" || job.state === "dead") {
            throw new QueueError(
              "conflict",
              `Cannot cancel job ${quote(id)}: it is already ${job.state}; nothing was cancelled`,
            );
          }
        }
        for (const id of ids) {
          const { previous, cascaded } = await store.cancel(id);
          if (previous === "cancelled") out(`${id}: already cancelled`);
          else if (previous === "processing") {
            out(`${id}: cancelled; its running process will be killed`);
          } else out(`${id}: cancelled`);
          if (cascaded.length > 0) {
            const shown = cascaded.slice(0, 10).join(", ") + (cascaded.length > 10 ? ", …" : "");
            out(
              `${id}: also cancelled ${cascaded.length} blocked job${
                cascaded.length === 1 ? "" : "s"
              } that depended on it: ${shown}`,
            );
          }
        }
      });
    });
}

/** The "waiting for" line of `show` for a blocked job. */
function describeWaiting(waiting: Record<string, unknown>): string {
  const open = waiting.waiting_for as { id: string; state: string }[];
  const list = open.map((d) => `${d.id} (${d.state})`).join(", ") || "-";
  const dead = waiting.blocked_by_dead as string | null;
  return dead !== null && !open.some((d) => d.id === dead)
    ? `${list}; stuck behind dead job ${dead} (dlq retry it to go on)`
    : dead !== null
    ? `${list}; dlq retry ${dead} to go on`
    : list;
}
