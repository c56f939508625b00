/**
 * Retention (SPEC §10): deletes finished jobs older than config
 * `retain-completed`, `retain-cancelled` and `retain-dead` (0 keeps them).
 * One supervisor at a time has the turn (a lease in the store); a turn deletes
 * in the store's small batches for at most a time budget, and when work is
 * left the next turn is due at once.
 * @module
 */

import type { Config } from "../../core/config.ts";
import type { PurgeableState, PurgeResult, Store } from "../../store/store.ts";
import type { Service } from "./service.ts";

/** Name of the service turn in the store. */
export const RETENTION_SERVICE = "retention";
/** Longest gap between two checks (SPEC: at least once a minute). */
export const RETENTION_MAX_INTERVAL_MS = 60_000;
/** Shortest gap between two checks. */
export const RETENTION_MIN_INTERVAL_MS = 1_000;
/** How long one turn may delete before it lets the next check go on. */
export const RETENTION_BUDGET_MS = 20_000;
/** How long a turn is held: longer than its budget, so only a dead holder loses it. */
const TURN_LEASE_MS = 60_000;

/** Per state, how old a finished job must be (ms) to go; states kept forever are left out. */
export function retentionCutoffs(config: Config): Partial<Record<PurgeableState, number>> {
  const cutoffs: Partial<Record<PurgeableState, number>> = {};
  if (config.retainCompleted > 0) cutoffs.completed = config.retainCompleted * 1000;
  if (config.retainCancelled > 0) cutoffs.cancelled = config.retainCancelled * 1000;
  if (config.retainDead > 0) cutoffs.dead = config.retainDead * 1000;
  return cutoffs;
}

/**
 * How often to check: half the shortest retention, between
 * {@linkcode RETENTION_MIN_INTERVAL_MS} and {@linkcode RETENTION_MAX_INTERVAL_MS},
 * so a job outlives its retention by at most about half of it.
 */
export function retentionInterval(config: Config): number {
  const cutoffs = Object.values(retentionCutoffs(config));
  if (cutoffs.length === 0) return RETENTION_MAX_INTERVAL_MS;
  return Math.min(
    RETENTION_MAX_INTERVAL_MS,
    Math.max(RETENTION_MIN_INTERVAL_MS, Math.min(...cutoffs) / 2),
  );
}

/** What the retention service needs. */
export interface RetentionOptions {
  store: Store;
  /** Who holds the turn: the supervisor's id. */
  holder: string;
  /** Hears what a turn deleted. */
  report?: (result: PurgeResult) => void;
  /** Time budget of a turn (ms); tests make it small. */
  budgetMs?: number;
}

/** The retention service. */
export class RetentionService implements Service {
  readonly name = "retention";
  #options: RetentionOptions;
  #interval = RETENTION_MAX_INTERVAL_MS;

  constructor(options: RetentionOptions) {
    this.#options = options;
  }

  intervalMs(): number {
    return this.#interval;
  }

  /**
   * One check: if it is this holder's turn, deletes what the config says is
   * old enough. Returns what went, or `null` when the turn was someone else's.
   */
  async runOnce(): Promise<PurgeResult | null> {
    const { store, holder } = this.#options;
    const config = await store.getConfig();
    this.#interval = retentionInterval(config);
    if (!await store.serviceTurn(RETENTION_SERVICE, holder, TURN_LEASE_MS)) return null;
    let result: PurgeResult | null = null;
    try {
      const olderThanMs = retentionCutoffs(config);
      if (Object.keys(olderThanMs).length > 0) {
        result = await store.purge({
          olderThanMs,
          budgetMs: this.#options.budgetMs ?? RETENTION_BUDGET_MS,
        });
        if (Object.values(result.counts).some((n) => n > 0)) this.#options.report?.(result);
      }
    } finally {
      // Work left over: the next check (by anyone) may go on at once.
      const again = result && !result.done ? 0 : this.#interval;
      await store.serviceDone(RETENTION_SERVICE, holder, again);
    }
    return result;
  }
}
