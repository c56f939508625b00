/**
 * Output of running jobs: the worker flushes what a run has written so far
 * (at a bounded rate, as stored tails), and `logs --follow` reads what came
 * after the bytes it has shown.
 * @module
 */

import type { OutputChunk, OutputOffsets, OutputSnapshot } from "../../core/types.ts";
import { SUFFIX_MIN_START, toOutputChunk } from "../rows.ts";
import { blob, type Row, type SqliteDb } from "./db.ts";
import { seqOf } from "./reads.ts";

/**
 * Stores the output so far of the run of job `id` that `worker` is running;
 * returns whether that run was still running there (else nothing changed).
 */
export async function saveOutput(
  db: SqliteDb,
  id: string,
  worker: string,
  output: OutputSnapshot,
): Promise<boolean> {
  const changes = await db.tx(() =>
    db.sql(`
      UPDATE attempts SET stdout = ?, stderr = ?, stdout_total = ?, stderr_total = ?
      WHERE job_seq = (SELECT seq FROM jobs WHERE id = ?) AND outcome = 'running' AND worker = ?`)
      .run(
        blob(output.stdout),
        blob(output.stderr),
        output.stdoutTotal,
        output.stderrTotal,
        id,
        worker,
      ).changes
  );
  return Number(changes) > 0;
}

/** Output of run `attempt` of job `id` after `from`; `null` if there is no such run. */
export async function readOutput(
  db: SqliteDb,
  id: string,
  attempt: number,
  from: OutputOffsets,
): Promise<OutputChunk | null> {
  // A running attempt sends only the bytes after `from` (see SUFFIX_MIN_START).
  const part = (stream: string) =>
    `outcome = 'running' AND ${stream}_total IS NOT NULL
     AND length(${stream}) - (${stream}_total - ?) >= ${SUFFIX_MIN_START}`;
  const row = db.sql(`
    SELECT attempt, outcome, stdout_total, stderr_total, part_out AS stdout_part,
           part_err AS stderr_part,
           CASE WHEN part_out THEN substr(stdout, length(stdout) - (stdout_total - ?) + 1)
                ELSE stdout END AS stdout,
           CASE WHEN part_err THEN substr(stderr, length(stderr) - (stderr_total - ?) + 1)
                ELSE stderr END AS stderr
    FROM (SELECT *, ${part("stdout")} AS part_out, ${part("stderr")} AS part_err
          FROM attempts WHERE job_seq = ? AND attempt = ?)`).get(
    from.stdout,
    from.stderr,
    from.stdout,
    from.stderr,
    seqOf(db, id),
    attempt,
  ) as Row | undefined;
  return row ? toOutputChunk(row, from) : null;
}
