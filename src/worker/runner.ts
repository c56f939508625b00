/**
 * Runs one job: the platform shell in the job's directory, as the leader of
 * its own process group, with output read concurrently and capped, and a
 * timeout or cancel that kills the whole tree (SIGTERM, then SIGKILL).
 * A command that cannot start is a failed run, never a thrown error.
 * @module
 */

import type { OutputSnapshot, RunResult } from "../core/types.ts";
import { formatDuration } from "../core/duration.ts";
import { cutMarker } from "../core/tail.ts";
import { type JobTree, killTree, shellInvocation } from "./shell.ts";
import { readChunks } from "./pipe.ts";

/** Bytes of stdout and of stderr kept per attempt (the tail). */
export const OUTPUT_CAP = 1024 * 1024;
/** How long a tree gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2000;
/** Shortest time between two {@linkcode RunSpec.onOutput} calls, and before the first. */
export const OUTPUT_INTERVAL_MS = 250;

/** What to run and how. */
export interface RunSpec {
  command: string;
  cwd: string;
  /** Seconds; `null` for none. */
  timeout: number | null;
  /** Configured shell, `null` for the platform default. */
  shell: string | null;
  /** Added to the worker's environment. */
  env: Record<string, string>;
  /** Aborting kills the tree (cancel, or a stop that cannot wait). */
  signal?: AbortSignal;
  /** Called once the process has started. */
  onStart?: (pid: number) => void;
  /**
   * Called with the output so far while the job runs, when new output came:
   * at most once per {@linkcode OUTPUT_INTERVAL_MS}, and never for a job that
   * ends sooner than that.
   */
  onOutput?: (output: OutputSnapshot) => void;
  /** Interval of `onOutput` (default {@linkcode OUTPUT_INTERVAL_MS}). */
  outputIntervalMs?: number;
  /** Bytes kept per stream (default {@linkcode OUTPUT_CAP}). */
  cap?: number;
  /** Grace between SIGTERM and SIGKILL (default {@linkcode KILL_GRACE_MS}). */
  graceMs?: number;
  /**
   * Unix: the calling worker leads this process group and runs one job at a
   * time, so the job joins the group (a plain, fast spawn) and its tree is
   * every member but the worker. Without it, each job gets a group of its own
   * (`detached`), which costs Deno a fork per job.
   */
  sharedGroup?: { pgid: number; worker: number };
}

/** How long output may stay open after the shell exits before leftovers are killed. */
const STRAGGLER_MS = 100;

/** Keeps the last `cap` bytes of a stream, counting what it dropped. */
export class TailBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #dropped = 0;

  constructor(readonly cap: number) {}

  /** Bytes pushed so far, cut ones included. */
  get total(): number {
    return this.#size + this.#dropped;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.cap) {
      const first = this.#chunks[0];
      const excess = this.#size - this.cap;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
        this.#dropped += first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
        this.#dropped += excess;
      }
    }
  }

  /** The kept bytes, after a one-line marker when something was cut. */
  bytes(): Uint8Array {
    const marker = this.#dropped > 0 ? cutMarker(this.#dropped, this.cap) : new Uint8Array();
    const out = new Uint8Array(marker.length + this.#size);
    out.set(marker);
    let offset = marker.length;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

function drain(
  stream: ReadableStream<Uint8Array>,
  buffer: TailBuffer,
  onChunk: () => void,
): Promise<void> {
  return readChunks(stream, (chunk) => {
    buffer.push(chunk);
    onChunk();
  });
}

/**
 * Calls `onOutput` with the buffers' contents after new output, at most once
 * per `interval` ms and not before `interval` ms have passed since the start.
 */
function outputReporter(
  stdout: TailBuffer,
  stderr: TailBuffer,
  onOutput: ((output: OutputSnapshot) => void) | undefined,
  interval: number,
): { changed(): void; stop(): void } {
  let last = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const report = () => {
    timer = undefined;
    if (stopped) return;
    last = performance.now();
    onOutput!({
      stdout: stdout.bytes(),
      stderr: stderr.bytes(),
      stdoutTotal: stdout.total,
      stderrTotal: stderr.total,
    });
  };
  return {
    changed() {
      if (!onOutput || stopped || timer !== undefined) return;
      timer = setTimeout(report, Math.max(0, last + interval - performance.now()));
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function failure(error: string): RunResult {
  return { exitCode: null, error, stdout: new Uint8Array(), stderr: new Uint8Array() };
}

/** Why a shell could not start, in words a user can act on. */
function startError(error: unknown, program: string): string {
  if (!(error instanceof Deno.errors.NotFound)) return (error as Error).message;
  if (/^pwsh(\.exe)?$/i.test(program)) {
    return "not found on PATH (PowerShell 7 is not installed here; " +
      "`config set shell powershell` runs Windows PowerShell 5.1)";
  }
  return "not found (no such program on PATH, or no such file)";
}

/** Explains an exit code the shell itself chose. */
function exitReason(code: number): string {
  if (code === 127) return "exit code 127 (command not found)";
  if (code === 126) return "exit code 126 (command not executable)";
  return `exit code ${code}`;
}

/** Why a spawn failed: the working directory (checked only now, off the hot path), or the shell. */
async function startFailure(spec: RunSpec, program: string, error: unknown): Promise<RunResult> {
  try {
    const info = await Deno.stat(spec.cwd);
    if (!info.isDirectory) return failure(`working directory is not a directory: ${spec.cwd}`);
  } catch {
    return failure(`working directory not found: ${spec.cwd}`);
  }
  return failure(`could not start ${program}: ${startError(error, program)}`);
}

/**
 * Runs a job to its end and reports how it went. The process starts before
 * this first yields, so a caller that checked for a stop just before calling
 * knows no job started after it.
 */
export async function runCommand(spec: RunSpec): Promise<RunResult> {
  const invocation = shellInvocation(spec.command, spec.shell);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(invocation.program, {
      args: invocation.args,
      cwd: spec.cwd,
      env: spec.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: Deno.build.os !== "windows" && !spec.sharedGroup,
      windowsRawArguments: invocation.windowsRawArguments,
    }).spawn();
  } catch (error) {
    return await startFailure(spec, invocation.program, error);
  }
  spec.onStart?.(child.pid);
  const tree: JobTree = Deno.build.os === "windows"
    ? { kind: "windows", pid: child.pid }
    : spec.sharedGroup
    ? { kind: "shared", ...spec.sharedGroup }
    : { kind: "group", pgid: child.pid };

  const cap = spec.cap ?? OUTPUT_CAP;
  const stdout = new TailBuffer(cap);
  const stderr = new TailBuffer(cap);
  const reporter = outputReporter(
    stdout,
    stderr,
    spec.onOutput,
    spec.outputIntervalMs ?? OUTPUT_INTERVAL_MS,
  );
  let read = false;
  const reading = Promise.all([
    drain(child.stdout, stdout, reporter.changed),
    drain(child.stderr, stderr, reporter.changed),
  ]).then(() => void (read = true));

  // Every kill is awaited before we return: with a shared group, a late one
  // would hit the worker's next job.
  let stopReason: string | null = null;
  let graceDeadline = 0;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const kills: Promise<void>[] = [];
  const stop = (reason: string) => {
    if (stopReason !== null) return;
    stopReason = reason;
    const grace = spec.graceMs ?? KILL_GRACE_MS;
    graceDeadline = performance.now() + grace;
    kills.push(killTree(tree, "SIGTERM"));
    graceTimer = setTimeout(() => kills.push(killTree(tree, "SIGKILL")), grace);
  };
  const timeoutTimer = spec.timeout === null ? undefined : setTimeout(
    () => stop(`timed out after ${formatDuration(spec.timeout!)}`),
    spec.timeout * 1000,
  );
  const onAbort = () => stop("cancelled");
  spec.signal?.addEventListener("abort", onAbort);
  if (spec.signal?.aborted) onAbort();

  const status = await child.status;
  clearTimeout(timeoutTimer);
  spec.signal?.removeEventListener("abort", onAbort);
  // The job is over when its shell is. What it left behind and still holds the
  // output open is part of the job: wait briefly (or out the kill's grace), then kill it.
  const wait = stopReason === null ? STRAGGLER_MS : Math.max(0, graceDeadline - performance.now());
  let waitTimer: ReturnType<typeof setTimeout> | undefined;
  // Most runs have closed their output by now: no timer for them.
  const straggler = !read && await Promise.race([
    reading.then(() => false),
    new Promise<boolean>((resolve) => waitTimer = setTimeout(() => resolve(true), wait)),
  ]);
  clearTimeout(waitTimer);
  clearTimeout(graceTimer);
  if (straggler || stopReason !== null) kills.push(killTree(tree, "SIGKILL"));
  await Promise.all(kills);
  await reading;
  reporter.stop();

  let error: string | null = null;
  if (stopReason !== null) error = `${stopReason} (process tree killed)`;
  else if (status.signal) error = `killed by signal ${status.signal}`;
  else if (status.code !== 0) error = exitReason(status.code);
  return {
    exitCode: status.signal ? null : status.code,
    error,
    stdout: stdout.bytes(),
    stderr: stderr.bytes(),
  };
}
