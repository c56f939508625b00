/**
 * What shell completion knows, read from the commander tree at run time (so
 * it cannot drift from the commands): per command path its subcommands, its
 * options, which options take a value and what values there are to offer.
 * Each shell's script (bash.ts, zsh.ts, fish.ts, powershell.ts) is rendered
 * from these tables.
 * @module
 */

import type { Argument, Command, Option } from "@commander-js/extra-typings";
import { CONFIG_KEYS } from "../../core/config.ts";
import { JOB_STATES } from "../../core/types.ts";
import { PURGEABLE_STATES } from "../../store/store.ts";

/** Shells `completions` writes scripts for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish", "powershell"] as const;
/** One of {@linkcode COMPLETION_SHELLS}. */
export type CompletionShell = typeof COMPLETION_SHELLS[number];

/**
 * Values offered for an option or argument: a fixed list, or `@queues` /
 * `@schedules`, which the script asks the program for when completing
 * (`queuectl __complete queues`).
 */
export type Values = string[];

/** Dynamic value kinds the hidden `__complete` command answers. */
export const DYNAMIC_VALUES = ["queues", "schedules"] as const;

/**
 * What the tree cannot say by itself: the values of options and arguments.
 * Keys are `--flag` (any command), `path --flag` (one command) or `path #N`
 * (its N-th argument). tests/completions_test.ts checks that each key names
 * something in the tree, so a renamed flag cannot leave a stale entry.
 */
export const VALUE_HINTS: Record<string, Values> = {
  "--state": [...JOB_STATES],
  "purge --state": [...PURGEABLE_STATES],
  "--queue": ["@queues"],
  "pause #0": ["@queues"],
  "resume #0": ["@queues"],
  "queue set #0": ["@queues"],
  "config get #0": [...CONFIG_KEYS],
  "config set #0": [...CONFIG_KEYS],
  "completions #0": [...COMPLETION_SHELLS],
  "schedule remove #0": ["@schedules"],
  "schedule rm #0": ["@schedules"],
};

/** The tables every script is rendered from; keys are command paths ("" is the root). */
export interface CompletionModel {
  /** The program's name. */
  program: string;
  /** Subcommand names (aliases too) per path. */
  commands: Map<string, string[]>;
  /** Every option name (short and long) per path; the root's apply everywhere. */
  options: Map<string, string[]>;
  /** Option names that take a value, per path. */
  valueOptions: Map<string, string[]>;
  /** Values per `path|--flag` (also `path|-f`). */
  optionValues: Map<string, Values>;
  /** Values per `path|N` for the N-th positional argument. */
  argumentValues: Map<string, Values>;
}

/** Root options that are not global: help and version. */
const ROOT_ONLY = ["-h", "--help", "-V", "--version"];

function optionNames(option: Option): string[] {
  return [option.short, option.long].filter((name): name is string => !!name);
}

/** Reads the completion tables from a commander program. */
export function completionModel(program: Command): CompletionModel {
  const model: CompletionModel = {
    program: program.name(),
    commands: new Map(),
    options: new Map(),
    valueOptions: new Map(),
    optionValues: new Map(),
    argumentValues: new Map(),
  };
  // deno-lint-ignore no-explicit-any
  const walk = (command: Command<any, any, any>, path: string) => {
    const help = command.createHelp();
    const subcommands = help.visibleCommands(command).filter((sub) => sub.name() !== "help");
    model.commands.set(
      path,
      subcommands.flatMap((sub) => [sub.name(), ...sub.aliases()]),
    );
    const options = help.visibleOptions(command) as Option[];
    model.options.set(path, options.flatMap(optionNames));
    const valued = options.filter((option) => option.required || option.optional);
    model.valueOptions.set(path, valued.flatMap(optionNames));
    for (const option of valued) {
      const values = option.argChoices ?? VALUE_HINTS[`${path} ${option.long}`.trim()] ??
        VALUE_HINTS[option.long ?? ""];
      if (!values) continue;
      for (const name of optionNames(option)) model.optionValues.set(`${path}|${name}`, values);
    }
    (command.registeredArguments as readonly Argument[]).forEach((argument, index) => {
      const values = argument.argChoices ?? VALUE_HINTS[`${path} #${index}`];
      if (values) model.argumentValues.set(`${path}|${index}`, values);
    });
    for (const sub of subcommands) {
      for (const name of [sub.name(), ...sub.aliases()]) {
        walk(sub, path ? `${path} ${name}` : name);
      }
    }
  };
  walk(program, "");
  // The root's own options (--db) work after any subcommand too; -h and -V are the root's only.
  const globals = (model.options.get("") ?? []).filter((name) => !ROOT_ONLY.includes(name));
  const globalValued = (model.valueOptions.get("") ?? []).filter((name) => globals.includes(name));
  for (const path of model.commands.keys()) {
    if (path === "") continue;
    model.options.set(path, [...new Set([...model.options.get(path)!, ...globals])]);
    model.valueOptions.set(path, [...new Set([...model.valueOptions.get(path)!, ...globalValued])]);
    for (const name of globalValued) {
      const values = model.optionValues.get(`|${name}`);
      if (values) model.optionValues.set(`${path}|${name}`, values);
    }
  }
  return model;
}

/** Every hint key that names nothing in `model` (tests keep this empty). */
export function staleHints(model: CompletionModel): string[] {
  return Object.keys(VALUE_HINTS).filter((key) => {
    const argument = /^(.*) #(\d+)$/.exec(key);
    if (argument) return !model.argumentValues.has(`${argument[1]}|${argument[2]}`);
    const option = /^(?:(.*) )?(--[\w-]+)$/.exec(key)!;
    const [, path, flag] = option;
    if (path !== undefined) return !model.optionValues.has(`${path}|${flag}`);
    return ![...model.valueOptions.values()].some((names) => names.includes(flag));
  });
}
