/**
 * The bash completion script (bash 3.2 and later: no associative arrays).
 * @module
 */

import type { CompletionModel } from "./model.ts";
import { lookups, sq } from "./tables.ts";

/** Renders the bash script for `model`. */
export function bashScript(model: CompletionModel): string {
  const fn = `_${model.program.replace(/\W/g, "_")}`;
  const functions = lookups(model).map(({ name, entries }) =>
    [
      `${fn}_${name}() {`,
      '  case "$1" in',
      ...entries.map(([key, values]) =>
        `    ${sq(key)}) printf '%s\\n' ${values.map((v) => sq(v)).join(" ")} ;;`
      ),
      "  esac",
      "}",
    ].join("\n")
  );
  return `# bash completion for ${model.program}, generated from its command tree by
# \`${model.program} completions bash\`. Load it with:
#   source <(${model.program} completions bash)
# or save it as ~/.local/share/bash-completion/completions/${model.program}

${functions.join("\n")}

# Prints the values one per line; @queues and @schedules are asked of the program itself.
${fn}_expand() {
  local program="$1" db="$2" value
  shift 2
  for value in "$@"; do
    case "$value" in
      @*) "$program" \${db:+--db "$db"} __complete "\${value#@}" 2>/dev/null ;;
      *) printf '%s\\n' "$value" ;;
    esac
  done
}

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word expect="" db="" args=0 i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ -n "$expect" ]]; then
      [[ "$expect" == "--db" ]] && db="$word"
      expect=""
      continue
    fi
    case "$word" in
      -*=*) ;;
      -*)
        if [[ " $(${fn}_value_options "$path") " == *[[:space:]]$word[[:space:]]* ]]; then
          expect="$word"
        fi
        ;;
      *)
        if [[ " $(${fn}_commands "$path") " == *[[:space:]]$word[[:space:]]* ]]; then
          path="\${path:+$path }$word"
          args=0
        else
          args=$((args + 1))
        fi
        ;;
    esac
  done
  local candidates
  if [[ -n "$expect" ]]; then
    candidates="$(${fn}_expand "\${COMP_WORDS[0]}" "$db" $(${fn}_option_values "$path|$expect"))"
    if [[ -z "$candidates" ]]; then
      COMPREPLY=($(compgen -f -- "$cur"))
      return
    fi
  elif [[ "$cur" == -* ]]; then
    candidates="$(${fn}_options "$path")"
  else
    candidates="$(${fn}_commands "$path") $(${fn}_expand "\${COMP_WORDS[0]}" "$db" $(${fn}_argument_values "$path|$args"))"
  fi
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}

complete -F ${fn} ${model.program}
`;
}
