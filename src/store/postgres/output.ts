/**
 * Output of running jobs: the worker flushes what a run has written so far
 * (at a bounded rate, as stored tails), and `logs --follow` reads what came
 * after the bytes it has shown.
 * @module
 */

import type { OutputChunk, OutputOffsets, OutputSnapshot } from "../../core/types.ts";
import { SUFFIX_MIN_START, toOutputChunk } from "../rows.ts";
import type { PgDb } from "./db.ts";
import { notFound } from "./errors.ts";
import { blob, query, storable } from "./sql.ts";

/**
 * Stores the output so far of the run of job `id` that `worker` is running;
 * returns whether that run was still running there (else nothing changed).
 * The conditions are on the attempt row itself, so a settle that commits
 * first (and ends the attempt) is seen even while this waits for its lock.
 */
export async function saveOutput(
  db: PgDb,
  id: string,
  worker: string,
  output: OutputSnapshot,
): Promise<boolean> {
  if (!storable(id)) return false;
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `UPDATE attempts SET stdout = $3::bytea, stderr = $4::bytea,
                           stdout_total = $5, stderr_total = $6
       WHERE job_seq = (SELECT seq FROM jobs WHERE id = $1) AND outcome = 'running'
         AND worker = $2
       RETURNING attempt`,
      [
        id,
        worker,
        blob(output.stdout),
        blob(output.stderr),
        output.stdoutTotal,
        output.stderrTotal,
      ],
    ));
  return rows.length > 0;
}

/** Output of run `attempt` of job `id` after `from`; `null` if there is no such run. */
export async function readOutput(
  db: PgDb,
  id: string,
  attempt: number,
  from: OutputOffsets,
): Promise<OutputChunk | null> {
  if (!storable(id)) throw notFound(id);
  // A running attempt sends only the bytes after `from` (see SUFFIX_MIN_START).
  const part = (stream: string, offset: string) =>
    `coalesce(a.outcome = 'running' AND a.${stream}_total IS NOT NULL
       AND length(a.${stream}) - (a.${stream}_total - ${offset}) >= ${SUFFIX_MIN_START}, false)`;
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `SELECT j.seq, a.attempt, a.outcome, a.stdout_total, a.stderr_total,
              p.stdout_part, p.stderr_part,
              CASE WHEN p.stdout_part
                   THEN substring(a.stdout FROM (length(a.stdout) - (a.stdout_total - $3) + 1)::integer)
                   ELSE a.stdout END AS stdout,
              CASE WHEN p.stderr_part
                   THEN substring(a.stderr FROM (length(a.stderr) - (a.stderr_total - $4) + 1)::integer)
                   ELSE a.stderr END AS stderr
       FROM jobs AS j
       LEFT JOIN attempts AS a ON a.job_seq = j.seq AND a.attempt = $2
       CROSS JOIN LATERAL (
         SELECT ${part("stdout", "$3::bigint")} AS stdout_part,
                ${part("stderr", "$4::bigint")} AS stderr_part
       ) AS p
       WHERE j.id = $1`,
      [id, attempt, from.stdout, from.stderr],
    ));
  if (rows.length === 0) throw notFound(id);
  return rows[0].attempt === null ? null : toOutputChunk(rows[0], from);
}
