/**
 * Named queues: their rows (made on first use, paused when queues made from
 * now on start paused), concurrency limits, pause and resume, and their
 * counts per state (summed over the counter shards). The claim (claim.ts)
 * reads these rows. A change that may let jobs run wakes idle workers.
 * @module
 */

import type { QueueInfo, QueueList } from "../../core/types.ts";
import { emptyCounts } from "../rows.ts";
import type { PgDb } from "./db.ts";
import { query, type Sql } from "./sql.ts";

/**
 * A CTE (`queues_made`) that makes the rows of the queues named in the JSON
 * array parameter `$n` that do not exist yet; DO NOTHING never waits on a
 * claim's lock of an existing row.
 */
export function ensureQueuesCte(n: number): string {
  return `queues_made AS (
    INSERT INTO queues (name, paused)
    SELECT DISTINCT value, (SELECT paused FROM queues WHERE name = '*')
    FROM json_array_elements_text($${n}::text::json) AS value
    ON CONFLICT (name) DO NOTHING
  )`;
}

/** Wakes idle workers: something may have become claimable. */
function notify(sql: Sql, db: PgDb): Promise<unknown> {
  return query(sql, "SELECT pg_notify($1, '')", [db.target.channel]);
}

/** Every queue with its settings and counts per state, by name. */
export async function listQueues(db: PgDb): Promise<QueueList> {
  const [rows, counts] = await db.run("idempotent", (sql) =>
    Promise.all([
      query(
        sql,
        `SELECT * FROM (
           SELECT name, concurrency, paused FROM queues
           UNION
           SELECT DISTINCT queue, 0, false FROM job_counts
           WHERE queue NOT IN (SELECT name FROM queues)
         ) AS q ORDER BY name COLLATE "C"`,
      ),
      query(
        sql,
        `SELECT queue, state, sum(n)::bigint AS n FROM job_counts
         GROUP BY queue, state HAVING sum(n) <> 0`,
      ),
    ]));
  const byName = new Map<string, QueueInfo>();
  let newQueuesPaused = false;
  for (const row of rows) {
    if (row.name === "*") {
      newQueuesPaused = row.paused as boolean;
      continue;
    }
    byName.set(row.name as string, {
      name: row.name as string,
      concurrency: row.concurrency as number,
      paused: row.paused as boolean,
      counts: emptyCounts(),
    });
  }
  for (const row of counts) {
    const queue = byName.get(row.queue as string);
    if (queue) queue.counts[row.state as keyof QueueInfo["counts"]] = row.n as number;
  }
  return { queues: [...byName.values()], newQueuesPaused };
}

/** Sets the most jobs of `queue` that may run at once (0: no limit). */
export async function setConcurrency(db: PgDb, queue: string, limit: number): Promise<void> {
  await db.run("idempotent", async (sql) => {
    await query(
      sql,
      `INSERT INTO queues (name, concurrency, paused)
       VALUES ($1, $2, (SELECT paused FROM queues WHERE name = '*'))
       ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency`,
      [queue, limit],
    );
    await notify(sql, db);
  });
}

/** Pauses or resumes the named queues, or every queue and those made later (`"all"`). */
export async function setPaused(db: PgDb, names: string[] | "all", paused: boolean): Promise<void> {
  await db.run("idempotent", async (sql) => {
    if (names === "all") {
      await query(sql, "UPDATE queues SET paused = $1", [paused]);
    } else {
      await query(
        sql,
        `INSERT INTO queues (name, paused)
         SELECT DISTINCT value, $2 FROM json_array_elements_text($1::text::json) AS value
         ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`,
        [JSON.stringify(names), paused],
      );
    }
    if (!paused) await notify(sql, db);
  });
}
