/**
 * Metrics over the attempts history, walked through its finish-time index
 * over the window only, on the database clock.
 * @module
 */

import type { Metrics, RunTotals } from "../../core/metrics.ts";
import { buildMetrics, buildRunTotals, runTimeRanks } from "../rows.ts";
import type { MetricsOptions, RunTotalsOptions } from "../store.ts";
import type { PgDb } from "./db.ts";
import { counts, oldestPending } from "./reads.ts";
import { NOW, query } from "./sql.ts";

/** Figures over the runs that finished in `[now - windowMs, now]` (see Store.metrics). */
export async function metrics(db: PgDb, options: MetricsOptions): Promise<Metrics> {
  const [stateCounts, oldestPendingAt] = await Promise.all([counts(db), oldestPending(db)]);
  return await db.run("idempotent", async (sql) => {
    const [{ now }] = await query(sql, `SELECT ${NOW} AS now`, [db.now()]);
    const until = now as number;
    const since = until - options.windowMs;
    const timed = "outcome IN ('completed', 'failed')";
    const minutes = await query(
      sql,
      `SELECT finished_at / 60000 AS minute,
              count(*) FILTER (WHERE outcome = 'completed') AS completed,
              count(*) FILTER (WHERE outcome IN ('failed', 'lost')) AS failed,
              count(*) FILTER (WHERE attempt > 1) AS retries,
              count(*) FILTER (WHERE ${timed}) AS timed,
              coalesce(sum(finished_at - started_at) FILTER (WHERE ${timed}), 0)::bigint AS run_ms,
              max(finished_at - started_at) FILTER (WHERE ${timed}) AS longest
       FROM attempts
       WHERE finished_at >= $1 AND finished_at <= $2
       GROUP BY 1 ORDER BY 1`,
      [since, until],
    );
    const ranks = runTimeRanks(minutes);
    const ranked = ranks.length === 0 ? [] : await query(
      sql,
      `SELECT rn, d FROM (
         SELECT finished_at - started_at AS d,
                row_number() OVER (ORDER BY finished_at - started_at) AS rn
         FROM attempts
         WHERE finished_at >= $1 AND finished_at <= $2 AND ${timed}
       ) ranked
       WHERE rn IN ($3, $4, $5)`,
      [since, until, ...ranks],
    );
    // A job died in the window if its last run failed in the window and it is still dead.
    const [dead] = await query(
      sql,
      `SELECT count(*) AS n
       FROM attempts a JOIN jobs j ON j.seq = a.job_seq
       WHERE a.finished_at >= $1 AND a.finished_at <= $2 AND a.outcome IN ('failed', 'lost')
         AND j.state = 'dead' AND j.runs = a.attempt`,
      [since, until],
    );
    return buildMetrics({
      since,
      until,
      counts: stateCounts,
      oldestPendingAt,
      minutes,
      ranks,
      ranked,
      dead: dead.n as number,
    });
  });
}

/** Runs that finished in `[from, to)` by outcome, with a run-time histogram. */
export async function runTotals(db: PgDb, options: RunTotalsOptions): Promise<RunTotals> {
  const { from, to, bucketsMs } = options;
  const buckets = bucketsMs.map((_, i) =>
    `, count(*) FILTER (WHERE finished_at - started_at <= $${i + 3}) AS b${i}`
  );
  const rows = await db.run("idempotent", (sql) =>
    query(
      sql,
      `SELECT outcome, count(*) AS n, coalesce(sum(finished_at - started_at), 0)::bigint AS run_ms
              ${buckets.join("")}
       FROM attempts
       WHERE finished_at >= $1 AND finished_at < $2
       GROUP BY outcome`,
      [from, to, ...bucketsMs],
    ));
  return buildRunTotals(rows, bucketsMs);
}
