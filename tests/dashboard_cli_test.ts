import assert from "node:assert/strict";
import { cli, MAIN, PERMISSIONS, tempHome, unixOnly } from "./helpers.ts";

Deno.test("dashboard: bad --port, --host or --token is one line on stderr and exit 2", async () => {
  const { home, cleanup } = await tempHome();
  try {
    const cases: [string[], RegExp][] = [
      [["--port", "99999"], /--port .*Expected a port from 0 to 65535, got "99999"/],
      [["--port", "http"], /--port/],
      [["--host", "bad host!"], /--host .*Expected an IP address or host name, got "bad host!"/],
      [["--token", "short"], /--token .*8 to 200 visible ASCII characters/],
    ];
    for (const [args, pattern] of cases) {
      const result = await cli(home, ["dashboard", ...args]);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.stdout, "");
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(result.stderr, pattern);
    }
  } finally {
    await cleanup();
  }
});

/** Starts `queuectl dashboard <args>` and returns the process and its first stdout lines. */
async function startCli(home: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, "dashboard", "--port", "0", ...args],
    env: { QUEUECTL_HOME: home, NO_COLOR: "1", QUEUECTL_DB: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (!lines.some((line) => line.startsWith("Prometheus:"))) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts);
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  /** Stops it with SIGTERM and returns its exit code and stderr. */
  async function stop(): Promise<{ code: number; stderr: string }> {
    child.kill("SIGTERM");
    const [stderr] = await Promise.all([new Response(child.stderr).text(), drained]);
    return { code: (await child.status).code, stderr };
  }
  return { lines, stop };
}

Deno.test("dashboard: serves until SIGTERM, then exits 0", unixOnly, async () => {
  const { home, cleanup } = await tempHome();
  try {
    assert.equal((await cli(home, ["enqueue", "-c", "true", "--id", "one"])).code, 0);
    const { lines, stop } = await startCli(home, []);
    let stopped: { code: number; stderr: string } | undefined;
    try {
      const url = lines[0]?.match(/^queuectl dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/)?.[1];
      assert.ok(url, `first line names the URL: ${JSON.stringify(lines)}`);
      const status = await (await fetch(`${url}api/status`)).json();
      assert.equal(status.jobs.pending, 1);
      const page = await fetch(url);
      assert.match(await page.text(), /<title>queuectl dashboard<\/title>/);
      stopped = await stop();
    } finally {
      if (!stopped) await stop();
    }
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stderr, "");
  } finally {
    await cleanup();
  }
});

Deno.test(
  "dashboard: off loopback it prints a generated token and requires it",
  unixOnly,
  async () => {
    const { home, cleanup } = await tempHome();
    try {
      const { lines, stop } = await startCli(home, ["--host", "0.0.0.0"]);
      let stopped: { code: number; stderr: string } | undefined;
      try {
        const token = lines.join("\n").match(/^token (\S+) \(generated/m)?.[1];
        assert.ok(token, lines.join("\n"));
        const port = lines[0].match(/:(\d+)\/\?token=/)?.[1];
        assert.ok(port, lines[0]);
        const denied = await fetch(`http://127.0.0.1:${port}/api/status`);
        assert.equal(denied.status, 401);
        await denied.body?.cancel();
        const allowed = await fetch(`http://127.0.0.1:${port}/api/status`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(allowed.status, 200);
        await allowed.body?.cancel();
        stopped = await stop();
      } finally {
        if (!stopped) await stop();
      }
      assert.equal(stopped.code, 0, stopped.stderr);
    } finally {
      await cleanup();
    }
  },
);
