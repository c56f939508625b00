/**
 * Shared test helpers: temp data dirs, running the CLI as a subprocess,
 * and waiting on conditions instead of sleeping.
 * @module
 */

import { fileURLToPath as fromFileUrl } from "node:url";
import { PERMISSION_FLAGS } from "../src/worker/self_command.ts";

/** Absolute path of the CLI entry point. */
export const MAIN = fromFileUrl(new URL("../src/main.ts", import.meta.url));
/** Permission flags the CLI runs with (the same list workers are started with). */
export const PERMISSIONS = PERMISSION_FLAGS;

/** A fresh temp data dir; removed by `cleanup`. */
export async function tempHome(): Promise<{ home: string; db: string; cleanup(): Promise<void> }> {
  const home = await Deno.makeTempDir({ prefix: "queuectl-test-" });
  return {
    home,
    db: `${home}/queuectl.db`,
    cleanup: () => Deno.remove(home, { recursive: true }).catch(() => {}),
  };
}

/** Output of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `queuectl <args>` as a real subprocess against `home`. */
export async function cli(
  home: string,
  args: string[],
  options: { stdin?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: { QUEUECTL_HOME: home, NO_COLOR: "1", QUEUECTL_DB: "", ...options.env },
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(
      typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    );
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** Waits until `check` returns a truthy value, polling; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  while (true) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
  }
}

/** A CLI process running in the background, with its output collected. */
export interface Running {
  child: Deno.ChildProcess;
  /** Everything printed to stdout and stderr so far. */
  output(): string;
  /** Waits for exit; returns the exit code. */
  done: Promise<number>;
}

/** Starts `queuectl <args>` in the background (e.g. `worker start`). */
export function spawnCli(
  home: string,
  args: string[],
  options: { env?: Record<string, string>; detached?: boolean } = {},
): Running {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: { QUEUECTL_HOME: home, NO_COLOR: "1", QUEUECTL_DB: "", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: options.detached,
  }).spawn();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const done = (async () => {
    const status = await child.status;
    await reading;
    return status.code;
  })();
  return { child, output: () => text, done };
}

/** Parsed `--json` output of a CLI command that must succeed. */
export async function cliJson<T = Record<string, unknown>>(
  home: string,
  args: string[],
): Promise<T> {
  const result = await cli(home, [...args, "--json"]);
  if (result.code !== 0) throw new Error(`queuectl ${args.join(" ")} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Pids of live (non-zombie) processes whose command line contains `marker`. */
export async function processesMatching(marker: string): Promise<number[]> {
  const output = await new Deno.Command("ps", {
    args: ["-eo", "pid=,stat=,args="],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(output.stdout).split("\n").flatMap((line) => {
    const match = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!match || match[2].startsWith("Z") || !match[3].includes(marker)) return [];
    const pid = Number(match[1]);
    return pid === Deno.pid || match[3].startsWith("ps ") ? [] : [pid];
  });
}
