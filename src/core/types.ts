/**
 * Public types shared by every layer of queuectl: jobs, attempts, workers and
 * the results a run produces. Times are milliseconds since the Unix epoch.
 * @module
 */

/** Every state a job can be in, in lifecycle order. */
export const JOB_STATES = [
  "pending",
  "processing",
  "completed",
  "failed",
  "dead",
  "cancelled",
] as const;

/** A job's state (SPEC §4). */
export type JobState = typeof JOB_STATES[number];

/** A validated job, ready to be stored. */
export interface NewJob {
  id: string;
  command: string;
  maxRetries: number;
  priority: number;
  /** Not run before this time (ms since epoch). */
  runAt: number;
  /** Seconds; `null` means no timeout. */
  timeout: number | null;
  cwd: string;
}

/** A stored job with its read-only fields. */
export interface Job extends NewJob {
  state: JobState;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  lastError: string | null;
  /** The worker holding the job while it is processing. */
  worker: string | null;
  leaseUntil: number | null;
}

/** How one run of a job ended. */
export type AttemptOutcome = "running" | "completed" | "failed" | "cancelled" | "lost";

/** One run of a job. */
export interface Attempt {
  attempt: number;
  worker: string | null;
  startedAt: number;
  finishedAt: number | null;
  outcome: AttemptOutcome;
  exitCode: number | null;
  error: string | null;
  stdoutBytes: number;
  stderrBytes: number;
}

/** Captured output of one attempt. */
export interface AttemptLogs {
  attempt: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** What a finished run reports back to the store. */
export interface RunResult {
  exitCode: number | null;
  /** `null` when the run succeeded, else why it failed ("exit code 3"). */
  error: string | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /**
   * When the run really started (ms since epoch), if later than its claim: a
   * job claimed ahead of time starts when the one before it ends.
   */
  startedAt?: number;
}

/** What became of a job after a failed run. */
export type FailOutcome =
  | { id: string; state: "failed"; runAt: number; attempts: number; error: string }
  | { id: string; state: "dead"; attempts: number; error: string };

/** A live worker or supervisor process. */
export interface WorkerInfo {
  id: string;
  kind: "supervisor" | "worker";
  host: string;
  pid: number;
  supervisor: string | null;
  startedAt: number;
  heartbeatAt: number;
  currentJob: string | null;
  /** When the process started, as its OS told at registration (ms since epoch), if known. */
  processStartedAt: number | null;
}

/** Number of jobs in each state. */
export type StateCounts = Record<JobState, number>;
