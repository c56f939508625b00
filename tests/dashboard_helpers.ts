/**
 * Helpers for dashboard tests: a real server on a free port over a real
 * SQLite store in a temp dir, and small HTTP helpers.
 * @module
 */

import type { NewJob } from "../src/core/types.ts";
import { type Dashboard, startDashboard } from "../src/dashboard/mod.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite/mod.ts";
import { cli, tempHome } from "./helpers.ts";

/** What a dashboard test gets. */
export interface DashboardContext {
  home: string;
  db: string;
  store: SqliteStore;
  dashboard: Dashboard;
  /** `http://127.0.0.1:<port>` without a trailing slash. */
  base: string;
}

/** A job spec with defaults for tests. */
export function newJob(id: string, command = `echo ${id}`, extra: Partial<NewJob> = {}): NewJob {
  return {
    id,
    command,
    maxRetries: 0,
    priority: 0,
    runAt: Date.now(),
    timeout: null,
    cwd: Deno.cwd(),
    ...extra,
  };
}

/**
 * Runs `fn` against a dashboard on 127.0.0.1 and a free port, then shuts it
 * down and removes the temp dir. Options go to startDashboard.
 */
export async function withDashboard(
  fn: (context: DashboardContext) => Promise<void>,
  options: { token?: string; host?: string } = {},
): Promise<void> {
  const { home, db, cleanup } = await tempHome();
  const store = openSqliteStore(db);
  const dashboard = await startDashboard(store, {
    host: options.host ?? "127.0.0.1",
    port: 0,
    token: options.token,
    counterLagMs: 0,
  });
  try {
    await fn({ home, db, store, dashboard, base: `http://127.0.0.1:${dashboard.port}` });
  } finally {
    await dashboard.shutdown();
    await store.close();
    await cleanup();
  }
}

/** A response with its body parsed as JSON when it is JSON. */
export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** Fetches `url` and reads the whole body (JSON parsed when the type says so). */
export async function request(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  const json = response.headers.get("content-type")?.startsWith("application/json");
  return {
    status: response.status,
    headers: response.headers,
    body: json ? JSON.parse(text) : text,
  };
}

/** A same-origin POST as the page sends it. */
export function post(base: string, path: string, body?: unknown): Promise<Reply> {
  return request(`${base}${path}`, {
    method: "POST",
    headers: { origin: base, "sec-fetch-site": "same-origin", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/**
 * Runs every job until none is left, with real workers:
 * `queuectl worker start --count 2 --drain`.
 */
export async function runWorkers(home: string): Promise<void> {
  const result = await cli(home, ["worker", "start", "--count", "2", "--drain"]);
  if (result.code !== 0) {
    throw new Error(`worker start --drain exited ${result.code}: ${result.stderr}${result.stdout}`);
  }
}
