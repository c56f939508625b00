/**
 * `completions bash|zsh|fish|powershell`: a completion script generated at run
 * time from the command tree (completion/model.ts), and the hidden
 * `__complete queues|schedules` the scripts call for names that live in the
 * database.
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { invalid, quote } from "../core/errors.ts";
import { DEFAULT_QUEUE } from "../core/queue_name.ts";
import type { Store } from "../store/store.ts";
import { bashScript } from "./completion/bash.ts";
import { fishScript } from "./completion/fish.ts";
import {
  COMPLETION_SHELLS,
  completionModel,
  type CompletionShell,
  DYNAMIC_VALUES,
} from "./completion/model.ts";
import { powershellScript } from "./completion/powershell.ts";
import { zshScript } from "./completion/zsh.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { out } from "./output.ts";

/** The completion script for `shell`, from `program`'s tree. */
export function completionScript(program: Command, shell: CompletionShell): string {
  const model = completionModel(program);
  switch (shell) {
    case "bash":
      return bashScript(model);
    case "zsh":
      return zshScript(model);
    case "fish":
      return fishScript(model);
    case "powershell":
      return powershellScript(model);
  }
}

/** Queue names to offer: every queue (`queue list`), and those schedules name. */
async function queueNames(store: Store): Promise<string[]> {
  const [{ queues }, schedules] = await Promise.all([store.listQueues(), store.listSchedules()]);
  const named = [...queues.map((queue) => queue.name), ...schedules.map((s) => s.queue)];
  return [...new Set([DEFAULT_QUEUE, ...named])].sort();
}

/** Registers `completions` and the hidden `__complete`. */
export function registerCompletions(program: Program): void {
  program.command("completions")
    .description(`print a shell completion script: ${COMPLETION_SHELLS.join(", ")}`)
    .argument("<shell>", COMPLETION_SHELLS.join(", "))
    .addHelpText(
      "after",
      `
Examples:
  source <(queuectl completions bash)                      # bash, e.g. in ~/.bashrc
  source <(queuectl completions zsh)                       # zsh, after compinit
  queuectl completions fish | source                       # fish
  queuectl completions powershell | Out-String | Invoke-Expression   # PowerShell`,
    )
    .action((shell) => {
      if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
        throw invalid(
          `Unknown shell ${quote(shell)}; completions are written for ${
            COMPLETION_SHELLS.join(", ")
          }`,
        );
      }
      Deno.stdout.writeSync(
        new TextEncoder().encode(completionScript(program, shell as CompletionShell)),
      );
    });

  program.command("__complete", { hidden: true })
    .description("names for completion scripts, one per line")
    .argument("<what>", DYNAMIC_VALUES.join(", "))
    .action(async (what, _options, command) => {
      if (!(DYNAMIC_VALUES as readonly string[]).includes(what)) {
        throw invalid(`Unknown completion list ${quote(what)}`);
      }
      await withStore(command.optsWithGlobals(), async (store) => {
        const names = what === "queues"
          ? await queueNames(store)
          : (await store.listSchedules()).map((schedule) => schedule.name);
        for (const name of names) out(name);
      });
    });
}
