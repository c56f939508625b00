/**
 * Recurring jobs (SPEC §10): every running supervisor checks the schedules
 * about once a second and enqueues the job of each due tick. The store's
 * `fireSchedule` records the tick and stores the job `NAME@<tick>` in one
 * transaction, so however many supervisors see a tick, it makes one job; and
 * ticks missed while nothing ran collapse into the latest one (core/schedule.ts).
 * @module
 */

import { dueTick, tickJob } from "../../core/schedule.ts";
import type { Store } from "../../store/store.ts";
import type { Service } from "./service.ts";

/** How often schedules are checked (ms): a tick's job starts at most about this late. */
export const SCHEDULE_CHECK_MS = 1000;

/** What the schedule service needs. */
export interface ScheduleOptions {
  store: Store;
  /** Now, in ms (a test clock in tests, see serviceClock). */
  clock?: () => number;
  /** Hears of each job this supervisor enqueued: its id. */
  report?: (jobId: string) => void;
}

/** The schedule service. */
export class ScheduleService implements Service {
  readonly name = "schedules";
  #options: ScheduleOptions;

  constructor(options: ScheduleOptions) {
    this.#options = options;
  }

  intervalMs(): number {
    return SCHEDULE_CHECK_MS;
  }

  /** One check of every schedule; returns the ids of the jobs this call enqueued. */
  async runOnce(): Promise<string[]> {
    const { store } = this.#options;
    const now = (this.#options.clock ?? Date.now)();
    const fired: string[] = [];
    for (const schedule of await store.listSchedules()) {
      const tick = dueTick(schedule, now);
      if (tick === null) continue;
      const job = tickJob(schedule, tick);
      if (await store.fireSchedule(schedule.name, tick, job)) {
        fired.push(job.id);
        this.#options.report?.(job.id);
      }
    }
    return fired;
  }
}
