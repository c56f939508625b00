/**
 * Schedules: stored cron schedules, and the statement that records a tick and
 * enqueues its job, so a tick makes at most one job however many supervisors
 * on however many machines see it.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import type { NewSchedule, Schedule } from "../../core/schedule.ts";
import type { NewJob } from "../../core/types.ts";
import { toSchedule } from "../rows.ts";
import { DEFAULT_QUEUE } from "../../core/queue_name.ts";
import type { PgDb } from "./db.ts";
import { ensureQueuesCte } from "./queues.ts";
import { errorCode } from "./errors.ts";
import { NOW, query } from "./sql.ts";

/** Stores a new schedule; throws `conflict` when the name is taken. */
export async function addSchedule(db: PgDb, schedule: NewSchedule): Promise<void> {
  for (const [field, value] of Object.entries(schedule)) {
    if (typeof value === "string" && value.includes("\0")) {
      throw new QueueError(
        "invalid",
        `Schedule ${quote(schedule.name)} has a NUL character in its ${field}; ` +
          "PostgreSQL cannot store it",
      );
    }
  }
  const rows = await db.run("safe", (sql) =>
    query(
      sql,
      `INSERT INTO schedules (name, cron, tz, command, queue, max_retries, priority, timeout,
                              cwd, created_at)
       VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $10, ${NOW})
       ON CONFLICT (name) DO NOTHING
       RETURNING name`,
      [
        db.now(),
        schedule.name,
        schedule.cron,
        schedule.tz,
        schedule.command,
        schedule.queue,
        schedule.maxRetries,
        schedule.priority,
        schedule.timeout,
        schedule.cwd,
      ],
    ));
  if (rows.length === 0) {
    throw new QueueError(
      "conflict",
      `A schedule named ${quote(schedule.name)} already exists; remove it first`,
    );
  }
}

/** Every schedule, by name. */
export async function listSchedules(db: PgDb): Promise<Schedule[]> {
  const rows = await db.run(
    "idempotent",
    (sql) => query(sql, `SELECT * FROM schedules ORDER BY name COLLATE "C"`),
  );
  return rows.map(toSchedule);
}

/** Deletes a schedule; throws `not_found`. */
export async function removeSchedule(db: PgDb, name: string): Promise<void> {
  const rows = await db.run(
    "idempotent",
    (sql) => query(sql, "DELETE FROM schedules WHERE name = $1 RETURNING name", [name]),
  );
  if (rows.length === 0) throw new QueueError("not_found", `No schedule named ${quote(name)}`);
}

/** Records `tick` and enqueues `job` unless the schedule is gone or past it; see Store. */
export async function fireSchedule(
  db: PgDb,
  name: string,
  tick: number,
  job: NewJob,
): Promise<boolean> {
  try {
    const [row] = await db.run("safe", (sql) =>
      query(
        sql,
        `WITH tick AS (
           UPDATE schedules SET last_tick = $3
           WHERE name = $2 AND (last_tick IS NULL OR last_tick < $3)
           RETURNING name
         ), ${ensureQueuesCte(12)}, stored AS (
           INSERT INTO jobs (id, command, state, priority, max_retries, timeout, cwd, run_at,
                             queue, created_at, updated_at)
           SELECT $4::text, $5::text, 'pending', $6::integer, $7::integer, $8::double precision,
                  $9::text, $10::bigint, $11::text, ${NOW}, ${NOW} FROM tick
           ON CONFLICT (id) DO NOTHING
           RETURNING 1
         )
         SELECT count(*)::integer AS n FROM stored`,
        [
          db.now(),
          name,
          tick,
          job.id,
          job.command,
          job.priority,
          job.maxRetries,
          job.timeout,
          job.cwd,
          job.runAt,
          job.queue ?? DEFAULT_QUEUE,
          JSON.stringify([job.queue ?? DEFAULT_QUEUE]),
        ],
      ));
    return (row.n as number) > 0;
  } catch (error) {
    // Two sessions inserting the same id at once: the loser's tick is the winner's job.
    if (errorCode(error) === "23505") return false;
    throw error;
  }
}
