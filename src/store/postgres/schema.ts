/**
 * Numbered migrations of the PostgreSQL schema. They run inside the queue's
 * own schema (the connection's `search_path`), under an advisory lock, and
 * `schema_version` records how many have run. Never edit a released
 * migration: append a new one.
 * @module
 */

import type postgres from "postgres";
import { QueueError } from "../../core/errors.ts";
import type { PgDb } from "./db.ts";
import { query, type Sql } from "./sql.ts";
import { errorCode } from "./errors.ts";
import { CHANNEL_PREFIX } from "./url.ts";

/** Shards of the per-state counters: each connection adds to the row of its own shard. */
export const COUNT_SHARDS = 16;

/** Migrations in order; index 0 is migration 1. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    seq          bigserial PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    command      text NOT NULL,
    state        text NOT NULL CHECK (state IN
                   ('pending', 'processing', 'completed', 'failed', 'dead', 'cancelled')),
    priority     integer NOT NULL,
    max_retries  integer NOT NULL,
    timeout      double precision,
    cwd          text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    runs         integer NOT NULL DEFAULT 0,
    run_at       bigint NOT NULL,
    created_at   bigint NOT NULL,
    updated_at   bigint NOT NULL,
    started_at   bigint,
    finished_at  bigint,
    exit_code    integer,
    last_error   text,
    worker       text,
    lease_until  bigint
  );
  -- The claim query walks this index in order and stops at the first due job.
  CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
  CREATE INDEX jobs_state ON jobs (state, seq);
  CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'processing';
  CREATE INDEX jobs_worker ON jobs (worker) WHERE state = 'processing';

  -- No foreign key to jobs: runs are only ever added by claim, which holds the job row.
  CREATE TABLE attempts (
    job_seq      bigint NOT NULL,
    attempt      integer NOT NULL,
    worker       text,
    started_at   bigint NOT NULL,
    finished_at  bigint,
    outcome      text NOT NULL,
    exit_code    integer,
    error        text,
    stdout       bytea,
    stderr       bytea,
    PRIMARY KEY (job_seq, attempt)
  );
  CREATE INDEX attempts_finished ON attempts (finished_at) WHERE finished_at IS NOT NULL;

  -- Per-state counts kept by statement-level triggers, so status costs the same
  -- at any table size. Each connection adds its deltas to its own shard row
  -- (backend pid modulo ${COUNT_SHARDS}), so concurrent workers rarely wait on
  -- each other's counter rows; rows are locked in state order, so they cannot deadlock.
  -- The same triggers NOTIFY the queue's channel when a job becomes runnable
  -- (enqueue, retry after a failure, dlq retry), which wakes idle workers.
  CREATE TABLE job_counts (
    state  text NOT NULL,
    shard  integer NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (state, shard)
  );
  CREATE FUNCTION jobs_changed() RETURNS trigger
  LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      INSERT INTO job_counts AS c (state, shard, n)
      SELECT state, pg_backend_pid() % ${COUNT_SHARDS}, -count(*) FROM old_rows
      GROUP BY state ORDER BY state
      ON CONFLICT (state, shard) DO UPDATE SET n = c.n + excluded.n;
      RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
      INSERT INTO job_counts AS c (state, shard, n)
      SELECT state, pg_backend_pid() % ${COUNT_SHARDS}, count(*) FROM new_rows
      GROUP BY state ORDER BY state
      ON CONFLICT (state, shard) DO UPDATE SET n = c.n + excluded.n;
    ELSE
      INSERT INTO job_counts AS c (state, shard, n)
      SELECT state, pg_backend_pid() % ${COUNT_SHARDS}, sum(delta) FROM (
        SELECT state, -1 AS delta FROM old_rows
        UNION ALL
        SELECT state, 1 AS delta FROM new_rows
      ) AS changes
      GROUP BY state HAVING sum(delta) <> 0 ORDER BY state
      ON CONFLICT (state, shard) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    IF EXISTS (SELECT 1 FROM new_rows WHERE state IN ('pending', 'failed')) THEN
      PERFORM pg_notify('${CHANNEL_PREFIX}' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
  END
  $$;
  CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_changed();
  CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_changed();
  CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_changed();

  CREATE TABLE workers (
    id              text PRIMARY KEY,
    kind            text NOT NULL,
    host            text NOT NULL,
    pid             integer NOT NULL,
    supervisor      text,
    started_at      bigint NOT NULL,
    heartbeat_at    bigint NOT NULL,
    current_job     text,
    stop_requested  boolean NOT NULL DEFAULT false
  );

  CREATE TABLE config (key text PRIMARY KEY, value text NOT NULL);
  `,
  // 2: housekeeping and schedules (SPEC §10).
  `
  -- Retention and purge walk finished jobs by state and finish time (failed jobs
  -- waiting to retry have a finish time too; pending and processing ones have none).
  CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;

  -- Periodic services (retention): whose turn it is, until when, and when the next is due.
  CREATE TABLE services (
    name         text PRIMARY KEY,
    holder       text,
    lease_until  bigint NOT NULL DEFAULT 0,
    due_at       bigint NOT NULL DEFAULT 0
  );

  CREATE TABLE schedules (
    name         text PRIMARY KEY,
    cron         text NOT NULL,
    tz           text,
    command      text NOT NULL,
    queue        text NOT NULL,
    max_retries  integer NOT NULL,
    priority     integer NOT NULL,
    timeout      double precision,
    cwd          text NOT NULL,
    created_at   bigint NOT NULL,
    last_tick    bigint
  );
  `,
  // 3: when each registered process started, as its OS tells: with the host and the pid it
  // shows that a local process is gone even if its pid was reused (worker/liveness.ts).
  `
  ALTER TABLE workers ADD COLUMN process_started_at bigint;
  `,
  // 4: named queues with limits and pause, dependencies (state 'blocked'), partial output.
  `
  ALTER TABLE jobs ADD COLUMN queue text NOT NULL DEFAULT 'default';
  -- The job's dependencies as enqueued (a JSON array of ids), NULL when none.
  ALTER TABLE jobs ADD COLUMN after_ids text;
  -- Set (under the row's lock) once another job depends on this one: only then does
  -- completing it take the slower path that looks for dependents.
  ALTER TABLE jobs ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;
  ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
  ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN
    ('blocked', 'pending', 'processing', 'completed', 'failed', 'dead', 'cancelled'));

  -- The claim walks each served queue's part of this index and stops at its first due job;
  -- blocked jobs are not in it.
  DROP INDEX jobs_claim;
  CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
  CREATE INDEX jobs_queue_state ON jobs (queue, state, seq);

  CREATE TABLE job_deps (
    job_seq  bigint NOT NULL,  -- the dependent job
    dep_seq  bigint NOT NULL,  -- the job it runs after
    PRIMARY KEY (job_seq, dep_seq)
  );
  CREATE INDEX job_deps_dep ON job_deps (dep_seq, job_seq);

  -- Every queue that has had jobs or settings. The row '*' (not a valid queue name) holds
  -- whether queues created from now on start paused: 'pause' with no name sets it. A claim
  -- from a limited queue locks that queue's row, so such claims take turns.
  CREATE TABLE queues (
    name         text PRIMARY KEY,
    concurrency  integer NOT NULL DEFAULT 0,
    paused       boolean NOT NULL DEFAULT false
  );
  INSERT INTO queues (name) VALUES ('*'), ('default');

  -- Counts per queue, state and shard (the old rows counted the only queue there was).
  ALTER TABLE job_counts ADD COLUMN queue text NOT NULL DEFAULT 'default';
  ALTER TABLE job_counts ALTER COLUMN queue DROP DEFAULT;
  ALTER TABLE job_counts DROP CONSTRAINT job_counts_pkey;
  ALTER TABLE job_counts ADD PRIMARY KEY (queue, state, shard);
  -- As before, plus: idle workers are also woken when a job of a limited queue stops
  -- processing, since that may let the next one of that queue run.
  CREATE OR REPLACE FUNCTION jobs_changed() RETURNS trigger
  LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      INSERT INTO job_counts AS c (queue, state, shard, n)
      SELECT queue, state, pg_backend_pid() % ${COUNT_SHARDS}, -count(*) FROM old_rows
      GROUP BY queue, state ORDER BY queue, state
      ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
      RETURN NULL;
    END IF;
    -- Nothing changed (an idle claim, an idle worker's heartbeat): nothing to count or announce.
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
      RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
      INSERT INTO job_counts AS c (queue, state, shard, n)
      SELECT queue, state, pg_backend_pid() % ${COUNT_SHARDS}, count(*) FROM new_rows
      GROUP BY queue, state ORDER BY queue, state
      ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
    ELSE
      INSERT INTO job_counts AS c (queue, state, shard, n)
      SELECT queue, state, pg_backend_pid() % ${COUNT_SHARDS}, sum(delta) FROM (
        SELECT queue, state, -1 AS delta FROM old_rows
        UNION ALL
        SELECT queue, state, 1 AS delta FROM new_rows
      ) AS changes
      GROUP BY queue, state HAVING sum(delta) <> 0 ORDER BY queue, state
      ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
      IF EXISTS (
        SELECT 1 FROM old_rows AS o
        JOIN new_rows AS n ON n.seq = o.seq AND n.state <> 'processing'
        JOIN queues AS q ON q.name = o.queue AND q.concurrency > 0
        WHERE o.state = 'processing'
      ) THEN
        PERFORM pg_notify('${CHANNEL_PREFIX}' || TG_TABLE_SCHEMA, '');
        RETURN NULL;
      END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM new_rows WHERE state IN ('pending', 'failed')) THEN
      PERFORM pg_notify('${CHANNEL_PREFIX}' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
  END
  $$;

  -- A running attempt's output is flushed while it runs: these count the bytes written so
  -- far (cut ones included), so a reader knows which stored bytes are new.
  ALTER TABLE attempts ADD COLUMN stdout_total bigint;
  ALTER TABLE attempts ADD COLUMN stderr_total bigint;
  `,
];

/** Creates the schema and brings it up to date; refuses a database newer than this code. */
export async function migrate(db: PgDb, sql: postgres.Sql): Promise<void> {
  const version = async (tx: Sql) => {
    try {
      const [row] = await query(tx, "SELECT version FROM schema_version");
      return row ? row.version as number : 0;
    } catch (error) {
      if (errorCode(error) === "42P01") return 0; // no table yet
      throw error;
    }
  };
  if (await version(sql) === POSTGRES_MIGRATIONS.length) return;
  const { schema, schemaIdent } = db.target;
  await sql.begin(async (tx) => {
    // Several processes may open a fresh database at once: one migrates, the others wait.
    await query(tx, "SELECT pg_advisory_xact_lock(hashtext('queuectl'), hashtext($1))", [schema]);
    const [exists] = await query(tx, "SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (!exists) await tx.unsafe(`CREATE SCHEMA ${schemaIdent}`);
    await tx.unsafe("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
    const [row] = await query(tx, "SELECT version FROM schema_version");
    if (!row) await tx.unsafe("INSERT INTO schema_version (version) VALUES (0)");
    const current = row ? row.version as number : 0;
    if (current > POSTGRES_MIGRATIONS.length) {
      throw new QueueError(
        "unavailable",
        `Database ${db.where} has schema version ${current}, newer than this ` +
          `queuectl knows (${POSTGRES_MIGRATIONS.length}); upgrade queuectl`,
      );
    }
    for (let n = current; n < POSTGRES_MIGRATIONS.length; n++) {
      await tx.unsafe(POSTGRES_MIGRATIONS[n]);
    }
    await query(tx, "UPDATE schema_version SET version = $1", [POSTGRES_MIGRATIONS.length]);
  });
}
