/**
 * An operator's actions on jobs: cancel (with the blocked jobs that depend on
 * it), and moving dead jobs back to pending (`dlq retry`). Each is all or
 * nothing.
 * @module
 */

import { QueueError, quote } from "../../core/errors.ts";
import type { CancelOutcome, JobState } from "../../core/types.ts";
import { notFound, type Row, type SqliteDb } from "./db.ts";
import { cancelDependents } from "./deps.ts";

/**
 * Cancels a job that has not finished, and the blocked jobs that depend on
 * it (transitively); returns its previous state and those jobs' ids.
 */
export async function cancel(db: SqliteDb, id: string): Promise<CancelOutcome> {
  const now = db.now();
  return await db.tx(() => {
    const row = db.sql("SELECT seq, runs, state FROM jobs WHERE id = ?").get(id) as
      | Row
      | undefined;
    if (!row) throw notFound(id);
    const state = row.state as JobState;
    if (state === "completed" || state === "dead") {
      throw new QueueError("conflict", `Cannot cancel job ${quote(id)}: it is already ${state}`);
    }
    if (state === "cancelled") return { previous: state, cascaded: [] };
    if (state === "processing") {
      // The output flushed so far stays: it is all this run will leave.
      db.sql(`
        UPDATE attempts
        SET finished_at = ?, outcome = 'cancelled', exit_code = NULL, error = 'cancelled'
        WHERE job_seq = ? AND attempt = ?`).run(now, row.seq, row.runs);
    }
    db.sql(`
      UPDATE jobs SET state = 'cancelled', updated_at = ?, finished_at = ?,
                      last_error = CASE WHEN state = 'processing' THEN 'cancelled while running'
                                        ELSE last_error END,
                      worker = NULL, lease_until = NULL
      WHERE seq = ?`).run(now, now, row.seq);
    return { previous: state, cascaded: cancelDependents(db, row.seq as number, now) };
  });
}

/** Moves dead jobs back to pending with attempts = 0; all or nothing. Returns their ids. */
export async function retryDead(db: SqliteDb, ids: string[] | "all"): Promise<string[]> {
  const now = db.now();
  return await db.tx(() => {
    let seqs: number[];
    let found: string[];
    if (ids === "all") {
      const rows = db.sql("SELECT seq, id FROM jobs WHERE state = 'dead' ORDER BY seq")
        .all() as Row[];
      seqs = rows.map((row) => row.seq as number);
      found = rows.map((row) => row.id as string);
    } else {
      seqs = [];
      found = [];
      for (const id of new Set(ids)) {
        const row = db.sql("SELECT seq, state FROM jobs WHERE id = ?").get(id) as Row | undefined;
        if (!row) throw notFound(id);
        if (row.state !== "dead") {
          throw new QueueError(
            "conflict",
            `Job ${quote(id)} is ${row.state}, not dead; nothing was retried`,
          );
        }
        seqs.push(row.seq as number);
        found.push(id);
      }
    }
    const update = db.sql(`
      UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?,
                      started_at = NULL, finished_at = NULL, exit_code = NULL, last_error = NULL
      WHERE seq = ?`);
    for (const seq of seqs) update.run(now, now, seq);
    return found;
  });
}
