/**
 * The fish completion script: one function does the same walk as bash's over
 * the command line's tokens and prints the candidates; fish filters them.
 * @module
 */

import type { CompletionModel } from "./model.ts";
import { lookups, sq } from "./tables.ts";

/** Renders the fish script for `model`. */
export function fishScript(model: CompletionModel): string {
  const fn = `__${model.program.replace(/\W/g, "_")}`;
  const functions = lookups(model).map(({ name, entries }) =>
    [
      `function ${fn}_${name}`,
      "    switch $argv[1]",
      ...entries.map(([key, values]) =>
        `        case ${sq(key, "\\'")}\n            printf '%s\\n' ${
          values.map((v) => sq(v, "\\'")).join(" ")
        }`
      ),
      "    end",
      "end",
    ].join("\n")
  );
  return `# fish completion for ${model.program}, generated from its command tree by
# \`${model.program} completions fish\`. Load it with:
#   ${model.program} completions fish | source
# or save it as ~/.config/fish/completions/${model.program}.fish

${functions.join("\n")}

# Prints the values one per line; @queues and @schedules are asked of the program itself.
function ${fn}_expand --argument-names program db
    for value in $argv[3..-1]
        if string match -q '@*' -- $value
            if test -n "$db"
                $program --db $db __complete (string sub -s 2 -- $value) 2>/dev/null
            else
                $program __complete (string sub -s 2 -- $value) 2>/dev/null
            end
        else
            printf '%s\\n' $value
        end
    end
end

function ${fn}_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l program $tokens[1]
    set -l path ''
    set -l expect ''
    set -l db ''
    set -l args 0
    for word in $tokens[2..-1]
        if test -n "$expect"
            test "$expect" = --db; and set db $word
            set expect ''
            continue
        end
        if string match -q -- '-*=*' $word
            continue
        else if string match -q -- '-*' $word
            if contains -- $word (${fn}_value_options $path)
                set expect $word
            end
        else if contains -- $word (${fn}_commands $path)
            set path (string trim -- "$path $word")
            set args 0
        else
            set args (math $args + 1)
        end
    end
    if test -n "$expect"
        set -l values (${fn}_expand $program "$db" (${fn}_option_values "$path|$expect"))
        if test (count $values) -eq 0
            __fish_complete_path $cur
        else
            printf '%s\\n' $values
        end
    else if string match -q -- '-*' $cur
        ${fn}_options $path
    else
        ${fn}_commands $path
        ${fn}_expand $program "$db" (${fn}_argument_values "$path|$args")
    end
end

complete -c ${model.program} -f -a '(${fn}_complete)'
`;
}
