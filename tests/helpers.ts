/**
 * Shared test helpers: temp data dirs, running the CLI as a subprocess,
 * and waiting on conditions instead of sleeping.
 * @module
 */

import { DatabaseSync, type SQLInputValue, type SQLOutputValue } from "node:sqlite";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { PERMISSION_FLAGS } from "../src/worker/self_command.ts";

/** Absolute path of the CLI entry point. */
export const MAIN = fromFileUrl(new URL("../src/main.ts", import.meta.url));
/** Permission flags the CLI runs with (the same list workers are started with). */
export const PERMISSIONS = PERMISSION_FLAGS;

/**
 * Options of a test of Unix-only behaviour (`sh` syntax, signals, process groups, `ps`, file
 * modes): ignored on Windows, where `deno task test` runs everything else and tests/windows/.
 */
export const unixOnly = { ignore: Deno.build.os === "windows" };

/** `Deno.test` for files whose every test is Unix-only (see {@linkcode unixOnly}). */
export const unixTest: typeof Deno.test.ignore = Deno.build.os === "windows"
  ? Deno.test.ignore
  : Deno.test;

/** A fresh temp data dir; removed by `cleanup`. */
export async function tempHome(): Promise<{ home: string; db: string; cleanup(): Promise<void> }> {
  const home = await Deno.makeTempDir({ prefix: "queuectl-test-" });
  return {
    home,
    db: join(home, "queuectl.db"),
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
    // `deno task test` sets INIT_CWD, which the CLI honours as the user's directory
    // (see src/main.ts): pin it to the directory this run means.
    env: {
      QUEUECTL_HOME: home,
      NO_COLOR: "1",
      QUEUECTL_DB: "",
      INIT_CWD: options.cwd ?? Deno.cwd(),
      ...options.env,
    },
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
    env: {
      QUEUECTL_HOME: home,
      NO_COLOR: "1",
      QUEUECTL_DB: "",
      INIT_CWD: Deno.cwd(),
      ...options.env,
    },
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

/**
 * Cleanups that must run even when a test fails: `defer` them as resources
 * are made, and `run` them in a `finally` (last deferred runs first; one that
 * throws does not stop the others).
 */
export function cleanupStack(): { defer(fn: () => unknown): void; run(): Promise<void> } {
  const fns: (() => unknown)[] = [];
  return {
    defer: (fn) => void fns.push(fn),
    async run() {
      for (const fn of fns.reverse()) {
        try {
          await fn();
        } catch {
          // Keep cleaning up.
        }
      }
    },
  };
}

/** SIGKILLs every live process whose command line contains `marker`; returns their pids. */
export async function killMatching(marker: string): Promise<number[]> {
  const pids = await processesMatching(marker);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/** SIGKILLs the process group led by `pid` (a process spawned with `detached: true`). */
export function killGroup(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // The group is empty.
  }
}

/** Runs `fn` on a read-only connection to the SQLite file `db`, then closes it. */
export function readDb<T>(db: string, fn: (conn: DatabaseSync) => T): T {
  const conn = new DatabaseSync(db, { readOnly: true, timeout: 30_000 });
  try {
    return fn(conn);
  } finally {
    conn.close();
  }
}

/** Every row of the jobs, attempts and config tables in a stable order, as comparable text. */
export function dbSnapshot(db: string): string {
  return readDb(db, (conn) =>
    JSON.stringify(
      {
        jobs: conn.prepare("SELECT * FROM jobs ORDER BY seq").all(),
        attempts: conn.prepare("SELECT * FROM attempts ORDER BY job_seq, attempt").all(),
        config: conn.prepare("SELECT * FROM config ORDER BY key").all(),
      },
      (_key, value) => value instanceof Uint8Array ? Array.from(value).join(",") : value,
    ));
}

/** A seeded pseudo-random source in [0, 1) (mulberry32), so a failing case can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Job objects as NDJSON text, one per line. */
export function ndjson(jobs: object[]): string {
  return jobs.map((job) => JSON.stringify(job)).join("\n") + "\n";
}

/** `promise`, or an error naming `what` once `timeoutMs` passed: a hang fails the test. */
export async function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rows of one read-only query on the SQLite file `db`, as plain objects. */
export function query(
  db: string,
  sql: string,
  ...params: SQLInputValue[]
): Record<string, SQLOutputValue>[] {
  return readDb(db, (conn) => conn.prepare(sql).all(...params).map((row) => ({ ...row })));
}

/**
 * Runs `queuectl <args> <bytes>` where the last argument is the raw content of `file` (any
 * bytes but NUL, not necessarily UTF-8), passed through `/bin/sh` since Deno.Command takes
 * only strings. The shell drops trailing newlines, as command substitution does.
 */
export async function cliRawArg(home: string, args: string[], file: string): Promise<CliResult> {
  const output = await new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'exec "$@" "$(cat "$QUEUECTL_RAW_ARG")"',
      "sh",
      Deno.execPath(),
      "run",
      ...PERMISSIONS,
      MAIN,
      ...args,
    ],
    env: { QUEUECTL_HOME: home, NO_COLOR: "1", QUEUECTL_DB: "", QUEUECTL_RAW_ARG: file },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/**
 * `queuectl worker start <args>` as the leader of its own process group, killed with its
 * workers at cleanup if the test did not stop it.
 */
export function startSupervisor(
  home: string,
  args: string[],
  cleanup: ReturnType<typeof cleanupStack>,
): Running {
  const run = spawnCli(home, ["worker", "start", ...args], { detached: true });
  cleanup.defer(async () => {
    killGroup(run.child.pid);
    await within("a killed supervisor to exit", run.done, 30_000);
  });
  return run;
}

/** `queuectl config set key value`, which must succeed. */
export async function setConfig(home: string, key: string, value: string): Promise<void> {
  const result = await cli(home, ["config", "set", key, value]);
  if (result.code !== 0) throw new Error(`config set ${key} ${value} failed: ${result.stderr}`);
}
