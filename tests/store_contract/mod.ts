/**
 * The Store conformance suite: one set of cases every backend must pass
 * (River's driver test suite is the model). A backend's test file calls
 * {@linkcode storeContract} with a factory for fresh, empty stores. The cases
 * live one file per statement family beside this one.
 * @module
 */

import { type ContractTest, FakeClock, type StoreFactory } from "./fixtures.ts";
import { registerJobs } from "./jobs.ts";
import { registerWorkers } from "./workers.ts";
import { registerActions } from "./actions.ts";
import { registerReads } from "./reads.ts";
import { registerMetrics } from "./metrics.ts";
import { registerChanges } from "./changes.ts";
import { registerPurge } from "./purge.ts";
import { registerSchedules } from "./schedules.ts";
import { registerExchange } from "./exchange.ts";
import { registerQueues } from "./queues.ts";
import { registerDeps } from "./deps.ts";
import { registerOutput } from "./output.ts";

export { FakeClock, type StoreFactory };

/** Registers the conformance cases for one backend. */
export function storeContract(
  backend: string,
  make: StoreFactory,
  options: { ignore?: boolean } = {},
): void {
  const test: ContractTest = (name, fn) => {
    Deno.test({
      name: `store contract [${backend}]: ${name}`,
      ignore: options.ignore,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const clock = new FakeClock();
        const store = await make(clock);
        try {
          await fn(store, clock);
        } finally {
          await store.close();
        }
      },
    });
  };
  registerJobs(test);
  registerWorkers(test);
  registerActions(test);
  registerReads(test);
  registerMetrics(test);
  registerChanges(test);
  registerPurge(test);
  registerSchedules(test);
  registerExchange(test);
  registerQueues(test);
  registerDeps(test);
  registerOutput(test);
}
