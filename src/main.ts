/**
 * queuectl: a background job queue driven from the command line.
 *
 * Entry point: builds the command tree and turns every error into one line
 * on stderr and the exit code of SPEC §7 (0 ok, 1 runtime failure, 2 bad
 * usage or input). Set `QUEUECTL_DEBUG=1` to see stack traces.
 * @module
 */

import { QueueError } from "./core/errors.ts";
import { err } from "./cli/output.ts";

/** Runs the CLI with `args` and returns the exit code. */
export async function run(args: string[]): Promise<number> {
  try {
    if (args[0] === "worker" && args[1] === "run") {
      // A worker process its supervisor started: no command tree (cli/worker_run.ts).
      const { workerRun } = await import("./cli/worker_run.ts");
      return await workerRun(args.slice(2));
    }
    const [{ CommanderError }, { buildProgram }] = await Promise.all([
      import("@commander-js/extra-typings"),
      import("./cli/mod.ts"),
    ]);
    const program = await buildProgram(args);
    try {
      await program.parseAsync(args, { from: "user" });
      return 0;
    } catch (error) {
      if (error instanceof CommanderError) {
        // commander already printed its message (see outputError in cli/mod.ts).
        if (error.code === "commander.helpDisplayed" || error.code === "commander.version") {
          return 0;
        }
        return error.exitCode === 0 ? 0 : 2;
      }
      throw error;
    }
  } catch (error) {
    // The reader of our output went away (`queuectl list | head -1`): stop quietly, as a
    // plain Unix tool stopped by SIGPIPE would, with the exit code of a runtime failure.
    if (error instanceof Deno.errors.BrokenPipe) return 1;
    if (error instanceof QueueError) {
      err(`error: ${error.message}`);
      return error.exitCode;
    }
    if (Deno.env.get("QUEUECTL_DEBUG")) console.error(error);
    const message = error instanceof Error ? error.message : String(error);
    err(`error: ${message.split("\n")[0]}`);
    return 1;
  }
}

if (import.meta.main) {
  // `deno task` runs from the project directory; INIT_CWD is where the user is.
  // Relative paths and a job's default directory must mean the user's directory.
  const initCwd = Deno.build.standalone ? undefined : Deno.env.get("INIT_CWD");
  if (initCwd) {
    try {
      Deno.chdir(initCwd);
    } catch {
      // Keep the current directory.
    }
  }
  Deno.exit(await run(Deno.args));
}
