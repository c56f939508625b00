/**
 * The background services a supervisor runs beside its workers: retention
 * and schedules.
 * @module
 */

import type { Store } from "../../store/store.ts";
import { RetentionService } from "./retention.ts";
import { ScheduleService } from "./schedules.ts";
import { serviceClock, type Services, startServices } from "./service.ts";

export { type Service, serviceClock, type Services, startServices } from "./service.ts";
export { RetentionService } from "./retention.ts";
export { ScheduleService } from "./schedules.ts";

/** Starts retention and schedules for the supervisor `holder`; `log` gets one line per event. */
export function startSupervisorServices(
  store: Store,
  holder: string,
  log: (message: string) => void,
): Services {
  const retention = new RetentionService({
    store,
    holder,
    report: ({ counts }) => {
      const parts = Object.entries(counts).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`);
      log(`retention deleted ${parts.join(", ")} job(s)`);
    },
  });
  const schedules = new ScheduleService({
    store,
    clock: serviceClock(),
    report: (id) => log(`schedule enqueued ${id}`),
  });
  return startServices(
    [retention, schedules],
    (service, error) =>
      log(`${service.name}: ${error instanceof Error ? error.message.split("\n")[0] : error}`),
  );
}
