/**
 * Makes docs/dashboard.png: the real dashboard page in headless Chromium over
 * a temp database holding an hour of history (seeded through the Store on a
 * clock set in the past) and two real workers busy with jobs right now.
 *
 *   deno run -A docs/dashboard_screenshot.ts [docs/dashboard.png]
 *
 * Needs Debian's chromium (/usr/bin/chromium).
 * @module
 */

import { startDashboard } from "../src/dashboard/mod.ts";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import { launchChromium } from "../tests/dashboard_browser_test.ts";
import { cli, spawnCli, tempHome, waitFor } from "../tests/helpers.ts";

const output = Deno.args[0] ?? "docs/dashboard.png";
const { home, db, cleanup } = await tempHome();
const encoder = new TextEncoder();

// An hour of history: throughput that rises and falls, a few failures and retries.
const start = Math.floor(Date.now() / 60_000) * 60_000 - 55 * 60_000;
let now = start;
const seeded = openSqliteStore(db, { clock: () => now });
await seeded.setConfig("backoff-base", "1");
const commands = [
  "./scripts/resize-image.sh uploads/%d.jpg",
  "curl -fsS https://api.example.com/sync?page=%d",
  "python3 reports/daily.py --shard %d",
  "pg_dump app | gzip > /backups/app-%d.sql.gz",
];
let n = 0;
for (let minute = 0; minute < 54; minute++) {
  const perMinute = Math.round(9 + 7 * Math.sin(minute / 6) + (minute % 5));
  for (let k = 0; k < perMinute; k++) {
    n++;
    now = start + minute * 60_000 + Math.floor((k * 60_000) / perMinute);
    const id = `job-${String(n).padStart(4, "0")}`;
    const command = commands[n % commands.length].replace("%d", String(n));
    await seeded.enqueue([{
      id,
      command,
      maxRetries: n % 41 === 0 ? 0 : 2,
      priority: 0,
      runAt: now,
      timeout: null,
      cwd: "/srv/app",
    }]);
    const worker = `w${1 + (n % 2)}`;
    await seeded.claim(worker, 30_000);
    now += 200 + ((n * 7919) % 2600);
    const failure = {
      exitCode: 1,
      error: "exit code 1",
      stdout: encoder.encode(`processing item ${n}\n`),
      stderr: encoder.encode("error: upstream timed out\n"),
    };
    if (n % 41 === 0) {
      await seeded.fail(id, worker, failure); // no retries left: dead
      continue;
    }
    if (n % 23 === 0) {
      await seeded.fail(id, worker, failure); // retried a second later
      now += 1000;
      await seeded.claim(worker, 30_000);
      now += 300;
    }
    await seeded.complete(id, worker, {
      exitCode: 0,
      error: null,
      stdout: encoder.encode(`processed item ${n}\n`),
      stderr: new Uint8Array(),
    });
  }
}
await seeded.close();

// Now: named queues (one limited, one paused), a job blocked behind a running one,
// jobs waiting, a hostile command shown as text, and two busy workers.
const enqueue = (args: string[]) => cli(home, ["enqueue", ...args]);
await cli(home, ["queue", "set", "deploys", "--concurrency", "1"]);
await cli(home, ["pause", "reports"]);
await enqueue(["-c", "sleep 60 && ./deploy.sh production", "--id", "deploy-prod", "-q", "deploys"]);
await enqueue(["-c", "./scripts/announce.sh", "--id", "announce", "--after", "deploy-prod"]);
await enqueue(["-c", "sleep 60 && make -C docs html", "--id", "build-docs", "-q", "docs"]);
await enqueue(["-c", "<script>alert(1)</script>", "--id", "not-a-script", "--delay", "1h"]);
await enqueue(["-c", "./scripts/nightly-report.sh", "--id", "nightly-report", "-q", "reports"]);
const workers = spawnCli(home, ["worker", "start", "--count", "2"]);
const store = openSqliteStore(db);
// A generated token, in memory only; dashboard.url carries it as the CLI's printed URL does.
const dashboard = await startDashboard(store, { port: 0 });
const chromium = await launchChromium();
try {
  await waitFor(
    "two busy workers",
    async () => (await store.listWorkers()).filter((w) => w.currentJob).length === 2,
  );
  const page = await chromium.browser.newPage();
  await page.setViewport({ width: 1280, height: 1400 });
  await page.goto(dashboard.url, { waitUntil: "load" });
  await waitFor(
    "the page to fill in",
    async () => await page.$eval("#connection", (node) => node.textContent?.startsWith("updated")),
  );
  await page.screenshot({ path: output as `${string}.png` });
  console.log(`wrote ${output} (${(await Deno.stat(output)).size} bytes)`);
} finally {
  await chromium.close();
  await cli(home, ["cancel", "deploy-prod", "build-docs"]);
  await cli(home, ["worker", "stop"]);
  await workers.done;
  await dashboard.shutdown();
  await store.close();
  await cleanup();
}
