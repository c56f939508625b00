/**
 * Workers and heartbeats: registration, lease renewal, recovery of expired
 * leases and of workers a supervisor saw die, and the stop request of
 * `worker stop`.
 * @module
 */

import type { FailOutcome, WorkerInfo } from "../../core/types.ts";
import { toWorker } from "../rows.ts";
import type { Beat, BeatReply } from "../store.ts";
import type { Row, SqliteDb } from "./db.ts";
import { releaseHeld } from "./exchange.ts";
import { failRow } from "./settle.ts";

/** Records that a worker is alive and extends the leases of its jobs. */
export async function heartbeat(db: SqliteDb, beat: Beat): Promise<BeatReply> {
  const now = db.now();
  return await db.tx(() => {
    const worker = db.sql(`
      INSERT INTO workers (id, kind, host, pid, supervisor, started_at, heartbeat_at, current_job,
                           process_started_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                                     current_job = excluded.current_job,
                                     process_started_at = coalesce(workers.process_started_at,
                                                                   excluded.process_started_at)
      RETURNING stop_requested`).get(
      beat.id,
      beat.kind,
      beat.host,
      beat.pid,
      beat.supervisor,
      now,
      now,
      beat.currentJob,
      beat.processStartedAt ?? null,
    ) as Row;
    const held = db.sql(`
      UPDATE jobs INDEXED BY jobs_lease SET lease_until = ?
      WHERE state = 'processing' AND worker = ?
      RETURNING id`).all(now + beat.leaseMs, beat.id) as Row[];
    return { stop: worker.stop_requested === 1, held: held.map((row) => row.id as string) };
  });
}

/** Turns expired leases into failed runs and forgets silent workers. */
export async function recover(db: SqliteDb): Promise<FailOutcome[]> {
  const now = db.now();
  // A cheap read first: most calls find nothing and need no write lock.
  const expired = db.sql(
    "SELECT 1 FROM jobs WHERE state = 'processing' AND lease_until < ? LIMIT 1",
  ).get(now);
  const config = db.config();
  const staleBefore = now - 2 * config.leaseTimeout * 1000;
  const stale = db.sql("SELECT 1 FROM workers WHERE heartbeat_at < ? LIMIT 1").get(staleBefore);
  if (!expired && !stale) return [];
  return await db.tx(() => {
    const rows = db.sql(`
      SELECT seq, id, attempts, runs, max_retries FROM jobs
      WHERE state = 'processing' AND lease_until < ?`).all(now) as Row[];
    const result = rows.map((row) =>
      failRow(
        db,
        row,
        now,
        "lost",
        { exitCode: null, error: "worker lost (lease expired)" },
        config,
      )
    );
    db.sql("DELETE FROM workers WHERE heartbeat_at < ?").run(staleBefore);
    return result;
  });
}

/**
 * A supervisor saw `worker` die: fail its jobs now and forget it. With
 * `started`, the other jobs it held were claimed ahead and go back unrun.
 */
export async function releaseWorker(
  db: SqliteDb,
  worker: string,
  error: string,
  started?: string[],
): Promise<FailOutcome[]> {
  const now = db.now();
  return await db.tx(() => {
    const config = db.config();
    const rows = db.sql(`
      SELECT seq, id, attempts, runs, max_retries FROM jobs INDEXED BY jobs_lease
      WHERE state = 'processing' AND worker = ?`).all(worker) as Row[];
    const ran = started ? new Set(started) : null;
    const unstarted = ran ? rows.filter((row) => !ran.has(row.id as string)) : [];
    releaseHeld(db, worker, unstarted.map((row) => row.id as string), now);
    const result = rows.filter((row) => !ran || ran.has(row.id as string)).map((row) =>
      failRow(db, row, now, "lost", { exitCode: null, error }, config)
    );
    db.sql("DELETE FROM workers WHERE id = ?").run(worker);
    return result;
  });
}

/** Forgets a worker that stopped cleanly. */
export async function unregisterWorker(db: SqliteDb, id: string): Promise<void> {
  await db.tx(() => db.sql("DELETE FROM workers WHERE id = ?").run(id));
}

/** Live workers and supervisors (heartbeat within the lease timeout). */
export async function listWorkers(db: SqliteDb): Promise<WorkerInfo[]> {
  const since = db.now() - db.config().leaseTimeout * 1000;
  const rows = db.sql(
    "SELECT * FROM workers WHERE heartbeat_at >= ? ORDER BY kind DESC, started_at, id",
  ).all(since) as Row[];
  return rows.map(toWorker);
}

/** Asks every live supervisor to stop gracefully; returns how many were asked. */
export async function requestStop(db: SqliteDb): Promise<number> {
  const since = db.now() - db.config().leaseTimeout * 1000;
  const changes = await db.tx(() =>
    db.sql(
      "UPDATE workers SET stop_requested = 1 WHERE kind = 'supervisor' AND heartbeat_at >= ?",
    ).run(since).changes
  );
  return Number(changes);
}
