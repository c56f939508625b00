// The dashboard's schedules: /api/schedules (the shape of `schedule list --json`) and the panel.
import assert from "node:assert/strict";
import { cli } from "./helpers.ts";
import { request, withDashboard } from "./dashboard_helpers.ts";

Deno.test("api: schedules with their next run, like `schedule list --json`", async () => {
  await withDashboard(async ({ home, base }) => {
    const empty = await request(`${base}/api/schedules`);
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { schedules: [] });
    await cli(home, ["schedule", "add", "hourly", "--cron", "0 * * * *", "-c", "true"]);
    await cli(home, [
      "schedule",
      "add",
      "berlin",
      "--cron",
      "30 2 * * *",
      "--tz",
      "Europe/Berlin",
      "-c",
      "echo <b>",
    ]);
    const { status, body } = await request(`${base}/api/schedules`);
    assert.equal(status, 200);
    assert.deepEqual(body.schedules.map((s: { name: string }) => s.name), ["berlin", "hourly"]);
    const fromCli = JSON.parse((await cli(home, ["schedule", "list", "--json"])).stdout);
    assert.deepEqual(body.schedules, fromCli, "same shape and values as the CLI");
    const next = Date.parse(body.schedules[1].next_run);
    assert.ok(
      next > Date.now() && next <= Date.now() + 3_600_000,
      "next hourly tick within the hour",
    );
    assert.equal((await request(`${base}/api/schedules`, { method: "POST" })).status, 405);
  });
});

Deno.test("page: a schedules panel filled from /api/schedules with textContent", async () => {
  await withDashboard(async ({ base }) => {
    const page = await request(`${base}/`);
    assert.match(page.body, /<table id="schedules">/);
    assert.match(page.body, /<th>next run<\/th>/);
    const script = await request(`${base}/app.js`);
    assert.match(script.body, /api\("schedules"\)\.then\(renderSchedules\)/);
    assert.match(script.body, /text: s\.command/);
  });
});
