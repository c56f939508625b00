/**
 * Numbered migrations of the SQLite schema; migration N moves `user_version`
 * from N-1 to N. Never edit a released migration: append a new one.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import type { Row, SqliteDb } from "./db.ts";

/** Migrations in order; index 0 is migration 1. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    command      TEXT NOT NULL,
    state        TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    max_retries  INTEGER NOT NULL,
    timeout      REAL,
    cwd          TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    runs         INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    exit_code    INTEGER,
    last_error   TEXT,
    worker       TEXT,
    lease_until  INTEGER
  );
  -- The claim query walks this index in order and stops at the first due job.
  CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
  CREATE INDEX jobs_state ON jobs (state, seq);
  CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'processing';

  CREATE TABLE attempts (
    job_seq      INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    worker       TEXT,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    outcome      TEXT NOT NULL,
    exit_code    INTEGER,
    error        TEXT,
    stdout       BLOB,
    stderr       BLOB,
    PRIMARY KEY (job_seq, attempt)
  ) WITHOUT ROWID;
  CREATE INDEX attempts_finished ON attempts (finished_at) WHERE finished_at IS NOT NULL;

  -- Per-state counts kept by triggers, so status costs the same at any table size.
  CREATE TABLE job_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO job_counts (state, n) VALUES
    ('pending', 0), ('processing', 0), ('completed', 0), ('failed', 0), ('dead', 0), ('cancelled', 0);
  CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
    UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
  END;
  CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
  END;
  CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
  END;

  CREATE TABLE workers (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    host            TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    supervisor      TEXT,
    started_at      INTEGER NOT NULL,
    heartbeat_at    INTEGER NOT NULL,
    current_job     TEXT,
    stop_requested  INTEGER NOT NULL DEFAULT 0
  );

  CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 2: housekeeping and schedules (SPEC §10).
  `
  -- Retention and purge walk finished jobs by state and finish time (failed jobs
  -- waiting to retry have a finish time too; pending and processing ones have none).
  CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;

  -- Periodic services (retention): whose turn it is, until when, and when the next is due.
  CREATE TABLE services (
    name         TEXT PRIMARY KEY,
    holder       TEXT,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;

  CREATE TABLE schedules (
    name         TEXT PRIMARY KEY,
    cron         TEXT NOT NULL,
    tz           TEXT,
    command      TEXT NOT NULL,
    queue        TEXT NOT NULL,
    max_retries  INTEGER NOT NULL,
    priority     INTEGER NOT NULL,
    timeout      REAL,
    cwd          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_tick    INTEGER
  ) WITHOUT ROWID;
  `,
  // 3: when each registered process started, as its OS tells: with the host and the pid it
  // shows that a local process is gone even if its pid was reused (worker/liveness.ts).
  `
  ALTER TABLE workers ADD COLUMN process_started_at INTEGER;
  `,
  // 4: named queues with limits and pause, dependencies (state 'blocked'), partial output.
  `
  ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
  -- The job's dependencies as enqueued (a JSON array of ids), NULL when none.
  ALTER TABLE jobs ADD COLUMN after_ids TEXT;
  -- Set once another job depends on this one: only then does completing it look for dependents.
  ALTER TABLE jobs ADD COLUMN has_dependents INTEGER NOT NULL DEFAULT 0;

  -- The claim walks each served queue's part of this index and stops at its first due job;
  -- blocked jobs are not in it.
  DROP INDEX jobs_claim;
  CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
  CREATE INDEX jobs_queue_state ON jobs (queue, state, seq);

  CREATE TABLE job_deps (
    job_seq  INTEGER NOT NULL,  -- the dependent job
    dep_seq  INTEGER NOT NULL,  -- the job it runs after
    PRIMARY KEY (job_seq, dep_seq)
  ) WITHOUT ROWID;
  CREATE INDEX job_deps_dep ON job_deps (dep_seq, job_seq);

  -- Every queue that has had jobs or settings. The row '*' (not a valid queue name) holds
  -- whether queues created from now on start paused: 'pause' with no name sets it.
  CREATE TABLE queues (
    name         TEXT PRIMARY KEY,
    concurrency  INTEGER NOT NULL DEFAULT 0,
    paused       INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  INSERT INTO queues (name) VALUES ('*'), ('default');

  -- Counts per queue and state (the old table counted the only queue there was).
  DROP TRIGGER jobs_count_insert;
  DROP TRIGGER jobs_count_update;
  DROP TRIGGER jobs_count_delete;
  CREATE TABLE queue_counts (
    queue  TEXT NOT NULL,
    state  TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (queue, state)
  ) WITHOUT ROWID;
  INSERT INTO queue_counts (queue, state, n) SELECT 'default', state, n FROM job_counts;
  DROP TABLE job_counts;
  ALTER TABLE queue_counts RENAME TO job_counts;
  CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
    ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER jobs_count_update AFTER UPDATE OF state, queue ON jobs
  WHEN OLD.state <> NEW.state OR OLD.queue <> NEW.queue BEGIN
    UPDATE job_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
    INSERT INTO job_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
    ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
  END;

  -- A running attempt's output is flushed while it runs: these count the bytes written so
  -- far (cut ones included), so a reader knows which stored bytes are new.
  ALTER TABLE attempts ADD COLUMN stdout_total INTEGER;
  ALTER TABLE attempts ADD COLUMN stderr_total INTEGER;
  `,
];

/** Brings the schema up to date in one transaction; refuses a database newer than this code. */
export function migrate(db: SqliteDb): void {
  const version = () => (db.raw.prepare("PRAGMA user_version").get() as Row).user_version as number;
  if (version() === SQLITE_MIGRATIONS.length) return;
  db.txSync(() => {
    const current = version();
    if (current > SQLITE_MIGRATIONS.length) {
      throw new QueueError(
        "unavailable",
        `Database ${quote(db.location)} has schema version ${current}, newer than this ` +
          `queuectl knows (${SQLITE_MIGRATIONS.length}); upgrade queuectl`,
      );
    }
    for (let n = current; n < SQLITE_MIGRATIONS.length; n++) {
      db.raw.exec(SQLITE_MIGRATIONS[n]);
    }
    db.raw.exec(`PRAGMA user_version = ${SQLITE_MIGRATIONS.length}`);
  });
}
