// Jobs through cmd.exe on Windows: quoting round trips, exit codes, working directories,
// the default home, PowerShell-made job files, and a missing configured shell.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cli, cliJson, tempHome } from "../helpers.ts";
import { drain, enqueue, show, windowsOnly } from "./win.ts";

const printArgs = fileURLToPath(new URL("../fixtures/print_args.ts", import.meta.url));

Deno.test({
  name: "windows: cmd.exe gets the command verbatim; stored command and output are exact",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const text = "héllo wörld ✓ 日本";
      const cases: [string, (id: string) => string][] = [
        ['echo "double quoted" "a b"', () => '"double quoted" "a b"\r\n'],
        ["echo a^&b^|c^<d^>e^^f", () => "a&b|c<d>e^f\r\n"],
        ["echo one& echo two", () => "one\r\ntwo\r\n"],
        ["echo piped | findstr piped", () => "piped \r\n"],
        ["echo %QUEUECTL_JOB_ID% %QUEUECTL_ATTEMPT%", (id) => `${id} 1\r\n`],
        ["echo 100%% %QUEUECTL_NOT_SET%", () => "100%% %QUEUECTL_NOT_SET%\r\n"],
        ["(echo b& echo a)> two.txt & sort < two.txt", () => "a\r\nb\r\n"],
        ["echo a  b   c", () => "a  b   c\r\n"],
        [
          `"${Deno.execPath()}" run --quiet "${printArgs}" "${text}" "a \\"q\\" b"`,
          () => JSON.stringify([text, 'a "q" b']) + "\n",
        ],
      ];
      const ids = cases.map((_, i) => `quote-${i}`);
      const jobs = cases.map(([command], i) => ({ id: ids[i], command, cwd: home }));
      const batch = await cli(home, ["enqueue", "--file", "-"], { stdin: JSON.stringify(jobs) });
      assert.equal(batch.code, 0, batch.stderr);
      await drain(home, 2);
      const listed = await cliJson<{ id: string; command: string; state: string }[]>(home, [
        "list",
        "--limit",
        "100",
      ]);
      for (const [i, [command, expected]] of cases.entries()) {
        const job = listed.find((j) => j.id === ids[i])!;
        assert.equal(job.command, command, "stored command is exact");
        const logs = await cli(home, ["logs", ids[i]]);
        assert.equal(logs.stdout, expected(ids[i]), `output of ${command}`);
        assert.equal(job.state, "completed", `${command}: ${logs.stderr}`);
      }
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: exit codes, exit /b, and a command cmd.exe does not know",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const cases: [string, string, number][] = [
        ["zero", "exit 0", 0],
        ["three", "exit /b 3", 3],
        ["nested", "cmd /c exit 5", 5],
        ["unknown", "no_such_command_for_queuectl", -1],
      ];
      for (const [id, command] of cases) {
        await enqueue(home, "-c", command, "--id", id, "--max-retries", "0", "--cwd", home);
      }
      await drain(home, 1);
      for (const [id, command, code] of cases) {
        const job = await show(home, id);
        if (code === 0) {
          assert.equal(job.state, "completed", `${command}: ${job.last_error}`);
          assert.equal(job.exit_code, 0);
        } else {
          assert.equal(job.state, "dead", command);
          assert.ok(job.exit_code !== null && job.exit_code !== 0, `${command}: non-zero exit`);
          if (code > 0) assert.equal(job.exit_code, code, command);
          assert.match(job.last_error ?? "", new RegExp(`^exit code ${job.exit_code}`));
        }
      }
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: --cwd takes a drive-letter path with spaces; a missing one fails the run",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const spaced = join(await Deno.realPath(home), "dir with spaces");
      await Deno.mkdir(spaced);
      assert.match(spaced, /^[A-Za-z]:\\/, "a drive-letter path");
      await enqueue(home, "-c", "cd", "--id", "here", "--cwd", spaced);
      const missing = join(spaced, "not there");
      await enqueue(home, "-c", "cd", "--id", "gone", "--cwd", missing, "--max-retries", "0");
      await drain(home, 1);
      assert.equal((await show(home, "here")).cwd, spaced);
      const here = await cli(home, ["logs", "here"]);
      assert.equal(here.stdout.toLowerCase(), `${spaced}\r\n`.toLowerCase());
      const gone = await show(home, "gone");
      assert.equal(gone.state, "dead");
      assert.equal(gone.last_error, `working directory not found: ${missing}`);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: the default home is %USERPROFILE%\\.queuectl",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const profile = await Deno.realPath(home);
      const env = { QUEUECTL_HOME: "", USERPROFILE: profile };
      const result = await cli(home, ["enqueue", "-c", "echo hi", "--id", "home"], { env });
      assert.equal(result.code, 0, result.stderr);
      const db = join(profile, ".queuectl", "queuectl.db");
      assert.ok((await Deno.stat(db)).isFile, `${db} exists`);
      const status = await cli(home, ["status", "--json"], { env });
      assert.equal(JSON.parse(status.stdout).jobs.pending, 1);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: --file written by PowerShell (BOM, CRLF line ends) stores exact commands",
  ...windowsOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const ndjson = join(home, "jobs.ndjson");
      await Deno.writeTextFile(
        ndjson,
        '\uFEFF{"id":"n1","command":"echo one"}\r\n{"id":"n2","command":"echo two"}\r\n',
      );
      const array = join(home, "jobs.json");
      await Deno.writeTextFile(array, '\uFEFF[\r\n  {"id":"a1","command":"echo three"}\r\n]\r\n');
      for (const file of [ndjson, array]) {
        const result = await cli(home, ["enqueue", "--file", file]);
        assert.equal(result.code, 0, result.stderr);
      }
      const listed = await cliJson<{ id: string; command: string }[]>(home, ["list"]);
      assert.deepEqual(
        listed.map((j) => [j.id, j.command]).sort(),
        [["a1", "echo three"], ["n1", "echo one"], ["n2", "echo two"]],
      );
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "windows: config shell pwsh where PowerShell 7 is missing fails the run, saying so",
  ...windowsOnly,
  ignore: windowsOnly.ignore || await hasPwsh(),
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      assert.equal((await cli(home, ["config", "set", "shell", "pwsh"])).code, 0);
      await enqueue(home, "-c", "Write-Output hi", "--id", "ps", "--max-retries", "0");
      await drain(home, 1);
      const job = await show(home, "ps");
      assert.equal(job.state, "dead");
      assert.match(job.last_error ?? "", /^could not start pwsh: not found on PATH \(PowerShell 7/);
      assert.equal(job.last_error!.split("\n").length, 1);
    } finally {
      await cleanup();
    }
  },
});

async function hasPwsh(): Promise<boolean> {
  if (Deno.build.os !== "windows") return false;
  const where = await new Deno.Command("where", { args: ["pwsh"], stdout: "null", stderr: "null" })
    .output().catch(() => null);
  return where?.success ?? false;
}
