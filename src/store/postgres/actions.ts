/**
 * An operator's actions on jobs: cancel (with the blocked jobs that depend on
 * it), and moving dead jobs back to pending (`dlq retry`). Each is one
 * transaction, all or nothing.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import type { CancelOutcome, JobState } from "../../core/types.ts";
import type { PgDb } from "./db.ts";
import { cancelDependents } from "./deps.ts";
import { notFound } from "./errors.ts";
import { NOW, query, storable } from "./sql.ts";

/**
 * Cancels a job that has not finished, and the blocked jobs that depend on
 * it (transitively); returns its previous state and those jobs' ids.
 */
export async function cancel(db: PgDb, id: string): Promise<CancelOutcome> {
  if (!storable(id)) throw notFound(id);
  const now = db.now();
  return await db.transaction(async (tx) => {
    const [row] = await query(tx, "SELECT seq, runs, state FROM jobs WHERE id = $1 FOR UPDATE", [
      id,
    ]);
    if (!row) throw notFound(id);
    const state = row.state as JobState;
    if (state === "completed" || state === "dead") {
      throw new QueueError("conflict", `Cannot cancel job ${quote(id)}: it is already ${state}`);
    }
    if (state === "cancelled") return { previous: state, cascaded: [] };
    if (state === "processing") {
      // The output flushed so far stays: it is all this run will leave.
      await query(
        tx,
        `UPDATE attempts
           SET finished_at = ${NOW}, outcome = 'cancelled', exit_code = NULL, error = 'cancelled'
           WHERE job_seq = $2 AND attempt = $3`,
        [now, row.seq, row.runs],
      );
    }
    await query(
      tx,
      `UPDATE jobs
         SET state = 'cancelled', updated_at = ${NOW}, finished_at = ${NOW},
             last_error = CASE WHEN state = 'processing' THEN 'cancelled while running'
                               ELSE last_error END,
             worker = NULL, lease_until = NULL
         WHERE seq = $2`,
      [now, row.seq],
    );
    return { previous: state, cascaded: await cancelDependents(db, tx, row.seq as number) };
  });
}

/** Moves dead jobs back to pending with attempts = 0; all or nothing. Returns their ids. */
export async function retryDead(db: PgDb, ids: string[] | "all"): Promise<string[]> {
  const now = db.now();
  const reset = `
    UPDATE jobs
    SET state = 'pending', attempts = 0, run_at = ${NOW}, updated_at = ${NOW},
        started_at = NULL, finished_at = NULL, exit_code = NULL, last_error = NULL`;
  return await db.transaction(async (tx) => {
    if (ids === "all") {
      const rows = await query(tx, `${reset} WHERE state = 'dead' RETURNING seq, id`, [now]);
      rows.sort((a, b) => (a.seq as number) - (b.seq as number));
      return rows.map((row) => row.id as string);
    }
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return [];
    const bad = wanted.find((id) => !storable(id));
    if (bad !== undefined) throw notFound(bad);
    const rows = await query(
      tx,
      `SELECT seq, id, state FROM jobs
       WHERE id IN (SELECT json_array_elements_text($1::text::json)) ORDER BY seq FOR UPDATE`,
      [JSON.stringify(wanted)],
    );
    const byId = new Map(rows.map((row) => [row.id as string, row]));
    for (const id of wanted) {
      const row = byId.get(id);
      if (!row) throw notFound(id);
      if (row.state !== "dead") {
        throw new QueueError(
          "conflict",
          `Job ${quote(id)} is ${row.state}, not dead; nothing was retried`,
        );
      }
    }
    await query(
      tx,
      `${reset} WHERE seq IN (SELECT value::bigint FROM json_array_elements_text($2::text::json))`,
      [now, JSON.stringify(rows.map((row) => row.seq))],
    );
    return wanted;
  });
}
