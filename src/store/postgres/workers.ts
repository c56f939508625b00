/**
 * Workers and heartbeats: registration, lease renewal, recovery of expired
 * leases and of workers a supervisor saw die, and the stop request of
 * `worker stop`. Liveness is judged on the database clock.
 * @module
 */

import type { FailOutcome, WorkerInfo } from "../../core/types.ts";
import { toWorker } from "../rows.ts";
import type { Beat, BeatReply } from "../store.ts";
import type { PgDb } from "./db.ts";
import { releaseCtes } from "./exchange.ts";
import { failRows } from "./settle.ts";
import { NOW, query, readConfig } from "./sql.ts";

/** Records that a worker is alive and extends the leases of its jobs. */
export async function heartbeat(db: PgDb, beat: Beat): Promise<BeatReply> {
  const [row] = await db.run("idempotent", (sql) =>
    query(
      sql,
      `
    WITH beat AS (
      INSERT INTO workers (id, kind, host, pid, supervisor, started_at, heartbeat_at, current_job,
                           process_started_at)
      VALUES ($2, $3, $4, $5, $6, ${NOW}, ${NOW}, $7, $9)
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                                     current_job = excluded.current_job,
                                     process_started_at = coalesce(workers.process_started_at,
                                                                   excluded.process_started_at)
      RETURNING stop_requested
    ), held AS (
      UPDATE jobs SET lease_until = ${NOW} + $8::bigint
      WHERE state = 'processing' AND worker = $2
      RETURNING id
    )
    SELECT (SELECT stop_requested FROM beat) AS stop,
           (SELECT coalesce(json_agg(id ORDER BY id COLLATE "C"), '[]') FROM held) AS held`,
      [
        db.now(),
        beat.id,
        beat.kind,
        beat.host,
        beat.pid,
        beat.supervisor,
        beat.currentJob,
        beat.leaseMs,
        beat.processStartedAt ?? null,
      ],
    ));
  return { stop: row.stop === true, held: row.held as string[] };
}

/** Turns expired leases into failed runs and forgets silent workers. */
export async function recover(db: PgDb): Promise<FailOutcome[]> {
  const [expired, config] = await db.run("idempotent", (sql) =>
    Promise.all([
      query(
        sql,
        `SELECT seq, runs, attempts, max_retries FROM jobs
         WHERE state = 'processing' AND lease_until < ${NOW}
         ORDER BY lease_until, seq`,
        [db.now()],
      ),
      readConfig(sql),
    ]));
  const [outcomes] = await Promise.all([
    failRows(
      db,
      expired,
      { expired: true },
      "lost",
      { exitCode: null, error: "worker lost (lease expired)" },
      config,
    ),
    db.run(
      "idempotent",
      (sql) =>
        query(sql, `DELETE FROM workers WHERE heartbeat_at < ${NOW} - $2::bigint`, [
          db.now(),
          2 * config.leaseTimeout * 1000,
        ]),
    ),
  ]);
  return outcomes;
}

/**
 * A supervisor saw `worker` die: fail its jobs now and forget it. With
 * `started`, the other jobs it held were claimed ahead and go back unrun.
 */
export async function releaseWorker(
  db: PgDb,
  worker: string,
  error: string,
  started?: string[],
): Promise<FailOutcome[]> {
  const [rows, config] = await db.run("idempotent", (sql) =>
    Promise.all([
      query(
        sql,
        `SELECT seq, id, runs, attempts, max_retries FROM jobs
         WHERE state = 'processing' AND worker = $1 ORDER BY seq`,
        [worker],
      ),
      readConfig(sql),
    ]));
  const ran = started ? new Set(started) : null;
  const unstarted = ran ? rows.filter((row) => !ran.has(row.id as string)) : [];
  if (unstarted.length > 0) {
    await db.run(
      "idempotent",
      (sql) =>
        query(sql, `WITH ${releaseCtes({ worker: 2, released: 3 })} SELECT 1`, [
          db.now(),
          worker,
          JSON.stringify(unstarted.map((row) => row.id)),
        ]),
    );
  }
  const lost = ran ? rows.filter((row) => ran.has(row.id as string)) : rows;
  const outcomes = await failRows(db, lost, { worker }, "lost", { exitCode: null, error }, config);
  await unregisterWorker(db, worker);
  return outcomes;
}

/** Forgets a worker that stopped cleanly. */
export async function unregisterWorker(db: PgDb, id: string): Promise<void> {
  await db.run("idempotent", (sql) => query(sql, "DELETE FROM workers WHERE id = $1", [id]));
}

/** Live workers and supervisors (heartbeat within the lease timeout). */
export async function listWorkers(db: PgDb): Promise<WorkerInfo[]> {
  const rows = await db.run("idempotent", async (sql) => {
    const config = await readConfig(sql);
    return query(
      sql,
      `SELECT * FROM workers WHERE heartbeat_at >= ${NOW} - $2::bigint
       ORDER BY kind DESC, started_at, id COLLATE "C"`,
      [db.now(), config.leaseTimeout * 1000],
    );
  });
  return rows.map(toWorker);
}

/** Asks every live supervisor to stop gracefully; returns how many were asked. */
export async function requestStop(db: PgDb): Promise<number> {
  const rows = await db.run("idempotent", async (sql) => {
    const config = await readConfig(sql);
    return query(
      sql,
      `UPDATE workers SET stop_requested = true
       WHERE kind = 'supervisor' AND heartbeat_at >= ${NOW} - $2::bigint
       RETURNING id`,
      [db.now(), config.leaseTimeout * 1000],
    );
  });
  return rows.length;
}
