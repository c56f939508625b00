/**
 * The dead-letter queue: `dlq list`, `dlq retry`.
 * @module
 */

import { invalid } from "../core/errors.ts";
import { jobToJson } from "../core/format.ts";
import { positiveInt } from "./args.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { out, printJson, printTable, relative } from "./output.ts";

/** Registers `dlq`. */
export function registerDlq(program: Program): void {
  const dlq = program.command("dlq").description(
    "the dead-letter queue: jobs whose retries ran out",
  );

  dlq.command("list")
    .description("dead jobs, newest first")
    .option("-n, --limit <n>", "at most this many (default 50)", positiveInt(100_000), 50)
    .option("--json", "print JSON")
    .action(async (options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        const jobs = await store.listJobs({ state: "dead", limit: options.limit });
        if (options.json) return printJson(jobs.map(jobToJson));
        if (jobs.length === 0) return out("The dead-letter queue is empty.");
        const now = Date.now();
        printTable(
          ["ID", "TRIES", "DIED", "LAST ERROR", "COMMAND"],
          jobs.map((
            job,
          ) => [
            job.id,
            String(job.attempts),
            relative(job.finishedAt, now),
            job.lastError ?? "",
            job.command,
          ]),
        );
      });
    });

  dlq.command("retry")
    .description("move dead jobs back to pending with attempts reset to 0")
    .argument("[ids...]", "job ids")
    .option("--all", "every dead job")
    .action(async (ids, options, command) => {
      if (Boolean(options.all) === ids.length > 0) throw invalid("Give job ids or --all, not both");
      await withStore(command.optsWithGlobals(), async (store) => {
        const retried = await store.retryDead(options.all ? "all" : ids);
        out(
          `requeued ${retried.length} job${retried.length === 1 ? "" : "s"}${
            retried.length && retried.length <= 10 ? `: ${retried.join(", ")}` : ""
          }`,
        );
      });
    });
}
