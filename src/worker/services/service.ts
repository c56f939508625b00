/**
 * Background services of a supervisor (retention, schedules), in River's
 * shape: each has `runOnce()` (one pass, also what tests call) and is run by
 * {@linkcode startServices} on its own timer (`start`, a `tick` per period,
 * `stop`). Coordination between supervisors is the store's: a service turn
 * (retention) or a job id's uniqueness (schedules).
 * @module
 */

/** A periodic background service. */
export interface Service {
  /** Name for log lines. */
  readonly name: string;
  /** One pass. Errors are reported and the next tick tries again. */
  runOnce(): Promise<unknown>;
  /** How long to wait before the next pass (ms). */
  intervalMs(): number;
}

/** Running services. */
export interface Services {
  /** Stops the timers and waits for passes that are running. */
  stop(): Promise<void>;
}

/** Longest wait between two passes after a failed one (ms). */
const ERROR_RETRY_MS = 5000;

/** Starts each service now and then every `intervalMs()`; `onError` hears of failed passes. */
export function startServices(
  services: Service[],
  onError: (service: Service, error: unknown) => void,
): Services {
  let stopped = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const running = new Set<Promise<unknown>>();
  const tick = (service: Service) => {
    if (stopped) return;
    let wait = ERROR_RETRY_MS;
    const pass: Promise<unknown> = service.runOnce()
      .then(() => {
        wait = service.intervalMs();
      })
      .catch((error) => {
        wait = Math.min(ERROR_RETRY_MS, service.intervalMs());
        onError(service, error);
      })
      .finally(() => {
        running.delete(pass);
        if (stopped) return;
        const timer = setTimeout(() => {
          timers.delete(timer);
          tick(service);
        }, wait);
        timers.add(timer);
      });
    running.add(pass);
  };
  for (const service of services) tick(service);
  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all([...running]);
    },
  };
}

/**
 * The clock services read: `Date.now`, unless `$QUEUECTL_TEST_CLOCK_FILE`
 * names a file holding the time in ms since the epoch, which tests (only
 * tests) move to drive several supervisor processes through cron ticks without
 * waiting for real minutes.
 */
export function serviceClock(): () => number {
  const file = Deno.env.get("QUEUECTL_TEST_CLOCK_FILE");
  if (!file) return Date.now;
  return () => {
    const ms = Number(Deno.readTextFileSync(file).trim());
    return Number.isFinite(ms) ? ms : Date.now();
  };
}
