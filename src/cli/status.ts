/**
 * `status`: counts per state, live workers, oldest pending age.
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import { statusToJson } from "../core/format.ts";
import { JOB_STATES } from "../core/types.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { dim, out, paintState, printJson } from "./output.ts";

/** Registers `status`. */
export function registerStatus(program: Program): void {
  program.command("status")
    .description("jobs per state, live workers, oldest pending job")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        const [counts, workers, oldest, queues] = await Promise.all([
          store.counts(),
          store.listWorkers(),
          store.oldestPending(),
          store.listQueues(),
        ]);
        const now = Date.now();
        const age = oldest === null ? null : Math.max(0, (now - oldest) / 1000);
        const live = workers.filter((w) => w.kind === "worker");
        const supervisors = workers.filter((w) => w.kind === "supervisor");
        if (options.json) {
          return printJson(
            statusToJson({
              counts,
              workers,
              oldestPendingAt: oldest,
              now,
              database: store.location,
              queues,
            }),
          );
        }
        const width = Math.max(...JOB_STATES.map((s) => s.length)) + 2;
        for (const state of JOB_STATES) {
          const note = state === "failed" && counts.failed > 0
            ? dim("  (waiting to retry)")
            : state === "blocked" && counts.blocked > 0
            ? dim("  (waiting for other jobs)")
            : "";
          out(
            `${paintState(state)}${" ".repeat(width - state.length)}${
              String(counts[state]).padStart(8)
            }${note}`,
          );
        }
        out();
        out(
          `workers        ${live.length} live, ${
            live.filter((w) => w.currentJob).length
          } busy (${supervisors.length} supervisor${supervisors.length === 1 ? "" : "s"})`,
        );
        out(`oldest pending ${age === null ? "-" : formatDuration(age)}`);
        const paused = queues.queues.filter((q) => q.paused).map((q) => q.name);
        if (queues.newQueuesPaused && paused.length === queues.queues.length) {
          out("paused         every queue, and new ones");
        } else if (queues.newQueuesPaused) {
          out(`paused         ${paused.join(", ") || "none"}; new queues start paused`);
        } else if (paused.length > 0) out(`paused         ${paused.join(", ")}`);
        out(dim(`database       ${store.location}`));
      });
    });
}
