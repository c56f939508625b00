/**
 * The zsh completion script: the same walk as bash's, offering candidates
 * with `compadd` (which filters them by what was typed).
 * @module
 */

import type { CompletionModel } from "./model.ts";
import { lookups, sq } from "./tables.ts";

/** Renders the zsh script for `model`. */
export function zshScript(model: CompletionModel): string {
  const fn = `_${model.program.replace(/\W/g, "_")}`;
  const functions = lookups(model).map(({ name, entries }) =>
    [
      `${fn}_${name}() {`,
      '  case "$1" in',
      ...entries.map(([key, values]) =>
        `    ${sq(key)}) print -rl -- ${values.map((v) => sq(v)).join(" ")} ;;`
      ),
      "  esac",
      "}",
    ].join("\n")
  );
  return `#compdef ${model.program}
# zsh completion for ${model.program}, generated from its command tree by
# \`${model.program} completions zsh\`. Load it (after compinit) with:
#   source <(${model.program} completions zsh)
# or save it as _${model.program} in a directory of your $fpath.

${functions.join("\n")}

# Prints the values one per line; @queues and @schedules are asked of the program itself.
${fn}_expand() {
  local program="$1" db="$2" value
  shift 2
  for value in "$@"; do
    case "$value" in
      @*) "$program" \${db:+--db} \${db:+"$db"} __complete "\${value#@}" 2>/dev/null ;;
      *) print -r -- "$value" ;;
    esac
  done
}

${fn}() {
  local cur="\${words[CURRENT]}" cmdpath="" word expect="" db="" args=0 i
  local -a candidates
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    if [[ -n "$expect" ]]; then
      [[ "$expect" == "--db" ]] && db="$word"
      expect=""
      continue
    fi
    case "$word" in
      -*=*) ;;
      -*)
        if (( \${\${(f)"$(${fn}_value_options "$cmdpath")"}[(Ie)$word]} )); then
          expect="$word"
        fi
        ;;
      *)
        if (( \${\${(f)"$(${fn}_commands "$cmdpath")"}[(Ie)$word]} )); then
          cmdpath="\${cmdpath:+$cmdpath }$word"
          args=0
        else
          args=$((args + 1))
        fi
        ;;
    esac
  done
  if [[ -n "$expect" ]]; then
    candidates=(\${(f)"$(${fn}_expand "\${words[1]}" "$db" $(${fn}_option_values "$cmdpath|$expect"))"})
    if (( \${#candidates} == 0 )); then
      _files 2>/dev/null
      return
    fi
  elif [[ "$cur" == -* ]]; then
    candidates=(\${(f)"$(${fn}_options "$cmdpath")"})
  else
    candidates=(\${(f)"$(${fn}_commands "$cmdpath"; ${fn}_expand "\${words[1]}" "$db" $(${fn}_argument_values "$cmdpath|$args"))"})
  fi
  compadd -- "\${(@u)candidates}"
}

if (( $+functions[compdef] )); then
  compdef ${fn} ${model.program}
fi
`;
}
