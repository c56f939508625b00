/**
 * Helpers of the Windows suite (tests/windows/): it runs real processes under
 * deno.exe, so it runs on Windows only (natively, or in the Wine lane).
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, cliJson, query, spawnCli } from "../helpers.ts";

/** Options of every Windows test: ignored elsewhere; subprocesses outlive single ops. */
export const windowsOnly = {
  ignore: Deno.build.os !== "windows",
  sanitizeResources: false,
  sanitizeOps: false,
};

/** Enqueues one job with flags; returns its id. */
export async function enqueue(home: string, ...args: string[]): Promise<string> {
  const result = await cli(home, ["enqueue", ...args]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** Runs `worker start --count N --drain` to its end; returns its output. */
export async function drain(home: string, count = 1): Promise<string> {
  const run = spawnCli(home, ["worker", "start", "--count", String(count), "--drain"]);
  assert.equal(await run.done, 0, run.output());
  return run.output();
}

/** A job as `show --json` prints it. */
export interface JobJson {
  id: string;
  state: string;
  command: string;
  cwd: string;
  attempts: number;
  exit_code: number | null;
  last_error: string | null;
  history: { attempt: number; started_at: string; finished_at: string | null }[];
}

/** `show <id> --json`. */
export function show(home: string, id: string): Promise<JobJson> {
  return cliJson<JobJson>(home, ["show", id]);
}

/** Captured stdout of a job's last attempt, read from the SQLite file (one query, no CLI run). */
export function lastStdout(db: string, id: string): string {
  const rows = query(
    db,
    `SELECT a.stdout FROM attempts a JOIN jobs j ON j.seq = a.job_seq
     WHERE j.id = ? ORDER BY a.attempt DESC LIMIT 1`,
    id,
  );
  const bytes = rows[0]?.stdout;
  return bytes instanceof Uint8Array ? new TextDecoder().decode(bytes) : "";
}

/** Pids of running processes whose image is `image` (e.g. "PING.EXE"), from `tasklist`. */
export async function running(image: string): Promise<number[]> {
  const output = await new Deno.Command("tasklist", {
    args: ["/fo", "csv", "/nh"],
    stdout: "piped",
    stderr: "null",
  }).output();
  // Windows writes the code page's bytes to a pipe; Wine's tasklist writes UTF-16.
  const bytes = output.stdout;
  const text = new TextDecoder(bytes.includes(0) ? "utf-16le" : "utf-8").decode(bytes);
  return text.replace(/^\uFEFF/, "").split(/\r?\n/).flatMap((line) => {
    const [name, pid] = line.split('","').map((field) => field.replace(/^"|"$/g, ""));
    return name?.toLowerCase() === image.toLowerCase() ? [Number(pid)] : [];
  });
}

/** Kills a child process that may have ended already. */
export function kill(child: Deno.ChildProcess): void {
  try {
    child.kill();
  } catch {
    // Already gone.
  }
}

/** `taskkill /F /PID <pid>` (that process only); true if it was killed. */
export async function taskkill(pid: number): Promise<boolean> {
  const args = ["/F", "/PID", String(pid)];
  const result = await new Deno.Command("taskkill", { args, stdout: "null", stderr: "null" })
    .output();
  return result.success;
}

/**
 * A job command that runs until the file `flag` exists (polling once a second), then prints
 * "finished": a job that lasts as long as the test needs, on a fast machine or a slow one.
 */
export async function untilFlag(dir: string, flag: string): Promise<string> {
  const script = join(dir, "until_flag.cmd");
  await Deno.writeTextFile(
    script,
    [
      "@echo off",
      ":wait",
      'if exist "%~1" goto done',
      "ping -n 2 127.0.0.1 >nul",
      "goto wait",
      ":done",
      "echo finished",
      "",
    ].join("\r\n"),
  );
  return `call "${script}" "${flag}"`;
}

/** A command that runs `seconds` long under cmd.exe through a child process (ping.exe). */
export function pingFor(seconds: number): string {
  return `ping -n ${seconds + 1} 127.0.0.1 >nul`;
}
