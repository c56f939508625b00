// The dashboard's API for named queues, pause/resume, dependencies and live output
// (issue 10): the same Store calls and JSON shapes as the CLI.
import assert from "node:assert/strict";
import { newJob, post, request, withDashboard } from "./dashboard_helpers.ts";

Deno.test("api: queues with counts, pause and resume per queue and for all", async () => {
  await withDashboard(async ({ store, base }) => {
    await store.enqueue([
      newJob("a1", "true", { queue: "alpha" }),
      newJob("a2", "true", { queue: "alpha", after: ["a1"] }),
      newJob("d1"),
    ]);
    await store.setConcurrency("alpha", 2);
    const list = await request(`${base}/api/queues`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.queues.map((q: { name: string }) => q.name), ["alpha", "default"]);
    const alpha = list.body.queues[0];
    assert.deepEqual([alpha.paused, alpha.concurrency], [false, 2]);
    assert.deepEqual([alpha.jobs.pending, alpha.jobs.blocked], [1, 1]);
    assert.equal(list.body.new_queues_paused, false);

    const paused = await post(base, "/api/queues/alpha/pause");
    assert.deepEqual([paused.status, paused.body], [200, { queue: "alpha", paused: true }]);
    const status = await request(`${base}/api/status`);
    assert.deepEqual(status.body.paused_queues, ["alpha"]);
    assert.equal(status.body.jobs.blocked, 1);
    assert.equal(await store.claim("w", 30_000, { queues: ["alpha"] }), null, "paused for real");
    await post(base, "/api/queues/alpha/resume");
    assert.equal((await store.listQueues()).queues[0].paused, false);

    await post(base, "/api/queues/pause");
    const all = await store.listQueues();
    assert.ok(all.newQueuesPaused && all.queues.every((q) => q.paused), "every queue and new ones");
    await post(base, "/api/queues/resume");
    assert.equal((await store.listQueues()).newQueuesPaused, false);

    const bad = await post(base, "/api/queues/bad%20name/pause");
    assert.equal(bad.status, 404);
    assert.match(bad.body.error, /"bad name"/);
    assert.equal(
      (await request(`${base}/api/queues/alpha/pause`)).status,
      405,
      "GET changes nothing",
    );
    assert.equal((await store.listQueues()).queues.some((q) => q.paused), false);
  });
});

Deno.test("api: jobs filtered by queue, and what a blocked job waits for", async () => {
  await withDashboard(async ({ store, base }) => {
    await store.enqueue([
      newJob("build", "exit 1", { queue: "ci" }),
      newJob("test", "true", { queue: "ci", after: ["build"] }),
      newJob("deploy", "true", { after: ["test"] }),
      newJob("other"),
    ]);
    const ci = await request(`${base}/api/jobs?queue=ci`);
    assert.equal(ci.body.total, 2);
    assert.equal(ci.body.queue, "ci");
    assert.deepEqual(ci.body.jobs.map((j: { id: string }) => j.id), ["test", "build"]);
    const blocked = await request(`${base}/api/jobs?queue=ci&state=blocked`);
    assert.deepEqual([blocked.body.total, blocked.body.jobs[0].id], [1, "test"]);
    assert.equal((await request(`${base}/api/jobs?queue=a%20b`)).status, 400);

    await store.claim("w", 30_000);
    await store.fail("build", "w", {
      exitCode: 1,
      error: "exit code 1",
      stdout: new Uint8Array(),
      stderr: new Uint8Array(),
    });
    const deploy = await request(`${base}/api/jobs/deploy`);
    assert.deepEqual(deploy.body.after, ["test"]);
    assert.equal(deploy.body.queue, "default");
    assert.deepEqual(deploy.body.waiting_for, [{ id: "test", state: "blocked" }]);
    assert.equal(deploy.body.blocked_by_dead, "build", "stuck behind a dead job, indirectly");

    const cancelled = await post(base, "/api/jobs/test/cancel");
    assert.deepEqual(cancelled.body.cascaded, ["deploy"]);
  });
});

Deno.test("api: a running job's logs show the output its worker flushed", async () => {
  await withDashboard(async ({ store, base }) => {
    await store.enqueue([newJob("live")]);
    await store.claim("w", 30_000);
    await store.saveOutput("live", "w", {
      stdout: new TextEncoder().encode("so far\n"),
      stderr: new Uint8Array(),
      stdoutTotal: 7,
      stderrTotal: 0,
    });
    const logs = await request(`${base}/api/jobs/live/logs`);
    assert.deepEqual([logs.body.attempt, logs.body.stdout], [1, "so far\n"]);
    const job = await request(`${base}/api/jobs/live`);
    assert.deepEqual(
      [job.body.history[0].outcome, job.body.history[0].stdout_bytes],
      ["running", 7],
      "the page fetches logs again when the byte count moves",
    );
  });
});
