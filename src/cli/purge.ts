/**
 * `purge`: delete finished jobs by hand (SPEC §10), the same statement family
 * retention uses.
 * @module
 */

import { parseDuration } from "../core/duration.ts";
import { invalid, quote } from "../core/errors.ts";
import { parseQueueName } from "../core/queue_name.ts";
import { PURGEABLE_STATES, type PurgeableState } from "../store/store.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { out, printJson } from "./output.ts";

/** States `purge` takes when `--state` is not given. */
const DEFAULT_STATES: PurgeableState[] = ["completed", "cancelled"];

function parseStates(text: string): PurgeableState[] {
  const states = text.split(",").map((state) => state.trim()).filter(Boolean);
  if (states.length === 0) throw invalid(`--state needs at least one state, got ${quote(text)}`);
  for (const state of states) {
    if (!(PURGEABLE_STATES as readonly string[]).includes(state)) {
      throw invalid(
        `Purge deletes only finished jobs: --state takes ${PURGEABLE_STATES.join(", ")}, got ${
          quote(state)
        }`,
      );
    }
  }
  return [...new Set(states)] as PurgeableState[];
}

/** Registers `purge`. */
export function registerPurge(program: Program): void {
  program.command("purge")
    .description("delete finished jobs (with their runs and logs) that finished long enough ago")
    .option("--older-than <duration>", "required: only jobs that finished more than this ago")
    .option(
      "-s, --state <states>",
      `comma-separated, from ${PURGEABLE_STATES.join(", ")} (default: completed,cancelled)`,
    )
    .option("-q, --queue <queue>", "only jobs of this queue")
    .option("--dry-run", "count what would go; delete nothing")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      `
Pending, processing, failed (waiting to retry) and blocked jobs are never purged;
dead jobs only when --state names them. Workers also purge by themselves: see
config retain-completed, retain-cancelled and retain-dead.

Examples:
  queuectl purge --older-than 7d
  queuectl purge --older-than 1h --state completed,cancelled,dead --dry-run`,
    )
    .action(async (options, command) => {
      if (options.olderThan === undefined) {
        throw invalid("Purge needs --older-than <duration>, e.g. --older-than 7d");
      }
      const seconds = parseDuration(options.olderThan);
      if (seconds === null || seconds < 0) {
        throw invalid(
          `--older-than must be a duration like 90s, 12h or 7d, got ${quote(options.olderThan)}`,
        );
      }
      const states = options.state === undefined ? DEFAULT_STATES : parseStates(options.state);
      const queue = options.queue === undefined
        ? undefined
        : parseQueueName(options.queue, "--queue");
      const ms = Math.round(seconds * 1000);
      await withStore(command.optsWithGlobals(), async (store) => {
        const result = await store.purge({
          olderThanMs: Object.fromEntries(states.map((state) => [state, ms])),
          queue,
          dryRun: !!options.dryRun,
        });
        const total = Object.values(result.counts).reduce((a, b) => a + b, 0);
        if (options.json) {
          return printJson({
            dry_run: !!options.dryRun,
            [options.dryRun ? "would_purge" : "purged"]: total,
            by_state: Object.fromEntries(states.map((state) => [state, result.counts[state]])),
          });
        }
        const detail = states.map((state) => `${result.counts[state]} ${state}`).join(", ");
        const jobs = `${total} job${total === 1 ? "" : "s"}`;
        out(`${options.dryRun ? "would purge" : "purged"} ${jobs} (${detail})`);
      });
    });
}
