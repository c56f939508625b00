/**
 * The dashboard's queues, blocked jobs and live output in a real browser
 * (Debian's Chromium, headless, through puppeteer-core), with a real worker
 * running a job: what a person sees and does. Skipped like the other browser
 * test when Chromium is missing outside CI.
 * @module
 */

import assert from "node:assert/strict";
import puppeteer, { type Page } from "puppeteer-core";
import { newJob, withDashboard } from "./dashboard_helpers.ts";
import { cli, spawnCli, waitFor } from "./helpers.ts";

const CHROMIUM = Deno.env.get("QUEUECTL_TEST_CHROMIUM") ?? "/usr/bin/chromium";
const available = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
const inCi = Deno.env.get("CI") === "true";

function textOf(page: Page, selector: string): Promise<string | null> {
  return page.$eval(selector, (node) => node.textContent).catch(() => null);
}

Deno.test({
  name: "browser: queue column and filter, pause/resume per queue, blocked jobs, live output",
  ignore: !available && !inCi,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (!available) throw new Error(`Chromium is missing at ${CHROMIUM}`);
    await withDashboard(async ({ home, store, dashboard }) => {
      await cli(home, ["config", "set", "poll-interval", "0.1"]);
      await store.enqueue([
        newJob("live", "echo started; sleep 60; echo never", { queue: "ops" }),
        newJob("chained", "true", { after: ["live"] }),
      ]);
      await store.setPaused(["mail"], true);
      await store.enqueue([newJob("letter", "true", { queue: "mail" })]);
      const worker = spawnCli(home, ["worker", "start", "--count", "2"]);
      const profile = await Deno.makeTempDir({ prefix: "queuectl-chromium-" });
      const browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", `--user-data-dir=${profile}`],
      });
      try {
        await waitFor(
          "the job to run",
          async () => (await store.getJob("live"))?.state === "processing",
        );
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(String(error)));
        await page.setViewport({ width: 1280, height: 1200 });
        await page.goto(dashboard.url, { waitUntil: "load" });

        await waitFor(
          "the blocked count",
          async () => await textOf(page, '[data-count="blocked"]') === "1",
        );
        await waitFor(
          "the queues",
          async () => await textOf(page, '#queues tr[data-queue="mail"] .badge') === "paused",
        );
        assert.equal(await textOf(page, '#queues tr[data-queue="ops"] .badge'), "active");
        assert.equal(
          await textOf(page, '#queues tr[data-queue="mail"] [data-queue-count="pending"]'),
          "1",
        );

        // Resume and pause a queue with its button; the Store changes.
        await page.click('#queues button[data-action="resume"][data-queue="mail"]');
        await waitFor(
          "mail to run",
          async () => (await store.getJob("letter"))?.state === "completed",
        );
        await waitFor(
          "the pause button",
          async () =>
            (await page.$('#queues button[data-action="pause"][data-queue="mail"]')) !== null,
        );
        await page.click('#queues button[data-action="pause"][data-queue="mail"]');
        await waitFor(
          "mail paused",
          async () => (await store.listQueues()).queues.find((q) => q.name === "mail")?.paused,
        );

        // The queue column and filter.
        assert.equal(await textOf(page, '#jobs tr[data-job-id="live"] td:nth-child(3)'), "ops");
        await page.select("#queue-filter", "mail");
        await waitFor(
          "the filtered table",
          async () =>
            JSON.stringify(
              await page.$$eval("#jobs tbody tr", (rows) =>
                rows.map((row) => row.getAttribute("data-job-id"))),
            ) === '["letter"]',
        );

        // The running job's output, live, before it ends.
        await page.goto(`${dashboard.url}#job=live`, { waitUntil: "load" });
        await waitFor(
          "the live output",
          async () => (await textOf(page, "#log-stdout")) === "started\n",
        );
        assert.equal(await page.$eval("#log-live", (node) => node.hasAttribute("hidden")), false);
        assert.equal((await store.getJob("live"))?.state, "processing", "shown while it runs");
        await page.goto(`${dashboard.url}#job=chained`, { waitUntil: "load" });
        await waitFor(
          "what it waits for",
          async () => (await textOf(page, "#job-fields"))?.includes("live (processing)"),
        );
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
        await Deno.remove(profile, { recursive: true }).catch(() => {});
        await store.cancel("live").catch(() => {});
        await cli(home, ["worker", "stop", "--timeout", "30s"]);
        await worker.done;
      }
    });
  },
});
