/**
 * Named queues: `queue list`, `queue set`, `pause` and `resume` (SPEC §9).
 * @module
 */

import { queuesToJson } from "../core/format.ts";
import { parseConcurrency, parseQueueName } from "../core/queue_name.ts";
import { JOB_STATES } from "../core/types.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { dim, out, printJson, printTable } from "./output.ts";

/** Registers `queue`, `pause` and `resume`. */
export function registerQueue(program: Program): void {
  const queue = program.command("queue").description(
    "named queues: their jobs per state, concurrency limits and pauses",
  );

  queue.command("list")
    .description("every queue with its jobs per state, its limit and whether it is paused")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        const list = await store.listQueues();
        if (options.json) return printJson(queuesToJson(list));
        printTable(
          ["QUEUE", "STATUS", "LIMIT", ...JOB_STATES.map((state) => state.toUpperCase())],
          list.queues.map((q) => [
            q.name,
            q.paused ? "paused" : "active",
            q.concurrency === 0 ? "-" : String(q.concurrency),
            ...JOB_STATES.map((state) => String(q.counts[state])),
          ]),
        );
        if (list.newQueuesPaused) {
          out(dim("New queues start paused (`queuectl resume` with no name undoes that)."));
        }
      });
    });

  queue.command("set")
    .description("change a queue's settings (the queue is made if it does not exist)")
    .argument("<queue>", "queue name")
    .requiredOption(
      "--concurrency <n>",
      "most jobs of this queue processing at once, on every machine; 0 for no limit",
    )
    .addHelpText(
      "after",
      `
Examples:
  queuectl queue set deploys --concurrency 1
  queuectl queue set emails --concurrency 0      # no limit`,
    )
    .action(async (name, options, command) => {
      const queueName = parseQueueName(name);
      const limit = parseConcurrency(options.concurrency);
      await withStore(command.optsWithGlobals(), async (store) => {
        await store.setConcurrency(queueName, limit);
        out(
          limit === 0
            ? `${queueName}: no concurrency limit`
            : `${queueName}: at most ${limit} job${limit === 1 ? "" : "s"} processing at once`,
        );
      });
    });

  for (const paused of [true, false]) {
    const verb = paused ? "pause" : "resume";
    program.command(verb)
      .description(
        paused
          ? "claim nothing new from these queues (none named: every queue, also ones made later)"
          : "let paused queues run again (none named: every queue, and new ones start active)",
      )
      .argument("[queues...]", "queue names")
      .addHelpText(
        "after",
        paused
          ? `
Running jobs finish; enqueue still works. Examples:
  queuectl pause deploys
  queuectl pause              # every queue, including queues made later`
          : `
Examples:
  queuectl resume deploys
  queuectl resume             # every queue`,
      )
      .action(async (names, _options, command) => {
        // Every name is checked before anything changes.
        const queues = names.map((name) => parseQueueName(name));
        await withStore(command.optsWithGlobals(), async (store) => {
          await store.setPaused(queues.length === 0 ? "all" : [...new Set(queues)], paused);
          const what = queues.length === 0
            ? paused ? "every queue (and queues made later)" : "every queue"
            : [...new Set(queues)].join(", ");
          out(`${paused ? "paused" : "resumed"} ${what}`);
        });
      });
  }
}
