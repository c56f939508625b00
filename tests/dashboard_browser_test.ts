/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by
 * puppeteer-core. Starts `queuectl dashboard` and opens the URL it prints,
 * as a person would, then checks what they would see and do: counts, job
 * ids, a `<script>` command shown as text, logs, and a click on "retry";
 * and that the page's own requests carry the token and nothing else leaks.
 *
 * Without /usr/bin/chromium the test fails in CI (`CI=true`; .ci/run installs
 * it) and is ignored elsewhere with one line saying so.
 * @module
 */

import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import { tempHome, waitFor } from "./helpers.ts";
import { type DashboardCli, newJob, runWorkers, startDashboardCli } from "./dashboard_helpers.ts";

/** The browser binary: Debian's package, never a downloaded build. */
export const CHROMIUM = Deno.env.get("QUEUECTL_TEST_CHROMIUM") ?? "/usr/bin/chromium";

/** Flags for a quiet, throwaway headless Chromium. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const available = haveChromium();
const inCi = Deno.env.get("CI") === "true";
if (!available && !inCi) {
  console.log(
    `dashboard browser test ignored: no Chromium at ${CHROMIUM} (apt-get install chromium)`,
  );
}

/** Launches Chromium with a fresh profile; `close` also removes the profile. */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "queuectl-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** The text of the first element matching `selector`, or null. */
function textOf(page: Page, selector: string): Promise<string | null> {
  return page.$eval(selector, (node) => node.textContent).catch(() => null);
}

Deno.test({
  name: "browser: the printed URL opens a working page: counts, ids, escaped commands, logs, retry",
  ignore: (!available && !inCi) || Deno.build.os === "windows", // its jobs are sh commands
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (!available) {
      throw new Error(
        `Chromium is missing at ${CHROMIUM}: .ci/run installs it with 'apt-get install -y chromium'`,
      );
    }
    const { home, db, cleanup } = await tempHome();
    const store = openSqliteStore(db);
    let dashboard: DashboardCli | undefined;
    let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
    try {
      await store.enqueue([
        newJob("shout", "echo '<img src=x onerror=alert(2)>'"),
        newJob("doomed", "echo about to fail; exit 7"),
      ]);
      await runWorkers(home);
      const xss = "<script>alert(1)</script>";
      await store.enqueue([newJob("xss", xss, { runAt: Date.now() + 3_600_000 })]);

      // As a user does: start the dashboard, copy the URL it prints.
      dashboard = await startDashboardCli(home);
      const { url, base } = dashboard;
      const token = new URL(url).searchParams.get("token");
      assert.ok(token, url);
      assert.equal(Deno.readTextFileSync(`${home}/dashboard.token`), token);
      chromium = await launchChromium();

      // Without the token the browser gets nothing but the 401.
      const bare = await chromium.browser.newPage();
      const refused = await bare.goto(`${base}/`, { waitUntil: "load" });
      assert.equal(refused?.status(), 401);
      assert.doesNotMatch(await bare.content(), /queuectl dashboard<\/title>/);
      await bare.close();

      const page = await chromium.browser.newPage();
      const dialogs: string[] = [];
      const errors: string[] = [];
      const requests: { url: string; headers: Record<string, string> }[] = [];
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        dialog.dismiss().catch(() => {});
      });
      page.on("pageerror", (error) => errors.push(String(error)));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      page.on("request", (request) => {
        requests.push({ url: request.url(), headers: request.headers() });
      });
      await page.setViewport({ width: 1280, height: 900 });
      const opened = await page.goto(url, { waitUntil: "load" });
      assert.equal(opened?.status(), 200);
      assert.equal(
        opened?.headers()["content-security-policy"]?.includes("script-src 'self'"),
        true,
      );

      // Counts as a person reads them.
      await waitFor(
        "the dead count",
        async () => await textOf(page, '[data-count="dead"]') === "1",
      );
      assert.equal(await textOf(page, '[data-count="completed"]'), "1");
      assert.equal(await textOf(page, '[data-count="pending"]'), "1");
      assert.equal(await textOf(page, '[data-count="processing"]'), "0");

      // Job ids in the table, and the hostile command as plain text.
      const ids = await page.$$eval(
        "#jobs tbody tr",
        (rows) => rows.map((row) => row.querySelector("td a")?.textContent),
      );
      assert.deepEqual(ids, ["xss", "doomed", "shout"]);
      assert.equal(await textOf(page, '#jobs tr[data-job-id="xss"] td.command'), xss);
      assert.equal(await page.$$eval("main script, main img", (found) => found.length), 0);
      assert.ok((await page.content()).includes("&lt;script&gt;alert(1)&lt;/script&gt;"));

      // The job view: every attempt and its logs, output shown as text too.
      await page.click('#jobs a[data-job-link="shout"]');
      await waitFor(
        "the logs",
        async () => (await textOf(page, "#log-stdout"))?.includes("onerror"),
      );
      assert.equal(await textOf(page, "#log-stdout"), "<img src=x onerror=alert(2)>\n");
      assert.equal(await textOf(page, "#job-id"), "shout");
      assert.equal(await page.$$eval("#job-attempts tbody tr", (rows) => rows.length), 1);
      assert.equal(await page.$$eval("img", (found) => found.length), 0);

      // Retry the dead job from the DLQ: the Store moves it to pending.
      assert.equal(await textOf(page, '#dlq tr[data-job-id="doomed"] td a'), "doomed");
      await page.click('#dlq button[data-action="retry"][data-id="doomed"]');
      await waitFor(
        "the retried job to be pending",
        async () => (await store.getJob("doomed"))?.state === "pending",
      );
      assert.equal((await store.getJob("doomed"))?.attempts, 0);
      await waitFor(
        "the page to show the retry",
        async () =>
          await textOf(page, '[data-count="dead"]') === "0" &&
          await textOf(page, "#dlq td.empty") === "The dead-letter queue is empty.",
      );
      assert.equal(await textOf(page, '[data-count="pending"]'), "2");

      const screenshot = Deno.env.get("QUEUECTL_SCREENSHOT");
      if (screenshot) await page.screenshot({ path: screenshot as `${string}.png` });
      assert.deepEqual(dialogs, [], "no script from job data ran");
      assert.deepEqual(errors, [], "no script error, refused request or CSP violation");

      // Every request stayed on the dashboard, sent no Referer, and every API
      // call carried the token as a bearer.
      const api = requests.filter((r) => new URL(r.url).pathname.startsWith("/api/"));
      assert.ok(api.some((r) => r.url.endsWith("/retry")), "the retry went through the API");
      for (const request of requests) {
        assert.equal(new URL(request.url).origin, base, request.url);
        assert.equal(request.headers["referer"] ?? "", "", `no Referer: ${request.url}`);
      }
      for (const request of api) {
        assert.equal(request.headers["authorization"], `Bearer ${token}`, request.url);
      }
    } finally {
      await chromium?.close();
      const stopped: { code: number; stderr: string } | undefined = dashboard
        ? await dashboard.stop()
        : undefined;
      await store.close();
      await cleanup();
      if (stopped) assert.equal(stopped.code, 0, stopped.stderr);
    }
  },
});
