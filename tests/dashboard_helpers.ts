/**
 * Helpers for dashboard tests: a real server on a free port over a real
 * SQLite store in a temp dir, and small HTTP helpers.
 * @module
 */

import type { NewJob } from "../src/core/types.ts";
import { type Dashboard, startDashboard } from "../src/dashboard/mod.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite/mod.ts";
import { cli, MAIN, PERMISSIONS, tempHome } from "./helpers.ts";

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
 * down and removes the temp dir. Options go to startDashboard, except that
 * `token` defaults to `null` (as `--no-token`): the API and /metrics tests
 * are about what the API answers; the token has its own tests, which pass
 * one.
 */
export async function withDashboard(
  fn: (context: DashboardContext) => Promise<void>,
  options: { token?: string | null; host?: string } = {},
): Promise<void> {
  const { home, db, cleanup } = await tempHome();
  const store = openSqliteStore(db);
  const dashboard = await startDashboard(store, {
    host: options.host ?? "127.0.0.1",
    port: 0,
    token: options.token ?? null,
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

/** Longest a `queuectl dashboard` may take to start serving in a test. */
const START_TIMEOUT_MS = 60_000;

/** A `queuectl dashboard` process, as a user starts it. */
export interface DashboardCli {
  /** What it printed before serving (up to and including the "Prometheus:" line). */
  lines: string[];
  /** The URL it printed first, as a user would copy it. */
  url: string;
  /** `http://127.0.0.1:<port>` without a trailing slash. */
  base: string;
  /** Stops it with SIGTERM; its exit code and stderr. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/**
 * Starts `queuectl dashboard --port 0 <args>` on `home` and reads what it
 * prints until it serves. Throws, with its output, if it exits first (or is
 * killed after {@linkcode START_TIMEOUT_MS}).
 */
export async function startDashboardCli(
  home: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<DashboardCli> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, "dashboard", "--port", "0", ...args],
    env: { QUEUECTL_HOME: home, NO_COLOR: "1", QUEUECTL_DB: "", INIT_CWD: Deno.cwd(), ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines: string[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  // A start that hangs fails the test instead of hanging it (generous for slow machines).
  const hung = setTimeout(() => child.kill("SIGKILL"), START_TIMEOUT_MS);
  try {
    while (!lines.some((line) => line.startsWith("Prometheus:"))) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
    }
  } finally {
    clearTimeout(hung);
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  let stopped: Promise<{ code: number; stderr: string }> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has exited already.
      }
      const [text] = await Promise.all([stderr, drained]);
      return { code: (await child.status).code, stderr: text };
    })();
    return stopped;
  };
  const url = lines[0]?.match(/^queuectl dashboard: (http:\/\/\S+)$/)?.[1];
  const port = url?.match(/^http:\/\/[^/]*:(\d+)\//)?.[1];
  if (!url || !port || !lines.some((line) => line.startsWith("Prometheus:"))) {
    const result = await stop();
    throw new Error(
      `queuectl dashboard did not start (exit ${result.code}): ${lines.join("\n")}${result.stderr}`,
    );
  }
  return { lines, url, base: `http://127.0.0.1:${port}`, stop };
}

/** Headers that carry `token` as a bearer. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Sends one raw HTTP/1.1 request, so the Host header is whatever the test says. */
export async function rawGet(port: number, path: string, host: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    return await new Response(conn.readable).text();
  } catch (error) {
    conn.close();
    throw error;
  }
}
