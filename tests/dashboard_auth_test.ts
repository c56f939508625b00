import assert from "node:assert/strict";
import {
  checkRequest,
  generateToken,
  isLoopbackHost,
  isValidToken,
  sameSecret,
  startDashboard,
} from "../src/dashboard/mod.ts";
import { APP_JS } from "../src/dashboard/app_js.ts";
import type { QueueError } from "../src/core/errors.ts";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import { tempHome } from "./helpers.ts";
import { newJob, post, rawGet, request, withDashboard } from "./dashboard_helpers.ts";

function check(url: string, init: RequestInit = {}, token: string | null = null) {
  const req = new Request(url, init);
  return checkRequest(req, new URL(req.url), token);
}

Deno.test("auth: loopback hosts", () => {
  for (const host of ["127.0.0.1", "127.3.2.1", "localhost", "LOCALHOST", "::1", "[::1]"]) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com", "128.0.0.1"]) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

Deno.test("auth: tokens match only when equal, whatever their lengths and contents", () => {
  const token = generateToken();
  assert.ok(sameSecret(token, token));
  assert.ok(sameSecret(token, String(token)), "a copy, not the same string object");
  const near = [
    "",
    token.slice(0, -1),
    token + "x",
    token + "\0",
    "x" + token.slice(1),
    token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"),
    token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(),
    token.repeat(40),
    "é".repeat(16),
  ];
  for (const given of near) assert.ok(!sameSecret(given, token), JSON.stringify(given));
  assert.ok(sameSecret("é-ünïcödé", "é-ünïcödé"));
  assert.ok(isValidToken(token));
  for (const bad of ["short", "has space inside", "tab\tinside", "é".repeat(10), "x".repeat(201)]) {
    assert.ok(!isValidToken(bad), bad);
  }
});

Deno.test("auth: with a token every request must carry it, as a Bearer header or ?token=", () => {
  const token = generateToken();
  assert.match(token, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(generateToken(), token);
  const url = "http://10.0.0.5:8787/api/status";
  assert.equal(check(url, {}, token)?.status, 401);
  assert.match(check(url, {}, token)?.error ?? "", /token is required/);
  assert.equal(check(url, { headers: { authorization: "Bearer wrong" } }, token)?.status, 401);
  assert.equal(check(`${url}?token=wrong`, {}, token)?.status, 401);
  assert.equal(check(`${url}?token=${token}x`, {}, token)?.status, 401);
  assert.equal(check(url, { headers: { authorization: `Bearer ${token}` } }, token), null);
  assert.equal(check(`${url}?token=${token}`, {}, token), null);
  assert.equal(check("http://10.0.0.5:8787/", {}, token)?.status, 401, "the page too");
  assert.equal(check("http://10.0.0.5:8787/metrics", {}, token)?.status, 401, "and /metrics");
});

Deno.test("auth: without a token only loopback Host names are answered (no DNS rebinding)", () => {
  assert.equal(check("http://127.0.0.1:8787/api/status"), null);
  assert.equal(check("http://localhost:8787/api/status"), null);
  assert.equal(check("http://[::1]:8787/api/status"), null);
  const rebound = check("http://attacker.example:8787/api/status");
  assert.equal(rebound?.status, 403);
  assert.match(rebound?.error ?? "", /Host "attacker.example:8787" is not allowed/);
});

Deno.test("auth: changes must come from the dashboard's own origin", () => {
  const url = "http://127.0.0.1:8787/api/jobs/x/retry";
  const same = { origin: "http://127.0.0.1:8787", "sec-fetch-site": "same-origin" };
  assert.equal(check(url, { method: "POST", headers: same }), null);
  assert.equal(check(url, { method: "POST" }), null, "no browser headers: curl, scripts");
  const crossSite = check(url, { method: "POST", headers: { "sec-fetch-site": "cross-site" } });
  assert.equal(crossSite?.status, 403);
  assert.equal(
    check(url, { method: "POST", headers: { "sec-fetch-site": "same-site" } })?.status,
    403,
  );
  const foreign = check(url, { method: "POST", headers: { origin: "http://evil.example" } });
  assert.equal(foreign?.status, 403);
  assert.match(foreign?.error ?? "", /origin "http:\/\/evil.example"/);
  assert.equal(check(url, { method: "POST", headers: { origin: "null" } })?.status, 403);
  assert.equal(
    check(url, { method: "GET", headers: { "sec-fetch-site": "cross-site" } }),
    null,
    "reads are not changes",
  );
});

Deno.test("server: a token forced on 127.0.0.1 is required on every request", async () => {
  const token = "s3cret-token-for-tests";
  await withDashboard(async ({ store, base, dashboard }) => {
    await store.enqueue([newJob("j")]);
    assert.equal(dashboard.token, token);
    assert.equal(dashboard.url, `${base}/?token=${token}`);
    for (const path of ["/", "/app.js", "/app.css", "/metrics", "/api/status", "/api/jobs/j"]) {
      const reply = await request(`${base}${path}`);
      assert.equal(reply.status, 401, path);
      assert.match(reply.body.error, /token is required/, path);
      assert.equal(reply.headers.get("www-authenticate"), 'Bearer realm="queuectl"');
    }
    assert.equal((await post(base, "/api/jobs/j/cancel")).status, 401);
    assert.equal((await store.getJob("j"))?.state, "pending", "refused requests change nothing");
    const page = await request(`${base}/?token=${token}`);
    assert.equal(page.status, 200);
    assert.match(
      page.body,
      new RegExp(`src="/app\\.js\\?token=${token}"`),
      "assets keep the token",
    );
    const byHeader = await request(`${base}/?token=forged`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.match(byHeader.body, new RegExp(`href="/app\\.css\\?token=${token}"`), "the real one");
    const status = await request(`${base}/api/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(status.status, 200);
    assert.equal(status.body.jobs.pending, 1);
    const cancel = await request(`${base}/api/jobs/j/cancel?token=${token}`, { method: "POST" });
    assert.equal(cancel.status, 200);
    assert.equal((await store.getJob("j"))?.state, "cancelled");
  }, { token });
});

Deno.test("server: a token is generated when none is given, on loopback too", async () => {
  const { db, cleanup } = await tempHome();
  const store = openSqliteStore(db);
  try {
    for (const host of ["127.0.0.1", "0.0.0.0"]) {
      const dashboard = await startDashboard(store, { host, port: 0 });
      try {
        const base = `http://127.0.0.1:${dashboard.port}`;
        assert.match(dashboard.token ?? "", /^[A-Za-z0-9_-]{32}$/, host);
        assert.match(dashboard.url, new RegExp(`\\?token=${dashboard.token}$`));
        assert.equal((await request(`${base}/api/status`)).status, 401, host);
        assert.equal((await request(`${base}/api/status?token=${dashboard.token}`)).status, 200);
      } finally {
        await dashboard.shutdown();
      }
    }
    for (const host of ["0.0.0.0", "::", "192.0.2.1"]) {
      await assert.rejects(
        startDashboard(store, { host, port: 0, token: null }),
        (error: QueueError) =>
          error.kind === "invalid" &&
          /--no-token is only allowed on a loopback/.test(error.message),
        host,
      );
    }
  } finally {
    await store.close();
    await cleanup();
  }
});

Deno.test("server: a change from another origin is refused even with the right token", async () => {
  const token = "known-to-the-attacker";
  await withDashboard(async ({ store, base, dashboard }) => {
    await store.enqueue([newJob("keep"), newJob("dead", "exit 1")]);
    const foreign: Record<string, string>[] = [
      { origin: "http://evil.example", "sec-fetch-site": "cross-site" },
      { origin: "http://evil.example" },
      { origin: "null" },
      { "sec-fetch-site": "cross-site" },
      // Another port on this machine: same site, but not the dashboard's page.
      { origin: `http://127.0.0.1:${dashboard.port + 1}`, "sec-fetch-site": "same-site" },
    ];
    for (const headers of foreign) {
      for (const path of ["/api/jobs/keep/cancel", "/api/jobs/dead/retry", "/api/dlq/retry"]) {
        for (
          const init of [
            { headers: { ...headers, authorization: `Bearer ${token}` } },
            { headers, query: `?token=${token}` },
          ]
        ) {
          const reply = await request(`${base}${path}${"query" in init ? init.query : ""}`, {
            method: "POST",
            headers: { ...init.headers, "content-type": "application/json" },
            body: JSON.stringify({ all: true }),
          });
          assert.equal(reply.status, 403, `${path} ${JSON.stringify(init)}`);
          assert.match(reply.body.error, /changes are only accepted from the dashboard's own page/);
        }
      }
    }
    assert.equal((await store.getJob("keep"))?.state, "pending", "nothing was cancelled");
    const own = await request(`${base}/api/jobs/keep/cancel`, {
      method: "POST",
      headers: { origin: base, "sec-fetch-site": "same-origin", authorization: `Bearer ${token}` },
    });
    assert.equal(own.status, 200, "the dashboard's own page may");
    assert.equal((await store.getJob("keep"))?.state, "cancelled");
  }, { token });
});

Deno.test("server: the page and assets carry a strict CSP; the script never parses HTML", async () => {
  await withDashboard(async ({ base }) => {
    const page = await request(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.doesNotMatch(page.body, /\?token=/, "no token, no token in asset URLs");
    const script = await request(`${base}/app.js`);
    assert.equal(script.body, APP_JS);
    for (
      const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]
    ) {
      assert.ok(!APP_JS.includes(sink), `app.js uses ${sink}`);
    }
    assert.equal((await request(`${base}/`, { method: "POST" })).status, 405);
  });
});

Deno.test("server: a rebound host name reaching 127.0.0.1 is refused", async () => {
  await withDashboard(async ({ dashboard }) => {
    const evil = await rawGet(dashboard.port, "/api/status", `evil.example:${dashboard.port}`);
    assert.match(evil, /^HTTP\/1\.1 403/);
    assert.match(evil, /Host \\"evil.example:\d+\\" is not allowed/);
    const local = await rawGet(dashboard.port, "/api/status", `localhost:${dashboard.port}`);
    assert.match(local, /^HTTP\/1\.1 200/);
  });
});
