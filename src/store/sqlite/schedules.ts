/**
 * Schedules: stored cron schedules, and the transaction that records a tick
 * and enqueues its job, so a tick makes at most one job however many
 * supervisors see it.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import type { NewSchedule, Schedule } from "../../core/schedule.ts";
import type { NewJob } from "../../core/types.ts";
import { toSchedule } from "../rows.ts";
import type { Row, SqliteDb } from "./db.ts";
import { storeJobs } from "./enqueue.ts";

/** Stores a new schedule; throws `conflict` when the name is taken. */
export async function addSchedule(db: SqliteDb, schedule: NewSchedule): Promise<void> {
  const now = db.now();
  await db.tx(() => {
    const taken = db.sql(`
      INSERT INTO schedules (name, cron, tz, command, queue, max_retries, priority, timeout, cwd,
                             created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO NOTHING`).run(
      schedule.name,
      schedule.cron,
      schedule.tz,
      schedule.command,
      schedule.queue,
      schedule.maxRetries,
      schedule.priority,
      schedule.timeout,
      schedule.cwd,
      now,
    ).changes === 0;
    if (taken) {
      throw new QueueError(
        "conflict",
        `A schedule named ${quote(schedule.name)} already exists; remove it first`,
      );
    }
  });
}

/** Every schedule, by name. */
export async function listSchedules(db: SqliteDb): Promise<Schedule[]> {
  const rows = db.sql("SELECT * FROM schedules ORDER BY name").all() as Row[];
  return rows.map(toSchedule);
}

/** Deletes a schedule; throws `not_found`. */
export async function removeSchedule(db: SqliteDb, name: string): Promise<void> {
  const gone = await db.tx(() => db.sql("DELETE FROM schedules WHERE name = ?").run(name).changes);
  if (gone === 0) throw new QueueError("not_found", `No schedule named ${quote(name)}`);
}

/** Records `tick` and enqueues `job` unless the schedule is gone or past it; see Store. */
export async function fireSchedule(
  db: SqliteDb,
  name: string,
  tick: number,
  job: NewJob,
): Promise<boolean> {
  const now = db.now();
  // Durable like any enqueue, also while a purge on this connection relaxes it.
  db.raw.exec("PRAGMA synchronous = FULL");
  try {
    return await db.tx(() => {
      const moved = db.sql(`
        UPDATE schedules SET last_tick = ?
        WHERE name = ? AND (last_tick IS NULL OR last_tick < ?)`).run(tick, name, tick).changes;
      if (moved === 0) return false;
      // The job goes in as any enqueue's does (its queue made on first use), if its id is free.
      return storeJobs(db, [job], now, { ifAbsent: true }) > 0;
    });
  } finally {
    if (db.worker) db.raw.exec("PRAGMA synchronous = NORMAL");
  }
}
