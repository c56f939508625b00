/**
 * The PowerShell completion script (Windows PowerShell 5.1 and PowerShell 7):
 * a native argument completer doing the same walk as bash's.
 * @module
 */

import type { CompletionModel } from "./model.ts";
import { lookups, sq } from "./tables.ts";

/** Renders the PowerShell script for `model`. */
export function powershellScript(model: CompletionModel): string {
  const tables = lookups(model).map(({ name, entries }) => {
    const variable = name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
    return [
      `$${variable} = @{`,
      ...entries.map(([key, values]) =>
        `    ${sq(key, "''")} = @(${values.map((v) => sq(v, "''")).join(", ")})`
      ),
      "}",
    ].join("\n");
  });
  return `# PowerShell completion for ${model.program}, generated from its command tree by
# \`${model.program} completions powershell\`. Load it with:
#   ${model.program} completions powershell | Out-String | Invoke-Expression
# or add that line to your $PROFILE.

Register-ArgumentCompleter -Native -CommandName '${model.program}', '${model.program}.exe' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
${tables.map((t) => t.replace(/^/gm, "    ")).join("\n")}

    function Get-Values($program, $db, $names) {
        foreach ($value in $names) {
            if ($value -like '@*') {
                $dbArgs = if ($db) { @('--db', $db) } else { @() }
                & $program @dbArgs __complete $value.Substring(1) 2>$null
            } else {
                $value
            }
        }
    }

    $elements = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -le $cursorPosition } |
        ForEach-Object { $_.Extent.Text })
    if ($wordToComplete -ne '' -and $elements.Count -gt 1) {
        $elements = @($elements[0..($elements.Count - 2)])
    }
    $program = $elements[0]
    $path = ''
    $expect = ''
    $db = ''
    $argIndex = 0
    foreach ($word in @($elements | Select-Object -Skip 1)) {
        if ($expect) {
            if ($expect -eq '--db') { $db = $word }
            $expect = ''
            continue
        }
        if ($word -like '-*=*') { continue }
        if ($word -like '-*') {
            if (@($valueOptions[$path]) -contains $word) { $expect = $word }
        } elseif (@($commands[$path]) -contains $word) {
            $path = ("$path $word").Trim()
            $argIndex = 0
        } else {
            $argIndex++
        }
    }
    if ($expect) {
        $candidates = @(Get-Values $program $db @($optionValues["$path|$expect"]))
    } elseif ($wordToComplete -like '-*') {
        $candidates = @($options[$path])
    } else {
        $candidates = @($commands[$path]) + @(Get-Values $program $db @($argumentValues["$path|$argIndex"]))
    }
    $candidates | Where-Object { $_ -and $_ -like "$wordToComplete*" } | Select-Object -Unique |
        ForEach-Object { [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_) }
}
`;
}
