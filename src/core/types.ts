/**
 * Public types shared by every layer of queuectl: jobs, attempts, workers and
 * the results a run produces. Times are milliseconds since the Unix epoch.
 * @module
 */

/** Every state a job can be in, in lifecycle order. */
export const JOB_STATES = [
  "blocked",
  "pending",
  "processing",
  "completed",
  "failed",
  "dead",
  "cancelled",
] as const;

/** A job's state (SPEC §4; `blocked`: waiting for its dependencies, SPEC §9). */
export type JobState = typeof JOB_STATES[number];

/** States a job leaves again: it has not finished. */
export const UNFINISHED_STATES: readonly JobState[] = [
  "blocked",
  "pending",
  "processing",
  "failed",
];

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
  /** Named queue (default `default`, see core/queue_name.ts). */
  queue?: string;
  /**
   * Ids of the jobs this one runs after: each must exist, or come earlier in
   * the same batch. Until every one has completed the job is `blocked`.
   */
  after?: string[];
}

/** A stored job with its read-only fields. */
export interface Job extends NewJob {
  queue: string;
  after: string[];
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

/** A named queue: its settings and how many of its jobs are in each state. */
export interface QueueInfo {
  name: string;
  /** Most jobs of this queue processing at once; 0 means no limit. */
  concurrency: number;
  /** Nothing new is claimed from a paused queue. */
  paused: boolean;
  counts: StateCounts;
}

/** Every queue, and whether queues created from now on start paused (`pause` with no name). */
export interface QueueList {
  queues: QueueInfo[];
  newQueuesPaused: boolean;
}

/** A dependency of a job (one of its `after` ids) and the state it is in. */
export interface Dependency {
  id: string;
  state: JobState;
}

/** Where a job stands, for `wait`. */
export interface JobStanding {
  id: string;
  state: JobState;
  lastError: string | null;
  /**
   * For a blocked job that can never start without help: the dead job it
   * waits for, directly or through other blocked jobs. Otherwise `null`.
   */
  deadDependency: string | null;
}

/** What `cancel` did. */
export interface CancelOutcome {
  /** The state the job was in (`cancelled` when it already was). */
  previous: JobState;
  /** Blocked jobs cancelled with it because they depended on it, transitively. */
  cascaded: string[];
}

/** Output of a running job so far, as the worker flushes it (tails with their cut markers). */
export interface OutputSnapshot {
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** Bytes written to each stream since the run started (cut bytes included). */
  stdoutTotal: number;
  stderrTotal: number;
}

/** Where a reader of a run's output stands: bytes of each stream already seen. */
export interface OutputOffsets {
  stdout: number;
  stderr: number;
}

/** Output of one run after given offsets, for `logs --follow`. */
export interface OutputChunk {
  attempt: number;
  outcome: AttemptOutcome;
  /** Bytes after the offsets that are still stored (older ones may have been cut). */
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** Bytes written to each stream so far (as last flushed, or in all once the run ended). */
  stdoutTotal: number;
  stderrTotal: number;
}
