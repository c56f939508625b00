// Pure parts of the worker runtime: shell argument lists, self-spawn, output tail.
import assert from "node:assert/strict";
import { readSupervisorPipe, WakeSignal } from "../src/worker/wake.ts";
import { groupMembers, shellInvocation, windowsKillTree } from "../src/worker/shell.ts";
import { PERMISSION_FLAGS, selfCommand } from "../src/worker/self_command.ts";
import { TailBuffer } from "../src/worker/runner.ts";

Deno.test("shell: Unix runs /bin/sh -c", () => {
  assert.deepEqual(shellInvocation("echo 'a b'", null, "linux"), {
    program: "/bin/sh",
    args: ["-c", "echo 'a b'"],
    windowsRawArguments: false,
  });
  assert.deepEqual(shellInvocation("ls", "bash", "darwin").args, ["-c", "ls"]);
  assert.equal(shellInvocation("ls", "bash", "darwin").program, "bash");
});

Deno.test("shell: Windows hands cmd.exe its line verbatim", () => {
  assert.deepEqual(shellInvocation('echo "a b" & dir', null, "windows"), {
    program: "cmd.exe",
    args: ['/d /s /c "echo "a b" & dir"'],
    windowsRawArguments: true,
  });
});

Deno.test("shell: PowerShell gets -NoProfile -NonInteractive -Command", () => {
  for (const shell of ["pwsh", "powershell", "C:\\Program Files\\PowerShell\\7\\pwsh.exe"]) {
    assert.deepEqual(shellInvocation("Get-Date; exit 3", shell, "windows"), {
      program: shell,
      args: ["-NoProfile", "-NonInteractive", "-Command", "Get-Date; exit 3"],
      windowsRawArguments: false,
    });
  }
});

Deno.test("shell: Windows kills a tree with taskkill /T /F", () => {
  assert.deepEqual(windowsKillTree(4242), {
    program: "taskkill",
    args: ["/T", "/F", "/PID", "4242"],
  });
});

Deno.test("self command: under deno run, the same permissions, config and main module", () => {
  const command = selfCommand(["worker", "run", "--id", "w1"], {
    execPath: "/usr/bin/deno",
    standalone: false,
    mainModule: "file:///src/queuectl/src/main.ts",
    config: "file:///src/queuectl/deno.json",
  });
  assert.deepEqual(command, {
    program: "/usr/bin/deno",
    args: [
      "run",
      "--quiet",
      ...PERMISSION_FLAGS,
      "--config",
      "/src/queuectl/deno.json",
      "/src/queuectl/src/main.ts",
      "worker",
      "run",
      "--id",
      "w1",
    ],
  });
  assert.ok(!PERMISSION_FLAGS.includes("-A") && !PERMISSION_FLAGS.includes("--allow-all"));
});

Deno.test("self command: a compiled binary runs itself alone", () => {
  assert.deepEqual(
    selfCommand(["worker", "run"], {
      execPath: "C:\\tools\\queuectl.exe",
      standalone: true,
      mainModule: "file:///C:/snapshot/main.ts",
      config: null,
    }),
    { program: "C:\\tools\\queuectl.exe", args: ["worker", "run"] },
  );
});

Deno.test("self command: Windows file URLs become drive paths", () => {
  const command = selfCommand([], {
    execPath: "C:\\deno.exe",
    standalone: false,
    mainModule: "file:///C:/Users/me/queuectl/src/main.ts",
    config: "file:///C:/Users/me/queuectl/deno.json",
  });
  assert.ok(command.args.includes("C:/Users/me/queuectl/src/main.ts"));
  assert.ok(command.args.includes("C:/Users/me/queuectl/deno.json"));
});

Deno.test("tail buffer keeps the last bytes and marks the cut", () => {
  const buffer = new TailBuffer(10);
  const encoder = new TextEncoder();
  buffer.push(encoder.encode("0123456789"));
  assert.equal(new TextDecoder().decode(buffer.bytes()), "0123456789");
  buffer.push(encoder.encode("abcdef"));
  buffer.push(encoder.encode("XY"));
  assert.equal(
    new TextDecoder().decode(buffer.bytes()),
    "[queuectl: 8 earlier bytes cut; the last 10 are kept]\n89abcdefXY",
  );
});

Deno.test("shell: group members are read from ps output", () => {
  const ps = "    1     1\n  200   200\n  201   200\n  305   200\n  306   306\n";
  assert.deepEqual(groupMembers(ps, 200), [200, 201, 305]);
  assert.deepEqual(groupMembers("", 200), []);
});

Deno.test("wake: a wake-up during a claim ends the next wait at once; none waits its time", async () => {
  const wakes = new WakeSignal();
  wakes.markSeen(); // a claim starts
  assert.equal(wakes.hasChanged(), false);
  assert.equal(await wakes.wait(20), false, "no wake-up: the wait ran out");
  wakes.markSeen();
  wakes.wake(); // arrives while the worker claims
  assert.equal(wakes.hasChanged(), true, "seen between jobs");
  assert.equal(await wakes.wait(60_000), true, "seen at once by the next wait");
  const waiting = wakes.wait(60_000);
  wakes.wake();
  assert.equal(await waiting, true);
  wakes.markSeen();
  wakes.wake();
  wakes.wake(); // several wake-ups before a wait end one wait
  assert.equal(await wakes.wait(60_000), true);
  assert.equal(await wakes.wait(20), false, "and are taken once");
  const abort = new AbortController();
  const aborted = wakes.wait(60_000, abort.signal);
  abort.abort();
  assert.equal(await aborted, false);
});

Deno.test("wake: the supervisor's pipe: wake lines wake, a stop line or its end stops", async () => {
  const read = async (chunks: string[]) => {
    const events: string[] = [];
    const stream = ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));
    await readSupervisorPipe(stream, {
      onWake: () => events.push("wake"),
      onStop: () => events.push("stop"),
    });
    return events;
  };
  assert.deepEqual(await read(["wa", "ke\nwake\n", "stop\nwake\n"]), ["wake", "wake", "stop"]);
  assert.deepEqual(await read(["wake\n"]), ["wake", "stop"], "the supervisor is gone");
  assert.deepEqual(await read([]), ["stop"]);
});

Deno.test("worker run: its flags are read without the command tree, and nothing else is taken", async () => {
  const { parseRunFlags } = await import("../src/cli/worker_run.ts");
  assert.deepEqual(
    parseRunFlags([
      "--id",
      "s/w1",
      "--db",
      "x.db",
      "--group-leader",
      "--name",
      "w1",
      "--journal",
      "j",
    ]),
    { id: "s/w1", db: "x.db", groupLeader: true, name: "w1", journal: "j" },
  );
  assert.throws(() => parseRunFlags(["--id", "a", "--bogus"]), /unexpected argument "--bogus"/);
  assert.throws(() => parseRunFlags(["--db", "x.db"]), /--id is required/);
  assert.throws(() => parseRunFlags(["--id"]), /unexpected argument "--id"/);
});
