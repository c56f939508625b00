// Unix only (unixTest): the jobs are sh commands and the CLI is stopped with SIGTERM; Windows
// runs tests/windows/ instead.
import assert from "node:assert/strict";
import { cli, unixTest } from "./helpers.ts";
import { newJob, post, request, runWorkers, withDashboard } from "./dashboard_helpers.ts";

unixTest(
  "api: status has the counts and workers of `status --json`, plus the live workers",
  async () => {
    await withDashboard(async ({ home, store, base }) => {
      await store.enqueue([newJob("ok"), newJob("bad", "exit 4"), newJob("later", "true")]);
      await store.cancel("later");
      await runWorkers(home);
      await store.enqueue([newJob("waiting")]);
      await store.heartbeat({
        id: "w-1",
        kind: "worker",
        host: "box",
        pid: 4242,
        supervisor: null,
        currentJob: "waiting",
        leaseMs: 30_000,
      });
      const { status, body } = await request(`${base}/api/status`);
      assert.equal(status, 200);
      assert.deepEqual(body.jobs, {
        blocked: 0,
        pending: 1,
        processing: 0,
        completed: 1,
        failed: 0,
        dead: 1,
        cancelled: 1,
      });
      assert.equal(body.workers, 1);
      assert.equal(body.busy_workers, 1);
      assert.equal(body.live_workers.length, 1);
      assert.equal(body.live_workers[0].id, "w-1");
      assert.equal(body.live_workers[0].current_job, "waiting");
      assert.equal(body.live_workers[0].pid, 4242);
      const fromCli = JSON.parse((await cli(home, ["status", "--json"])).stdout);
      const { live_workers: _, oldest_pending_seconds: age, ...rest } = body;
      const { oldest_pending_seconds: cliAge, ...cliRest } = fromCli;
      assert.deepEqual(rest, cliRest, "same shape and figures as the CLI");
      assert.ok(typeof age === "number" && typeof cliAge === "number");
    });
  },
);

unixTest(
  "api: jobs are listed newest first, filtered by state and paged like `list --json`",
  async () => {
    await withDashboard(async ({ home, store, base }) => {
      for (let i = 1; i <= 7; i++) await store.enqueue([newJob(`j${i}`)]);
      await store.cancel("j2");
      await store.cancel("j5");
      const ids = async (query: string) => {
        const { status, body } = await request(`${base}/api/jobs${query}`);
        assert.equal(status, 200, JSON.stringify(body));
        return { ids: body.jobs.map((job: { id: string }) => job.id), total: body.total, body };
      };
      assert.deepEqual(await ids("?limit=3").then((r) => [r.ids, r.total]), [
        ["j7", "j6", "j5"],
        7,
      ]);
      assert.deepEqual((await ids("?limit=3&offset=3")).ids, ["j4", "j3", "j2"]);
      assert.deepEqual((await ids("?limit=3&offset=6")).ids, ["j1"]);
      assert.deepEqual((await ids("?limit=3&offset=9")).ids, []);
      const cancelled = await ids("?state=cancelled");
      assert.deepEqual([cancelled.ids, cancelled.total], [["j5", "j2"], 2]);
      assert.equal(cancelled.body.state, "cancelled");
      assert.equal(cancelled.body.limit, 50, "default page size");
      const fromCli = JSON.parse((await cli(home, ["list", "--json", "--limit", "3"])).stdout);
      assert.deepEqual((await ids("?limit=3")).body.jobs, fromCli, "same JSON as the CLI");
    });
  },
);

unixTest(
  "api: a job with every attempt and its logs, as `show --json` and `logs --json`",
  async () => {
    await withDashboard(async ({ home, store, base }) => {
      await store.setConfig("backoff-base", "1"); // retry after 1 s
      const command = `echo "out of run $QUEUECTL_ATTEMPT"; echo 'err line' >&2; exit 3`;
      await store.enqueue([newJob("talk", command, { maxRetries: 1 })]);
      await runWorkers(home);
      const { status, body } = await request(`${base}/api/jobs/talk`);
      assert.equal(status, 200);
      assert.equal(body.command, command);
      assert.equal(body.state, "dead");
      assert.deepEqual(body.history.map((a: { outcome: string }) => a.outcome), [
        "failed",
        "failed",
      ]);
      assert.deepEqual(body.history.map((a: { exit_code: number }) => a.exit_code), [3, 3]);
      assert.equal(body.history[0].stdout_bytes, "out of run 1\n".length);
      assert.deepEqual(body, JSON.parse((await cli(home, ["show", "--json", "talk"])).stdout));
      const logs = await request(`${base}/api/jobs/talk/logs`);
      assert.equal(logs.status, 200);
      assert.deepEqual(logs.body, {
        id: "talk",
        attempt: 2,
        stdout: "out of run 2\n",
        stderr: "err line\n",
      });
      assert.deepEqual(logs.body, JSON.parse((await cli(home, ["logs", "--json", "talk"])).stdout));
      const first = await request(`${base}/api/jobs/talk/logs?attempt=1`);
      assert.equal(first.body.stdout, "out of run 1\n");
      const missing = await request(`${base}/api/jobs/talk/logs?attempt=3`);
      assert.deepEqual([missing.status, missing.body], [404, {
        error: 'Job "talk" has no attempt 3',
      }]);
      await store.enqueue([newJob("never", "true", { runAt: Date.now() + 3_600_000 })]);
      const never = await request(`${base}/api/jobs/never/logs`);
      assert.deepEqual([never.status, never.body], [404, { error: 'Job "never" has not run yet' }]);
    });
  },
);

unixTest("api: retry and cancel change the Store as `dlq retry` and `cancel` do", async () => {
  await withDashboard(async ({ home, store, base }) => {
    await store.enqueue([newJob("doomed", "exit 1"), newJob("done", "true")]);
    await runWorkers(home);
    await store.enqueue([newJob("queued"), newJob("other")]);
    assert.equal((await store.getJob("doomed"))?.state, "dead");

    const retried = await post(base, "/api/jobs/doomed/retry");
    assert.deepEqual([retried.status, retried.body], [200, { retried: ["doomed"] }]);
    const back = await store.getJob("doomed");
    assert.equal(back?.state, "pending");
    assert.equal(back?.attempts, 0);
    const again = await post(base, "/api/jobs/doomed/retry");
    assert.equal(again.status, 409);
    assert.match(again.body.error, /"doomed" is pending, not dead/);

    const cancelled = await post(base, "/api/jobs/queued/cancel");
    assert.deepEqual(cancelled.body, {
      cascaded: [],
      id: "queued",
      previous_state: "pending",
      state: "cancelled",
    });
    assert.equal((await store.getJob("queued"))?.state, "cancelled");
    const late = await post(base, "/api/jobs/done/cancel");
    assert.equal(late.status, 409);
    assert.match(late.body.error, /already completed/);

    await runWorkers(home); // doomed dies again
    assert.equal((await store.getJob("doomed"))?.state, "dead");
    const all = await post(base, "/api/dlq/retry", { all: true });
    assert.deepEqual(all.body, { retried: ["doomed"] });
    assert.equal((await store.counts()).dead, 0);
    const bad = await post(base, "/api/dlq/retry", { all: "yes" });
    assert.equal(bad.status, 400);
  });
});

unixTest("api: bad ids are 404 JSON, bad parameters 400 JSON, wrong methods 405", async () => {
  await withDashboard(async ({ store, base }) => {
    await store.enqueue([newJob("a/b c?")]);
    const weird = await request(`${base}/api/jobs/${encodeURIComponent("a/b c?")}`);
    assert.equal(weird.status, 200, "ids are one URL-encoded path segment");
    assert.equal(weird.body.id, "a/b c?");
    const cases: [string, number, RegExp][] = [
      ["/api/jobs/nope", 404, /No job with id "nope"/],
      ["/api/jobs/nope/logs", 404, /No job with id "nope"/],
      ["/api/jobs/%E0%A4%A", 400, /not valid URL encoding/],
      ["/api/jobs?state=bogus", 400, /Unknown state "bogus"; valid states: blocked, pending, /],
      ["/api/jobs?limit=0", 400, /limit must be a whole number from 1 to 500, got "0"/],
      ["/api/jobs?limit=abc", 400, /limit must be/],
      ["/api/jobs?limit=501", 400, /limit must be/],
      ["/api/jobs?offset=-1", 400, /offset must be/],
      ["/api/jobs/a%2Fb%20c%3F/logs?attempt=x", 400, /attempt must be/],
      ["/api/metrics?since=abc", 400, /since must be a duration .* got "abc"/],
      ["/api/metrics?since=31d", 400, /since must be/],
      ["/api/nothing", 404, /No API route/],
      ["/nothing", 404, /Nothing at/],
    ];
    for (const [path, status, pattern] of cases) {
      const reply = await request(`${base}${path}`);
      assert.equal(reply.status, status, path);
      assert.match(reply.headers.get("content-type") ?? "", /^application\/json/, path);
      assert.match(reply.body.error, pattern, path);
    }
    const notFound = await post(base, "/api/jobs/nope/retry");
    assert.deepEqual([notFound.status, notFound.body], [404, { error: 'No job with id "nope"' }]);
    assert.equal((await post(base, "/api/jobs/nope/cancel")).status, 404);
    const get = await request(`${base}/api/jobs/a%2Fb%20c%3F/cancel`);
    assert.equal(get.status, 405, "a GET never changes anything");
    assert.equal(get.headers.get("allow"), "POST");
    assert.equal((await store.getJob("a/b c?"))?.state, "pending");
  });
});

unixTest("api: metrics are `metrics --json` for the window asked", async () => {
  await withDashboard(async ({ home, store, base }) => {
    await store.enqueue([newJob("m1"), newJob("m2"), newJob("m3", "exit 2")]);
    await runWorkers(home);
    const { status, body } = await request(`${base}/api/metrics?since=15m`);
    assert.equal(status, 200);
    assert.equal(body.window_seconds, 900);
    assert.equal(body.completed, 2);
    assert.equal(body.failed, 1);
    assert.equal(body.dead, 1);
    assert.equal(body.success_rate, 0.6667);
    assert.equal(body.run_seconds.count, 3);
    const fromCli = JSON.parse((await cli(home, ["metrics", "--json", "--since", "15m"])).stdout);
    const strip = (json: Record<string, unknown>) => {
      const { since: _s, until: _u, per_minute: _p, oldest_pending_seconds: _o, ...rest } = json;
      return rest;
    };
    assert.deepEqual(strip(body), strip(fromCli));
  });
});
