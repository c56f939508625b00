// The command-line surface, run as a real subprocess on a fresh data dir.
import assert from "node:assert/strict";
import { cli, cliJson, tempHome, unixOnly } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function snapshot(home: string): Promise<string> {
  const jobs = await cli(home, ["list", "--json", "--limit", "100000"]);
  const config = await cli(home, ["config", "get", "--json"]);
  return jobs.stdout + config.stdout;
}

Deno.test({
  name: "cli: enqueue in all three forms, then read it back",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const json = await cli(home, [
        "enqueue",
        '{"id":"a","command":"echo a","max_retries":1,"priority":4}',
      ]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.stdout, "a\n");

      const flags = await cli(home, [
        "enqueue",
        "-c",
        "echo b",
        "--id",
        "b",
        "--max-retries",
        "0",
        "--priority",
        "-2",
        "--timeout",
        "90s",
        "--delay",
        "5m",
      ]);
      assert.equal(flags.code, 0, flags.stderr);
      const generated = await cli(home, ["enqueue", "-c", "echo generated"]);
      assert.match(generated.stdout, /^[0-9a-z]{12}\n$/);

      const file = `${home}/jobs.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify([{ id: "f1", command: "true" }, { id: "f2", command: "true" }]),
      );
      const batch = await cli(home, ["enqueue", "--file", file]);
      assert.equal(batch.stdout, "enqueued 2 jobs\n");
      const ndjson = await cli(home, ["enqueue", "--file", "-", "--json"], {
        stdin:
          '{"id":"n1","command":"true"}\n\n{"id":"n2","command":"true","run_at":"2030-01-01T00:00:00Z"}\n',
      });
      assert.deepEqual(JSON.parse(ndjson.stdout), { enqueued: 2, ids: ["n1", "n2"] });

      const b = await cliJson(home, ["show", "b"]);
      assert.equal(b.max_retries, 0);
      assert.equal(b.priority, -2);
      assert.equal(b.timeout, 90);
      assert.equal(b.state, "pending");
      assert.ok(
        Date.parse(b.run_at as string) - Date.parse(b.created_at as string) >= 299_000,
        "delay 5m",
      );
      assert.deepEqual(b.history, []);
      assert.equal((await cliJson(home, ["show", "n2"])).run_at, "2030-01-01T00:00:00.000Z");
      assert.equal((await cliJson(home, ["show", "a"])).cwd, Deno.cwd());

      const list = await cliJson<{ id: string }[]>(home, ["list"]);
      assert.deepEqual(list.map((j) => j.id).slice(0, 2), ["n2", "n1"], "newest first");
      assert.equal(list.length, 7);
      assert.equal((await cliJson<unknown[]>(home, ["list", "--limit", "3"])).length, 3);
      const table = await cli(home, ["list", "--state", "pending"]);
      assert.match(table.stdout, /^ID +STATE +QUEUE +TRIES +PRI +WHEN +COMMAND\n/);
      assert.match(table.stdout, /\nb +pending +default +0\/1 +-2 +in [45]m/);
      assert.ok(!table.stdout.includes("\x1b["), "no colour when piped");

      const status = await cliJson<{ jobs: Record<string, number>; total: number }>(home, [
        "status",
      ]);
      assert.equal(status.jobs.pending, 7);
      assert.equal(status.total, 7);
      assert.match((await cli(home, ["status"])).stdout, /pending +7/);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "cli: config get/set with kebab and snake keys, and defaults for new jobs",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      assert.equal((await cli(home, ["config", "get", "max-retries"])).stdout, "3\n");
      assert.equal(
        (await cli(home, ["config", "set", "max_retries", "5"])).stdout,
        "max-retries = 5\n",
      );
      assert.equal(
        (await cli(home, ["config", "set", "job-timeout", "2m"])).stdout,
        "job-timeout = 120\n",
      );
      assert.equal((await cli(home, ["config", "set", "shell", "bash"])).code, 0);
      const all = await cliJson(home, ["config", "list"]);
      assert.deepEqual(all, {
        "max-retries": 5,
        "backoff-base": 2,
        "backoff-max": 3600,
        "job-timeout": 120,
        "lease-timeout": 30,
        "poll-interval": 1,
        shell: "bash",
        "retain-completed": 604800,
        "retain-cancelled": 604800,
        "retain-dead": 0,
        "claim-ahead": 8,
      });
      const id = (await cli(home, ["enqueue", "-c", "true"])).stdout.trim();
      const job = await cliJson(home, ["show", id]);
      assert.equal(job.max_retries, 5);
      assert.equal(job.timeout, 120);
      assert.equal((await cli(home, ["config", "set", "shell", "default"])).code, 0);
      assert.equal((await cli(home, ["config", "get", "shell"])).stdout, "default\n");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "cli: cancel, dlq list and dlq retry",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await cli(home, ["enqueue", "-c", "true", "--id", "c1"]);
      assert.equal((await cli(home, ["cancel", "c1"])).stdout, "c1: cancelled\n");
      assert.equal((await cli(home, ["cancel", "c1"])).stdout, "c1: already cancelled\n");
      assert.equal((await cliJson(home, ["show", "c1"])).state, "cancelled");
      assert.equal((await cli(home, ["dlq", "list"])).stdout, "The dead-letter queue is empty.\n");
      assert.deepEqual(await cliJson(home, ["dlq", "list"]), []);
      assert.equal((await cli(home, ["dlq", "retry", "--all"])).stdout, "requeued 0 jobs\n");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "cli: --help, --version, and a fresh data dir created user-only",
  ...opts,
  ...unixOnly,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const version = await cli(home, ["--version"]);
      assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
      for (
        const args of [["--help"], ["enqueue", "--help"], ["worker", "start", "--help"], [
          "dlq",
          "retry",
          "--help",
        ]]
      ) {
        const help = await cli(home, args);
        assert.equal(help.code, 0, args.join(" "));
        assert.match(help.stdout, /Usage: queuectl/);
      }
      const nested = `${home}/fresh/data`;
      assert.equal((await cli(nested, ["status"])).code, 0);
      assert.equal((await Deno.stat(nested)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(`${nested}/queuectl.db`)).mode! & 0o777, 0o600);
      const other = `${home}/elsewhere.db`;
      assert.equal(
        (await cli(home, ["--db", other, "enqueue", "-c", "true", "--id", "x"])).code,
        0,
      );
      assert.equal(
        (await cli(home, ["show", "x", "--db", other])).code,
        0,
        "--db after the command works too",
      );
      assert.equal((await cli(home, ["show", "x"], { env: { QUEUECTL_DB: other } })).code, 0);
      assert.equal((await cli(home, ["show", "x"])).code, 1, "the default database is another one");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "cli: bad input gets one line on stderr, exit 2 (1 for an unknown id), and changes nothing",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      await cli(home, ["enqueue", '{"id":"taken","command":"true"}']);
      await cli(home, ["enqueue", "-c", "true", "--id", "done"]);
      const half = `${home}/half.ndjson`;
      await Deno.writeTextFile(half, '{"id":"h1","command":"true"}\n{"id":"h2","command":""}\n');
      const twoOnALine = `${home}/two.ndjson`;
      await Deno.writeTextFile(twoOnALine, '{"command":"a"}\n{"command":"b"},{"command":"c"}\n');
      const dupFile = `${home}/dup.json`;
      await Deno.writeTextFile(
        dupFile,
        JSON.stringify([{ id: "new1", command: "true" }, { id: "taken", command: "true" }]),
      );
      const before = await snapshot(home);

      const cases: [string[], RegExp, number?][] = [
        [["enqueue", "{not json"], /Malformed JSON/],
        [["enqueue", "[1,2]"], /must be a JSON object/],
        [["enqueue", '"just a string"'], /must be a JSON object/],
        [["enqueue", '{"comand":"x"}'], /Unknown field "comand"/],
        [["enqueue", '{"command":42}'], /command must be a string, got 42/],
        [["enqueue", '{"command":""}'], /command must not be empty/],
        [["enqueue", '{"command":"   "}'], /command must not be empty/],
        [["enqueue", '{"id":7,"command":"x"}'], /id must be a string/],
        [["enqueue", '{"id":"","command":"x"}'], /id must be 1 to 200 characters/],
        [["enqueue", `{"id":"${"x".repeat(201)}","command":"x"}`], /id must be 1 to 200/],
        [["enqueue", '{"command":"x","max_retries":-1}'], /max_retries must be an integer from 0/],
        [["enqueue", '{"command":"x","max_retries":"3"}'], /max_retries must be an integer/],
        [["enqueue", '{"command":"x","max_retries":1.5}'], /max_retries must be an integer/],
        [["enqueue", '{"command":"x","priority":"high"}'], /priority must be an integer/],
        [
          ["enqueue", '{"command":"x","run_at":"tomorrow"}'],
          /run_at must be an ISO-8601 timestamp/,
        ],
        [
          ["enqueue", '{"command":"x","run_at":"2026-01-01T00:00:00Z","delay":5}'],
          /either run_at or delay/,
        ],
        [["enqueue", '{"command":"x","delay":"soon"}'], /delay must be seconds or a duration/],
        [["enqueue", '{"command":"x","delay":-5}'], /delay must be/],
        [["enqueue", '{"command":"x","timeout":0}'], /timeout must be more than 0/],
        [["enqueue", '{"command":"x","cwd":5}'], /cwd must be a directory path/],
        [["enqueue", '{"id":"taken","command":"x"}'], /"taken" already exists/],
        [["enqueue", "-c", "x", "--max-retries", "many"], /--max-retries must be an integer/],
        [["enqueue", "-c", "x", "--priority", "1e3x"], /--priority must be an integer/],
        [["enqueue", "-c", "x", "--delay", "5 parsecs"], /--delay must be seconds or a duration/],
        [["enqueue", "-c", "x", "--run-at", "2026-13-45"], /--run-at must be an ISO-8601/],
        [["enqueue", "-c", "x", "--timeout", "-1"], /--timeout must be more than 0/],
        [["enqueue", "-c", ""], /--command must not be empty/],
        [["enqueue", "--priority", "3", '{"command":"x"}'], /--priority goes with -c/],
        [["enqueue", "-c", "x", '{"command":"y"}'], /exactly one of/],
        [["enqueue"], /exactly one of/],
        [["enqueue", "--file", half], /Line 2: command must not be empty/],
        [["enqueue", "--file", twoOnALine], /Line 2: Malformed JSON/],
        [["enqueue", "--file", dupFile], /"taken" already exists/],
        [["enqueue", "--file", `${home}/missing.json`], /no such file/],
        [["enqueue", "--file", "-"], /No jobs given/],
        [["enqueue", "-c", "x", "--bogus"], /unknown option '--bogus'/],
        [
          ["list", "--state", "finished"],
          /Valid states: blocked, pending, processing, completed, failed, dead, cancelled/,
        ],
        [["list", "--limit", "0"], /whole number from 1/],
        [["list", "--limit", "ten"], /whole number from 1/],
        [["config", "get", "colour"], /Unknown config key "colour"; valid keys: max-retries/],
        [["config", "set", "retries", "3"], /Unknown config key "retries"/],
        [["config", "set", "max-retries", "-2"], /max-retries must be a whole number/],
        [["config", "set", "backoff-base", "0.5"], /backoff-base must be a number from 1/],
        [["config", "set", "lease-timeout", "0"], /lease-timeout must be at least 1 seconds/],
        [["config", "set", "shell", "fish"], /shell must be one of/],
        [["config", "set", "max-retries"], /missing required argument 'value'/],
        [["dlq", "retry"], /Give job ids or --all/],
        [["dlq", "retry", "taken"], /"taken" is pending, not dead/],
        [["logs", "taken", "--attempt", "zero"], /whole number from 1/],
        [["frobnicate"], /unknown command 'frobnicate'/],
        [["worker", "start", "--count", "0"], /whole number from 1 to 256/],
        [["show", "nope"], /No job with id "nope"/, 1],
        [["cancel", "nope"], /No job with id "nope"/, 1],
        [["logs", "nope"], /No job with id "nope"/, 1],
        [["dlq", "retry", "nope"], /No job with id "nope"/, 1],
        [["logs", "taken"], /has not run yet/, 1],
      ];
      for (const [args, message, code = 2] of cases) {
        const stdin = args.includes("-") ? "" : undefined;
        const result = await cli(home, args, { stdin });
        const label = `queuectl ${args.join(" ").slice(0, 80)}`;
        assert.equal(result.code, code, `${label}: exit code (stderr: ${result.stderr})`);
        const lines = result.stderr.split("\n").filter((line) => line !== "");
        assert.equal(
          lines.length,
          1,
          `${label}: one line on stderr, got ${JSON.stringify(result.stderr)}`,
        );
        assert.match(lines[0], message, label);
        assert.match(lines[0], /^error: /, label);
        assert.equal(result.stdout, "", `${label}: nothing on stdout`);
      }
      assert.ok(cases.length >= 20);
      assert.equal(await snapshot(home), before, "no bad input changed the stored jobs or config");
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name: "cli: PowerShell's habits: a BOM before a jobs file, and JSON whose quotes were stripped",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const file = `${home}/jobs.ndjson`;
      await Deno.writeTextFile(file, '\uFEFF{"id":"bom","command":"echo hi"}\r\n');
      const bom = await cli(home, ["enqueue", "--file", file]);
      assert.equal(bom.code, 0, bom.stderr);
      assert.equal((await cliJson(home, ["show", "bom"])).command, "echo hi");
      // What Windows PowerShell 5.1 passes for '{"command":"echo hi"}'.
      const stripped = await cli(home, ["enqueue", "{command:echo hi}"]);
      assert.equal(stripped.code, 2);
      assert.match(
        stripped.stderr,
        /^error: Malformed JSON: .*PowerShell 5\.1 removes them .* use -c/,
      );
      assert.equal(stripped.stderr.trim().split("\n").length, 1);
    } finally {
      await cleanup();
    }
  },
});

Deno.test({
  name:
    "cli: under deno task, relative paths and a job's directory mean where the user is (INIT_CWD)",
  ...opts,
  fn: async () => {
    const { home, cleanup } = await tempHome();
    try {
      const user = await Deno.realPath(await Deno.makeTempDir({ dir: home, prefix: "user-" }));
      await Deno.writeTextFile(`${user}/jobs.json`, '[{"id":"from-file","command":"true"}]');
      // The process runs in home (as deno task runs in the project); INIT_CWD says where the user is.
      const env = { INIT_CWD: user };
      const batch = await cli(home, ["enqueue", "--file", "jobs.json"], { cwd: home, env });
      assert.equal(batch.code, 0, batch.stderr);
      assert.equal(
        (await cli(home, ["enqueue", "-c", "pwd", "--id", "here"], { cwd: home, env })).code,
        0,
      );
      assert.equal((await cliJson(home, ["show", "here"])).cwd, user);
      assert.equal((await cliJson(home, ["show", "from-file"])).cwd, user);
    } finally {
      await cleanup();
    }
  },
});
