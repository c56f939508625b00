/**
 * The command tree: one file per command group, registered here.
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { VERSION } from "../version.ts";
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

/** Adds one command module's commands to the tree. */
type Registrar = (program: Program) => void;

/** Each command module, by the top-level commands it registers, in help order. */
const MODULES: [names: string[], load: () => Promise<Registrar>][] = [
  [["enqueue"], () => import("./enqueue.ts").then((m) => m.registerEnqueue)],
  [["worker"], () => import("./worker.ts").then((m) => m.registerWorker)],
  [["status"], () => import("./status.ts").then((m) => m.registerStatus)],
  [["list", "show", "logs", "cancel"], () => import("./jobs.ts").then((m) => m.registerJobs)],
  [["queue", "pause", "resume"], () => import("./queue.ts").then((m) => m.registerQueue)],
  [["wait"], () => import("./wait.ts").then((m) => m.registerWait)],
  [["dlq"], () => import("./dlq.ts").then((m) => m.registerDlq)],
  [["config"], () => import("./config.ts").then((m) => m.registerConfig)],
  [["metrics"], () => import("./metrics.ts").then((m) => m.registerMetrics)],
  [["dashboard"], () => import("./dashboard.ts").then((m) => m.registerDashboard)],
  [["purge"], () => import("./purge.ts").then((m) => m.registerPurge)],
  [["schedule"], () => import("./schedule.ts").then((m) => m.registerSchedule)],
  [
    ["completions", "__complete"],
    () => import("./completions.ts").then((m) => m.registerCompletions),
  ],
];

/** The command `args` name (after the global options), if any. */
function commandName(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--db") i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

/**
 * Builds the CLI. Given the arguments of one run, it loads and registers only
 * the module of the command they name: loading and building the whole tree
 * costs a command about 20 ms at start. Help for the whole CLI, an unknown
 * command (its suggestions) and `completions` (its script) get every command.
 */
export async function buildProgram(args?: readonly string[]): Promise<Program> {
  const program = createRoot();
  const name = args ? commandName(args) : undefined;
  const own = name === undefined || name === "completions"
    ? undefined
    : MODULES.find(([names]) => names.includes(name));
  const registrars = await Promise.all((own ? [own] : MODULES).map(([, load]) => load()));
  for (const register of registrars) register(program);
  return program;
}
