/**
 * Metrics over the attempts history, walked through its finish-time index
 * over the window only: the cost follows the runs in the window, not the size
 * of the history.
 * @module
 */

import type { Metrics, RunTotals } from "../../core/metrics.ts";
import { buildMetrics, buildRunTotals, runTimeRanks } from "../rows.ts";
import type { MetricsOptions, RunTotalsOptions } from "../store.ts";
import type { Row, SqliteDb } from "./db.ts";
import { counts, oldestPending } from "./reads.ts";

/** Figures over the runs that finished in `[now - windowMs, now]` (see Store.metrics). */
export async function metrics(db: SqliteDb, options: MetricsOptions): Promise<Metrics> {
  const until = db.now();
  const since = until - options.windowMs;
  return db.read(() => {
    const minutes = db.sql(`
      SELECT finished_at / 60000 AS minute,
             sum(CASE WHEN outcome = 'completed' THEN 1 ELSE 0 END) AS completed,
             sum(CASE WHEN outcome IN ('failed', 'lost') THEN 1 ELSE 0 END) AS failed,
             sum(CASE WHEN attempt > 1 THEN 1 ELSE 0 END) AS retries,
             sum(CASE WHEN outcome IN ('completed', 'failed') THEN 1 ELSE 0 END) AS timed,
             sum(CASE WHEN outcome IN ('completed', 'failed') THEN finished_at - started_at
                      ELSE 0 END) AS run_ms,
             max(CASE WHEN outcome IN ('completed', 'failed') THEN finished_at - started_at
                      END) AS longest
      FROM attempts
      WHERE finished_at >= ? AND finished_at <= ?
      GROUP BY finished_at / 60000
      ORDER BY minute`).all(since, until) as Row[];
    const ranks = runTimeRanks(minutes);
    // Nearest rank: one sort of the window's run times, three rows back.
    const ranked = ranks.length === 0 ? [] : db.sql(`
        SELECT rn, d FROM (
          SELECT finished_at - started_at AS d,
                 row_number() OVER (ORDER BY finished_at - started_at) AS rn
          FROM attempts
          WHERE finished_at >= ? AND finished_at <= ? AND outcome IN ('completed', 'failed')
        ) ranked
        WHERE rn IN (?, ?, ?)`).all(since, until, ...ranks) as Row[];
    // A job died in the window if its last run failed in the window and it is still dead.
    const dead = db.sql(`
      SELECT count(*) AS n
      FROM attempts a CROSS JOIN jobs j
      WHERE a.finished_at >= ? AND a.finished_at <= ? AND a.outcome IN ('failed', 'lost')
        AND j.seq = a.job_seq AND j.state = 'dead' AND j.runs = a.attempt`)
      .get(since, until) as Row;
    return buildMetrics({
      since,
      until,
      counts: counts(db),
      oldestPendingAt: oldestPending(db),
      minutes,
      ranks,
      ranked,
      dead: dead.n as number,
    });
  });
}

/** Runs that finished in `[from, to)` by outcome, with a run-time histogram. */
export async function runTotals(db: SqliteDb, options: RunTotalsOptions): Promise<RunTotals> {
  const { from, to, bucketsMs } = options;
  const buckets = bucketsMs.map((_, i) =>
    `, sum(CASE WHEN finished_at - started_at <= ? THEN 1 ELSE 0 END) AS b${i}`
  );
  const rows = db.sql(`
    SELECT outcome, count(*) AS n, sum(finished_at - started_at) AS run_ms ${buckets.join("")}
    FROM attempts
    WHERE finished_at >= ? AND finished_at < ?
    GROUP BY outcome`).all(...bucketsMs, from, to) as Row[];
  return buildRunTotals(rows, bucketsMs);
}
