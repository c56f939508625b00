import assert from "node:assert/strict";
import { newJob, request, withDashboard } from "./dashboard_helpers.ts";

/** Every header a dashboard response must carry, whatever its status. */
function assertSecured(headers: Headers, what: string): void {
  const csp = headers.get("content-security-policy") ?? "";
  for (
    const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ]
  ) {
    assert.ok(csp.includes(directive), `${what}: CSP has ${directive}: ${csp}`);
  }
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, what);
  assert.equal(headers.get("x-content-type-options"), "nosniff", what);
  assert.equal(headers.get("x-frame-options"), "DENY", what);
  assert.equal(headers.get("referrer-policy"), "no-referrer", what);
  assert.equal(headers.get("cross-origin-resource-policy"), "same-origin", what);
  assert.equal(headers.get("cache-control"), "no-store", what);
  const cors = [...headers.keys()].filter((name) => name.startsWith("access-control-"));
  assert.deepEqual(cors, [], `${what}: no CORS headers`);
}

Deno.test("headers: every response, refusals and errors too, is locked down and has no CORS", async () => {
  const token = "header-test-token";
  await withDashboard(async ({ store, base }) => {
    await store.enqueue([newJob("j")]);
    const auth = { authorization: `Bearer ${token}` };
    const evil = { origin: "http://evil.example", "sec-fetch-site": "cross-site" };
    const cases: [string, string, RequestInit, number][] = [
      ["page", "/", { headers: auth }, 200],
      ["script", "/app.js", { headers: auth }, 200],
      ["stylesheet", "/app.css", { headers: auth }, 200],
      ["metrics", "/metrics", { headers: auth }, 200],
      ["API read", "/api/status", { headers: auth }, 200],
      ["API read from another origin", "/api/jobs/j", { headers: { ...auth, ...evil } }, 200],
      ["no token", "/api/status", {}, 401],
      ["wrong token", "/metrics", { headers: { authorization: "Bearer nope-nope" } }, 401],
      [
        "cross-site change",
        "/api/jobs/j/cancel",
        { method: "POST", headers: { ...auth, ...evil } },
        403,
      ],
      ["unknown page", "/nothing", { headers: auth }, 404],
      ["unknown job", "/api/jobs/nope", { headers: auth }, 404],
      ["bad parameter", "/api/jobs?limit=0", { headers: auth }, 400],
      ["wrong method", "/", { method: "POST", headers: auth }, 405],
      [
        "CORS preflight",
        "/api/jobs/j/cancel",
        {
          method: "OPTIONS",
          headers: {
            origin: "http://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization",
          },
        },
        401,
      ],
      ["CORS preflight with the token", "/api/status", {
        method: "OPTIONS",
        headers: { ...auth, origin: "http://evil.example" },
      }, 403],
    ];
    for (const [what, path, init, status] of cases) {
      const reply = await request(`${base}${path}`, init);
      assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
      assertSecured(reply.headers, what);
    }
    assert.equal((await store.getJob("j"))?.state, "pending", "the cross-site change was refused");
  }, { token });
});
