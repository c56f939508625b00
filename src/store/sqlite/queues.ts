/**
 * Named queues: their rows (made on first use, paused when queues made from
 * now on start paused), concurrency limits, pause and resume, and their
 * counts per state. The claim (claim.ts) reads these rows.
 * @module
 */

import type { QueueInfo, QueueList } from "../../core/types.ts";
import { emptyCounts } from "../rows.ts";
import type { Row, SqliteDb } from "./db.ts";

/** The row of settings for queues not made yet. */
const NEW_QUEUES = "*";

/** Makes the rows of `names` that do not exist yet, inside the caller's transaction. */
export function ensureQueues(db: SqliteDb, names: Iterable<string>): void {
  const list = [...new Set(names)];
  if (list.length === 0) return;
  if (list.length === 1 && list[0] === "default") {
    // The common case, one cheap probe.
    if (db.sql("SELECT 1 FROM queues WHERE name = 'default'").get()) return;
  }
  db.sql(`
    INSERT INTO queues (name, paused)
    SELECT value, (SELECT paused FROM queues WHERE name = '${NEW_QUEUES}') FROM json_each(?)
    WHERE true
    ON CONFLICT (name) DO NOTHING`).run(JSON.stringify(list));
}

/** Every queue with its settings and counts per state, by name. */
export async function listQueues(db: SqliteDb): Promise<QueueList> {
  return db.read(() => {
    const rows = db.sql(`
      SELECT name, concurrency, paused FROM queues WHERE name <> '${NEW_QUEUES}'
      UNION
      SELECT DISTINCT queue, 0, 0 FROM job_counts WHERE queue NOT IN (SELECT name FROM queues)
      ORDER BY 1`).all() as Row[];
    const counts = db.sql("SELECT queue, state, n FROM job_counts WHERE n <> 0").all() as Row[];
    const byName = new Map<string, QueueInfo>();
    for (const row of rows) {
      byName.set(row.name as string, {
        name: row.name as string,
        concurrency: row.concurrency as number,
        paused: row.paused === 1,
        counts: emptyCounts(),
      });
    }
    for (const row of counts) {
      const queue = byName.get(row.queue as string);
      if (queue) queue.counts[row.state as keyof QueueInfo["counts"]] = row.n as number;
    }
    const defaults = db.sql(`SELECT paused FROM queues WHERE name = '${NEW_QUEUES}'`).get() as Row;
    return { queues: [...byName.values()], newQueuesPaused: defaults.paused === 1 };
  });
}

/** Sets the most jobs of `queue` that may run at once (0: no limit). */
export async function setConcurrency(db: SqliteDb, queue: string, limit: number): Promise<void> {
  await db.tx(() => {
    ensureQueues(db, [queue]);
    db.sql("UPDATE queues SET concurrency = ? WHERE name = ?").run(limit, queue);
  });
}

/** Pauses or resumes the named queues, or every queue and those made later (`"all"`). */
export async function setPaused(
  db: SqliteDb,
  names: string[] | "all",
  paused: boolean,
): Promise<void> {
  await db.tx(() => {
    if (names === "all") {
      db.sql("UPDATE queues SET paused = ?").run(paused ? 1 : 0);
      return;
    }
    ensureQueues(db, names);
    const update = db.sql("UPDATE queues SET paused = ? WHERE name = ?");
    for (const name of names) update.run(paused ? 1 : 0, name);
  });
}
