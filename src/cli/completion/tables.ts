/**
 * The completion tables as `case` branches: the shape every script uses to
 * look up a command path's subcommands, options and values, in bash/zsh
 * (`case`), fish (`switch`) and PowerShell (`switch`).
 * @module
 */

import type { CompletionModel } from "./model.ts";

/** The lookups each script defines, by function suffix. */
export interface Lookup {
  /** Function name suffix: commands, options, value_options, option_values, argument_values. */
  name: string;
  entries: [key: string, values: string[]][];
}

/** The five lookups of a model; the root's options are added to every path by the scripts. */
export function lookups(model: CompletionModel): Lookup[] {
  const entries = (map: Map<string, string[]>) =>
    [...map].filter(([, values]) => values.length > 0);
  return [
    { name: "commands", entries: entries(model.commands) },
    { name: "options", entries: entries(model.options) },
    { name: "value_options", entries: entries(model.valueOptions) },
    { name: "option_values", entries: entries(model.optionValues) },
    {
      name: "argument_values",
      entries: entries(model.argumentValues),
    },
  ];
}

/** A value as a single-quoted shell word (bash, zsh, fish, PowerShell all take '…'). */
export function sq(text: string, escapeQuote = "'\\''"): string {
  return `'${text.replaceAll("'", escapeQuote)}'`;
}
