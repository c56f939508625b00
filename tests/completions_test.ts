// Shell completion in real shells: bash (compgen-driven, through the script's own
// function), zsh (the script's function in zsh, and its registration with compinit)
// and fish (its own `complete -C`). PowerShell cannot run here: its script is checked
// as text. `.ci/run` installs zsh and fish from Debian; elsewhere a missing shell
// skips its test with one line, and under CI=true it fails.
import assert from "node:assert/strict";
import { buildProgram } from "../src/cli/mod.ts";
import { completionScript } from "../src/cli/completions.ts";
import { completionModel, staleHints, VALUE_HINTS } from "../src/cli/completion/model.ts";
import { CONFIG_KEYS } from "../src/core/config.ts";
import { JOB_STATES } from "../src/core/types.ts";
import { cli, MAIN, PERMISSIONS, tempHome } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function hasShell(shell: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${shell}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Whether a test needing `shell` runs; says so in one line when it cannot. */
function needs(shell: string): boolean {
  if (hasShell(shell)) return true;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`${shell} is not installed: .ci/run installs it (apt-get install ${shell})`);
  }
  console.log(
    `completions: ${shell} not installed, its test is skipped (apt-get install ${shell})`,
  );
  return false;
}

/**
 * A data dir with a schedule in queue "reports", the script for `shell`, and a
 * `queuectl` on PATH (for the names the scripts ask the program for).
 */
async function setup(shell: string) {
  const { home, cleanup } = await tempHome();
  await cli(home, [
    "schedule",
    "add",
    "nightly",
    "--cron",
    "@daily",
    "-c",
    "true",
    "--queue",
    "reports",
  ]);
  const result = await cli(home, ["completions", shell]);
  assert.equal(result.code, 0, result.stderr);
  const script = `${home}/completion.${shell}`;
  await Deno.writeTextFile(script, result.stdout);
  const bin = `${home}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/queuectl`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run ${PERMISSIONS.join(" ")} "${MAIN}" "$@"\n`,
    { mode: 0o755 },
  );
  const env = {
    PATH: `${bin}:${Deno.env.get("PATH")}`,
    QUEUECTL_HOME: home,
    QUEUECTL_DB: "",
    HOME: home,
    NO_COLOR: "1",
  };
  return { home, script, env, cleanup };
}

async function run(program: string, args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr) + text);
  return text;
}

/** Completion cases: words typed so far (the last is being completed) → what must be offered. */
const CASES: [string[], string[], "exact" | "includes"][] = [
  [["queuectl", "wor"], ["worker"], "exact"],
  [["queuectl", "list", "--state", ""], [...JOB_STATES], "exact"],
  [["queuectl", "list", "--state", "c"], ["completed", "cancelled"], "exact"],
  [["queuectl", "purge", "--state", ""], ["completed", "cancelled", "dead"], "exact"],
  [["queuectl", "config", "set", "retain-"], [
    "retain-completed",
    "retain-cancelled",
    "retain-dead",
  ], "exact"],
  [["queuectl", "config", "get", ""], [...CONFIG_KEYS], "exact"],
  [["queuectl", "worker", ""], ["start", "stop", "list"], "exact"],
  [
    ["queuectl", "--db", "x.db", "worker", "start", "--d"],
    ["--drain", "--detach", "--db"],
    "exact",
  ],
  [["queuectl", "enqueue", "--if"], ["--if-absent"], "exact"],
  [["queuectl", "schedule", "add", "n", "--queue", ""], ["default", "reports"], "exact"],
  [["queuectl", "purge", "--queue", "rep"], ["reports"], "exact"],
  [["queuectl", "schedule", "remove", ""], ["nightly"], "exact"],
  [["queuectl", "completions", "p"], ["powershell"], "exact"],
  [["queuectl", ""], ["enqueue", "purge", "schedule", "completions", "status"], "includes"],
];

function check(words: string[], got: string[], want: string[], how: "exact" | "includes") {
  const label = `completing ${JSON.stringify(words.join(" "))}`;
  if (how === "exact") assert.deepEqual([...new Set(got)].sort(), [...want].sort(), label);
  else for (const word of want) assert.ok(got.includes(word), `${label} offers ${word}: ${got}`);
  assert.ok(!got.includes("run") && !got.includes("__complete"), "hidden commands are not offered");
}

Deno.test({
  name: "completions: bash, through compgen in the script's completion function",
  ...opts,
  ignore: !needs("bash"),
  fn: async () => {
    const { script, env, cleanup } = await setup("bash");
    try {
      for (const [words, want, how] of CASES) {
        const quoted = words.map((w) => `'${w}'`).join(" ");
        const text = await run("bash", [
          "-c",
          `source '${script}' && [[ "$(complete -p queuectl)" == *_queuectl* ]] || exit 9
           COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _queuectl
           printf '%s\\n' "\${COMPREPLY[@]}"`,
        ], env);
        check(words, text.split("\n").filter(Boolean), want, how);
      }
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "completions: zsh, the script's function in zsh and its registration with compinit",
  ...opts,
  ignore: !needs("zsh"),
  fn: async () => {
    const { script, env, cleanup } = await setup("zsh");
    try {
      const registered = await run("zsh", [
        "-f",
        "-c",
        `autoload -U compinit && compinit -u -d "$HOME/.zcompdump" && source '${script}' && print -r -- "$_comps[queuectl]"`,
      ], env);
      assert.equal(registered.trim(), "_queuectl");
      for (const [words, want, how] of CASES) {
        const quoted = words.map((w) => `'${w}'`).join(" ");
        // compadd is zsh's own builtin inside a completion widget; here it reports what it
        // is given, filtered by the word being completed as compadd itself would.
        const text = await run("zsh", [
          "-f",
          "-c",
          `source '${script}'
           compadd() { shift; local w; for w in "$@"; do [[ "$w" == "$PREFIX"* ]] && print -r -- "$w"; done }
           words=(${quoted}); CURRENT=${words.length}; PREFIX="\${words[CURRENT]}"; _queuectl; true`,
        ], env);
        check(words, text.split("\n").filter(Boolean), want, how);
      }
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "completions: fish, through its own complete -C",
  ...opts,
  ignore: !needs("fish"),
  fn: async () => {
    const { script, env, cleanup } = await setup("fish");
    try {
      for (const [words, want, how] of CASES) {
        const line = words.join(" ").replaceAll("'", "\\'");
        const text = await run("fish", [
          "--no-config",
          "-c",
          `source '${script}'; complete -C '${line}'`,
        ], env);
        // fish prints "candidate<TAB>description"; ours have no description.
        check(words, text.split("\n").filter(Boolean).map((l) => l.split("\t")[0]), want, how);
      }
    } finally {
      await cleanup();
    }
  },
});

Deno.test("completions: the PowerShell script registers a native completer with the tree's tables", async () => {
  const script = completionScript(await buildProgram(), "powershell");
  assert.match(
    script,
    /Register-ArgumentCompleter -Native -CommandName 'queuectl', 'queuectl\.exe'/,
  );
  assert.match(script, /\$commands = @\{\n\s+'' = @\('enqueue', 'worker', /);
  assert.match(script, /'worker' = @\('start', 'stop', 'list'\)/);
  assert.match(
    script,
    /'list\|--state' = @\('blocked', 'pending', 'processing', 'completed', 'failed', 'dead', 'cancelled'\)/,
  );
  assert.match(script, /'config set\|0' = @\('max-retries', /);
  assert.match(script, /'purge\|--queue' = @\('@queues'\)/);
  assert.match(script, /& \$program @dbArgs __complete \$value\.Substring\(1\)/);
  assert.match(script, /\[System\.Management\.Automation\.CompletionResult\]::new/);
  assert.ok(!/'worker' = @\([^)]*'run'/.test(script), "hidden commands are left out");
  // Single quotes inside values are doubled, as PowerShell wants.
  assert.equal(
    (script.match(/\{/g) ?? []).length,
    (script.match(/\}/g) ?? []).length,
    "braces balance",
  );
});

Deno.test("completions: every value hint names an option or argument in the tree", async () => {
  const model = completionModel(await buildProgram());
  assert.deepEqual(staleHints(model), []);
  assert.ok(Object.keys(VALUE_HINTS).length > 0);
  assert.deepEqual(model.commands.get("schedule")?.sort(), ["add", "list", "remove", "rm"]);
  assert.ok(!model.commands.get("worker")?.includes("run"), "hidden commands are left out");
});
