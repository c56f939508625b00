/**
 * Reading and cancelling jobs: `list`, `show`, `logs`, `cancel`.
 * @module
 */

import { QueueError, quote } from "../core/errors.ts";
import { formatDuration } from "../core/duration.ts";
import { attemptToJson, jobToJson, logsToJson } from "../core/format.ts";
import type { Job } from "../core/types.ts";
import { jobState, positiveInt } from "./args.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { dim, out, paintState, printJson, printTable, relative, timestamp } from "./output.ts";

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

function notFound(id: string): QueueError {
  return new QueueError("not_found", `No job with id ${quote(id)}`);
}

/** Registers `list`, `show`, `logs` and `cancel`. */
export function registerJobs(program: Program): void {
  program.command("list")
    .description("list jobs, newest first")
    .option("-s, --state <state>", "only jobs in this state", jobState)
    .option("-n, --limit <n>", "at most this many (default 20)", positiveInt(100_000), 20)
    .option("--json", "print JSON")
    .action(async (options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        const jobs = await store.listJobs({ state: options.state, limit: options.limit });
        if (options.json) return printJson(jobs.map(jobToJson));
        if (jobs.length === 0) return out(options.state ? `No ${options.state} jobs.` : "No jobs.");
        printTable(JOB_HEADER, jobRows(jobs));
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
        const attempts = await store.attempts(id);
        if (options.json) {
          return printJson({ ...jobToJson(job), history: attempts.map(attemptToJson) });
        }
        const now = Date.now();
        const fields: [string, string][] = [
          ["id", job.id],
          ["command", job.command],
          ["state", paintState(job.state)],
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
    .option("--json", "print JSON")
    .action(async (id, options, command) => {
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
