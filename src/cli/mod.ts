/**
 * The command tree: one file per command group, registered here.
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../version.ts";
import { registerEnqueue } from "./enqueue.ts";
import { registerJobs } from "./jobs.ts";
import { registerDlq } from "./dlq.ts";
import { registerConfig } from "./config.ts";
import { registerStatus } from "./status.ts";
import { registerWorker } from "./worker.ts";
import { registerMetrics } from "./metrics.ts";
import { registerDashboard } from "./dashboard.ts";
import { registerQueue } from "./queue.ts";
import { registerWait } from "./wait.ts";
import { registerPurge } from "./purge.ts";
import { registerSchedule } from "./schedule.ts";
import { registerCompletions } from "./completions.ts";
import { printable } from "./output.ts";

/** Commander writes its errors through this: always one line, control characters escaped. */
function oneLine(text: string): string {
  return printable(text.trim().replace(/\s*\n\s*/g, " ")) + "\n";
}

/** The root command. */
export type Program = ReturnType<typeof createRoot>;

function createRoot() {
  return new Command("queuectl")
    .description("A background job queue driven from the command line.")
    .version(VERSION, "-V, --version", "print the version")
    .option(
      "--db <path|url>",
      "SQLite file or postgres:// URL (default: $QUEUECTL_DB, else <home>/queuectl.db)",
    )
    .helpOption("-h, --help", "show help")
    .helpCommand(false)
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (text, write) => write(oneLine(text)) })
    .addHelpText(
      "after",
      `
Examples:
  queuectl enqueue -c "echo hello" --max-retries 2
  queuectl enqueue '{"id":"build-1","command":"make","priority":5}'
  queuectl worker start --count 4
  queuectl wait build-1 && echo done
  queuectl status
  queuectl logs build-1

Data lives in $QUEUECTL_HOME (default ~/.queuectl). Exit codes: 0 ok, 1 failure, 2 bad input.`,
    );
}

/** Builds the whole CLI. */
export function buildProgram(): Program {
  const program = createRoot();
  registerEnqueue(program);
  registerWorker(program);
  registerStatus(program);
  registerJobs(program);
  registerQueue(program);
  registerWait(program);
  registerDlq(program);
  registerConfig(program);
  registerMetrics(program);
  registerDashboard(program);
  registerPurge(program);
  registerSchedule(program);
  registerCompletions(program);
  return program;
}
