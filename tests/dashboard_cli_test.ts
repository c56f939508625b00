// Unix only (unixTest): the jobs are sh commands and the CLI is stopped with SIGTERM; Windows
// runs tests/windows/ instead.
import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { cli, cliJson, tempHome, unixTest } from "./helpers.ts";
import {
  bearer,
  type DashboardCli,
  rawGet,
  request,
  startDashboardCli,
} from "./dashboard_helpers.ts";

unixTest("dashboard: bad --port, --host or --token is one line on stderr and exit 2", async () => {
  const { home, cleanup } = await tempHome();
  try {
    const cases: [string[], RegExp][] = [
      [["--port", "99999"], /--port .*Expected a port from 0 to 65535, got "99999"/],
      [["--port", "http"], /--port/],
      [["--host", "bad host!"], /--host .*Expected an IP address or host name, got "bad host!"/],
      [["--token", "short"], /--token .*8 to 200 visible ASCII characters/],
      [["--token", "long-enough-token", "--no-token"], /Use --token or --no-token, not both/],
      [["--no-token", "--token", "long-enough-token"], /Use --token or --no-token, not both/],
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

/** Runs `fn` with a started dashboard CLI; stops it after, and checks it exits 0 quietly. */
async function withCli(
  home: string,
  args: string[],
  fn: (dashboard: DashboardCli) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const dashboard = await startDashboardCli(home, args, env);
  try {
    await fn(dashboard);
  } finally {
    const stopped = await dashboard.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stderr, "");
  }
}

/** The printed URL's token. */
function urlToken(url: string): string {
  const token = new URL(url).searchParams.get("token");
  assert.ok(token, `the URL carries the token: ${url}`);
  return token;
}

unixTest(
  "dashboard: on loopback it requires the token it printed and keeps in dashboard.token",
  async () => {
    const { home, cleanup } = await tempHome();
    try {
      assert.equal((await cli(home, ["enqueue", "-c", "true", "--id", "one"])).code, 0);
      await withCli(home, [], async ({ lines, url, base }) => {
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/, "a ready URL");
        const token = urlToken(url);
        const path = join(home, "dashboard.token");
        assert.equal(Deno.readTextFileSync(path), token, "the same token, alone, in the file");
        if (Deno.build.os !== "windows") assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
        assert.equal(lines[1], `token: new, kept in ${path} (user-only) for restarts and scripts`);
        assert.match(lines[2], /^Prometheus: http:\/\/127\.0\.0\.1:\d+\/metrics \(send the token/);

        for (const path of ["/", "/app.js", "/api/status", "/api/jobs/one", "/metrics"]) {
          const denied = await request(`${base}${path}`);
          assert.equal(denied.status, 401, path);
          assert.match(denied.body.error, /token is required/);
        }
        const wrong = await request(`${base}/api/status`, { headers: bearer(token + "x") });
        assert.deepEqual([wrong.status, wrong.body], [401, { error: "Wrong token" }]);

        const fromFile = Deno.readTextFileSync(path);
        const byHeader = await request(`${base}/api/status`, { headers: bearer(fromFile) });
        assert.equal(byHeader.status, 200);
        assert.equal(byHeader.body.jobs.pending, 1);
        const byQuery = await request(`${base}/api/jobs/one?token=${encodeURIComponent(fromFile)}`);
        assert.equal(byQuery.status, 200);
        assert.equal(byQuery.body.id, "one");
        const metrics = await request(`${base}/metrics`, { headers: bearer(fromFile) });
        assert.equal(metrics.status, 200);
        assert.match(metrics.body, /^queuectl_jobs\{queue="default",state="pending"\} 1$/m);
        const page = await request(url);
        assert.equal(page.status, 200);
        assert.match(page.body, /<title>queuectl dashboard<\/title>/);
      });
    } finally {
      await cleanup();
    }
  },
);

unixTest(
  "dashboard: a restart reuses the token in dashboard.token; deleting the file rotates it",
  async () => {
    const { home, cleanup } = await tempHome();
    try {
      const path = join(home, "dashboard.token");
      let first = "";
      await withCli(home, [], async ({ url }) => {
        first = urlToken(url);
      });
      await withCli(home, [], async ({ url, lines, base }) => {
        assert.equal(urlToken(url), first, "the bookmark still works");
        assert.equal(
          lines[1],
          `token: reused from ${path} (delete that file and restart for a new one)`,
        );
        assert.equal((await request(`${base}/api/status`, { headers: bearer(first) })).status, 200);
      });
      Deno.removeSync(path);
      await withCli(home, [], async ({ url, base }) => {
        const second = urlToken(url);
        assert.notEqual(second, first);
        assert.equal(Deno.readTextFileSync(path), second);
        assert.equal((await request(`${base}/api/status`, { headers: bearer(first) })).status, 401);
      });
    } finally {
      await cleanup();
    }
  },
);

unixTest(
  "dashboard: --token is required instead, for that run only; the file is left alone",
  async () => {
    const { home, cleanup } = await tempHome();
    try {
      const path = join(home, "dashboard.token");
      let kept = "";
      await withCli(home, [], async ({ url }) => {
        kept = urlToken(url);
      });
      const own = "my-own-dashboard-token";
      await withCli(home, ["--token", own], async ({ url, lines, base }) => {
        assert.equal(urlToken(url), own);
        assert.equal(lines[1], `token: from --token, for this run only (${path} unchanged)`);
        assert.equal((await request(`${base}/api/status`, { headers: bearer(own) })).status, 200);
        assert.equal((await request(`${base}/api/status`, { headers: bearer(kept) })).status, 401);
      });
      assert.equal(Deno.readTextFileSync(path), kept);
    } finally {
      await cleanup();
    }
  },
);

unixTest("dashboard: --no-token on a non-loopback host is exit 2 and nothing starts", async () => {
  const { home, cleanup } = await tempHome();
  try {
    for (const host of ["0.0.0.0", "::", "192.0.2.1", "example.com"]) {
      const result = await cli(home, ["dashboard", "--no-token", "--host", host, "--port", "0"]);
      assert.equal(result.code, 2, host);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(
        result.stderr,
        /^error: --no-token is only allowed on a loopback address \(127\.0\.0\.1, ::1, localhost\), not on "/,
      );
    }
    assert.deepEqual([...Deno.readDirSync(home)], [], "no database, no token file");
  } finally {
    await cleanup();
  }
});

unixTest(
  "dashboard: --no-token on loopback needs no token but only answers loopback names",
  async () => {
    const { home, cleanup } = await tempHome();
    try {
      await withCli(home, ["--no-token"], async ({ url, lines, base }) => {
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, "no token in the URL");
        assert.match(lines[1], /^no token \(--no-token\): every user and program on this machine/);
        assert.equal((await request(`${base}/api/status`)).status, 200);
        const port = Number(new URL(base).port);
        const local = await rawGet(port, "/api/status", `localhost:${port}`);
        assert.match(local, /^HTTP\/1\.1 200/, "localhost is loopback");
        const rebound = await rawGet(port, "/api/status", `evil.example:${port}`);
        assert.match(rebound, /^HTTP\/1\.1 403/, "a DNS-rebound name is not");
      });
      assert.deepEqual([...Deno.readDirSync(home)].map((e) => e.name), ["queuectl.db"]);
    } finally {
      await cleanup();
    }
  },
);

unixTest("dashboard: off loopback it requires the token too", async () => {
  const { home, cleanup } = await tempHome();
  try {
    await withCli(home, ["--host", "0.0.0.0"], async ({ url, lines, base }) => {
      assert.match(url, /^http:\/\/0\.0\.0\.0:\d+\/\?token=/);
      assert.ok(lines.includes("listening on 0.0.0.0: reachable from other machines"));
      const token = urlToken(url);
      assert.equal(Deno.readTextFileSync(join(home, "dashboard.token")), token);
      assert.equal((await request(`${base}/api/status`)).status, 401);
      assert.equal((await request(`${base}/api/status`, { headers: bearer(token) })).status, 200);
    });
  } finally {
    await cleanup();
  }
});

/** Starts the dashboard on `db` and checks it serves it with the token of `<home>/dashboard.token`. */
async function checkTokenAtHome(home: string, db: string): Promise<void> {
  await withCli(home, [], async ({ url, base }) => {
    const token = urlToken(url);
    assert.equal(Deno.readTextFileSync(join(home, "dashboard.token")), token);
    const status = await request(`${base}/api/status`, { headers: bearer(token) });
    assert.equal(status.status, 200);
    assert.equal(status.body.database, (await cliJson(home, ["status", "--db", db])).database);
  }, { QUEUECTL_DB: db });
}

unixTest("dashboard: with --db elsewhere the token stays in the local data dir", async () => {
  const { home, cleanup } = await tempHome();
  const other = await tempHome();
  try {
    await checkTokenAtHome(home, join(other.home, "elsewhere.db"));
    assert.deepEqual([...Deno.readDirSync(other.home)].map((e) => e.name), ["elsewhere.db"]);
  } finally {
    await other.cleanup();
    await cleanup();
  }
});

const postgresUrl = Deno.env.get("QUEUECTL_TEST_POSTGRES_URL");

Deno.test({
  name: "dashboard: with --db postgres://… the token stays in the local data dir",
  ignore: !postgresUrl || Deno.build.os === "windows",
  fn: async () => {
    const { home, cleanup } = await tempHome();
    const schema = `qd_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const db = new URL(postgresUrl!);
    db.searchParams.set("schema", schema);
    try {
      await checkTokenAtHome(home, db.href);
    } finally {
      const sql = postgres(postgresUrl!, { onnotice: () => {}, max: 1 });
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.end();
      await cleanup();
    }
  },
});
