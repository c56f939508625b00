/**
 * The dashboard's JSON API under `/api/`. Shapes come from core/format.ts and
 * core/metrics.ts (the same as the CLI's `--json`), and every change goes
 * through the Store methods the CLI uses (`cancel`, `retryDead`).
 * @module
 */

import { parseDuration } from "../core/duration.ts";
import { QueueError, quote } from "../core/errors.ts";
import {
  attemptToJson,
  jobToJson,
  logsToJson,
  queuesToJson,
  statusToJson,
  waitingToJson,
  workerToJson,
} from "../core/format.ts";
import { isQueueName } from "../core/queue_name.ts";
import { MAX_METRICS_WINDOW_SECONDS, metricsToJson } from "../core/metrics.ts";
import { scheduleToJson } from "../core/schedule.ts";
import { JOB_STATES, type JobState } from "../core/types.ts";
import type { Store } from "../store/store.ts";

/** Most jobs one page of `GET /api/jobs` returns. */
export const MAX_PAGE = 500;
/** Jobs per page when `limit` is not given. */
export const DEFAULT_PAGE = 50;

const HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};

/** A JSON response. */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...HEADERS, ...headers } });
}

/** A JSON error response: `{ "error": message }`. */
export function jsonError(status: number, message: string, headers: HeadersInit = {}): Response {
  return json({ error: message }, status, headers);
}

/** HTTP status for a QueueError kind. */
const STATUS: Record<QueueError["kind"], number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
};

/** A bad request parameter: answered 400. */
class BadParam extends Error {}

function intParam(url: URL, name: string, min: number, max: number, fallback: number): number {
  const text = url.searchParams.get(name);
  if (text === null || text === "") return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new BadParam(
      `Parameter ${name} must be a whole number from ${min} to ${max}, got ${quote(text)}`,
    );
  }
  return Number(text);
}

function stateParam(url: URL): JobState | null {
  const text = url.searchParams.get("state");
  if (text === null || text === "" || text === "all") return null;
  if (!(JOB_STATES as readonly string[]).includes(text)) {
    throw new BadParam(`Unknown state ${quote(text)}; valid states: ${JOB_STATES.join(", ")}`);
  }
  return text as JobState;
}

function queueParam(url: URL): string | undefined {
  const text = url.searchParams.get("queue");
  if (text === null || text === "") return undefined;
  if (!isQueueName(text)) {
    throw new BadParam(
      `Parameter queue must be 1 to 64 characters of A-Z a-z 0-9 _ . -, got ${quote(text)}`,
    );
  }
  return text;
}

function windowParam(url: URL): number {
  const text = url.searchParams.get("since") ?? "1h";
  const seconds = parseDuration(text);
  if (seconds === null || seconds < 1 || seconds > MAX_METRICS_WINDOW_SECONDS) {
    throw new BadParam(
      `Parameter since must be a duration from 1s to 30d such as 15m or 1h, got ${quote(text)}`,
    );
  }
  return Math.round(seconds * 1000);
}

function notFound(id: string): QueueError {
  return new QueueError("not_found", `No job with id ${quote(id)}`);
}

async function status(store: Store): Promise<Response> {
  const [counts, workers, oldestPendingAt, queues] = await Promise.all([
    store.counts(),
    store.listWorkers(),
    store.oldestPending(),
    store.listQueues(),
  ]);
  return json({
    ...statusToJson({
      counts,
      workers,
      oldestPendingAt,
      now: Date.now(),
      database: store.location,
      queues,
    }),
    live_workers: workers.map(workerToJson),
  });
}

async function jobs(store: Store, url: URL): Promise<Response> {
  const state = stateParam(url);
  const queue = queueParam(url);
  const limit = intParam(url, "limit", 1, MAX_PAGE, DEFAULT_PAGE);
  const offset = intParam(url, "offset", 0, 1_000_000_000, 0);
  const filter = { state: state ?? undefined, queue };
  const [list, total] = await Promise.all([
    store.listJobs({ ...filter, limit, offset }),
    store.countJobs(filter),
  ]);
  return json({ state, queue: queue ?? null, limit, offset, total, jobs: list.map(jobToJson) });
}

async function job(store: Store, id: string): Promise<Response> {
  const found = await store.getJob(id);
  if (!found) throw notFound(id);
  const [history, dependencies, standings] = await Promise.all([
    store.attempts(id),
    found.after.length ? store.dependencies(id) : Promise.resolve([]),
    found.state === "blocked" ? store.standings([id]) : Promise.resolve([]),
  ]);
  return json({
    ...jobToJson(found),
    ...waitingToJson(dependencies, standings[0]?.deadDependency ?? null),
    history: history.map(attemptToJson),
  });
}

async function queues(store: Store): Promise<Response> {
  return json(queuesToJson(await store.listQueues()));
}

/** Pauses or resumes queue `name`, or every queue (and new ones) when `name` is empty. */
async function pause(store: Store, name: string, paused: boolean): Promise<Response> {
  if (name !== "" && !isQueueName(name)) throw notFoundQueue(name);
  await store.setPaused(name === "" ? "all" : [name], paused);
  return json({ queue: name === "" ? null : name, paused });
}

function notFoundQueue(name: string): QueueError {
  return new QueueError("not_found", `No queue can be named ${quote(name)}`);
}

async function logs(store: Store, id: string, url: URL): Promise<Response> {
  const attempt = url.searchParams.has("attempt")
    ? intParam(url, "attempt", 1, 1_000_000, 1)
    : undefined;
  const found = await store.logs(id, attempt);
  if (!found) {
    throw new QueueError(
      "not_found",
      attempt === undefined
        ? `Job ${quote(id)} has not run yet`
        : `Job ${quote(id)} has no attempt ${attempt}`,
    );
  }
  return json(logsToJson(id, found));
}

async function cancel(store: Store, id: string): Promise<Response> {
  const { previous, cascaded } = await store.cancel(id);
  return json({ id, previous_state: previous, state: "cancelled", cascaded });
}

async function retryJob(store: Store, id: string): Promise<Response> {
  return json({ retried: await store.retryDead([id]) });
}

async function retryDlq(store: Store, request: Request): Promise<Response> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text() || "{}");
  } catch {
    throw new BadParam('Body must be JSON: {"all": true} or {"ids": ["id", …]}');
  }
  const { all, ids } = (body ?? {}) as { all?: unknown; ids?: unknown };
  if (all === true && ids === undefined) return json({ retried: await store.retryDead("all") });
  if (
    all === undefined && Array.isArray(ids) && ids.length > 0 &&
    ids.every((id) => typeof id === "string")
  ) {
    return json({ retried: await store.retryDead(ids as string[]) });
  }
  throw new BadParam(`Body must be {"all": true} or {"ids": ["id", …]}, got ${quote(body)}`);
}

async function metrics(store: Store, url: URL): Promise<Response> {
  return json(metricsToJson(await store.metrics({ windowMs: windowParam(url) })));
}

async function schedules(store: Store): Promise<Response> {
  const now = Date.now();
  return json({ schedules: (await store.listSchedules()).map((s) => scheduleToJson(s, now)) });
}

type Route = {
  method: "GET" | "POST";
  handle: (store: Store, request: Request, url: URL, id: string) => Promise<Response>;
};

/** Routes by path shape; `:id` is one URL-encoded path segment. */
const ROUTES: Record<string, Route> = {
  "status": { method: "GET", handle: (store) => status(store) },
  "jobs": { method: "GET", handle: (store, _request, url) => jobs(store, url) },
  "jobs/:id": { method: "GET", handle: (store, _request, _url, id) => job(store, id) },
  "jobs/:id/logs": { method: "GET", handle: (store, _request, url, id) => logs(store, id, url) },
  "jobs/:id/cancel": { method: "POST", handle: (store, _request, _url, id) => cancel(store, id) },
  "jobs/:id/retry": { method: "POST", handle: (store, _request, _url, id) => retryJob(store, id) },
  "dlq/retry": { method: "POST", handle: (store, request) => retryDlq(store, request) },
  "metrics": { method: "GET", handle: (store, _request, url) => metrics(store, url) },
  "queues": { method: "GET", handle: (store) => queues(store) },
  "queues/pause": { method: "POST", handle: (store) => pause(store, "", true) },
  "queues/resume": { method: "POST", handle: (store) => pause(store, "", false) },
  "queues/:id/pause": { method: "POST", handle: (store, _r, _u, name) => pause(store, name, true) },
  "queues/:id/resume": {
    method: "POST",
    handle: (store, _request, _url, name) => pause(store, name, false),
  },
  "schedules": { method: "GET", handle: (store) => schedules(store) },
};

/** Answers a request whose path starts with `/api/`. */
export async function handleApi(store: Store, request: Request, url: URL): Promise<Response> {
  const parts = url.pathname.slice("/api/".length).split("/");
  let id = "";
  // A job id, or a queue name before an action (`queues/pause` acts on every queue).
  if ((parts[0] === "jobs" && parts.length >= 2) || (parts[0] === "queues" && parts.length >= 3)) {
    try {
      id = decodeURIComponent(parts[1]);
    } catch {
      const what = parts[0] === "jobs" ? "Job id" : "Queue name";
      return jsonError(400, `${what} ${quote(parts[1])} is not valid URL encoding`);
    }
    parts[1] = ":id";
  }
  const route = ROUTES[parts.join("/")];
  if (!route) return jsonError(404, `No API route ${quote(url.pathname)}`);
  const method = request.method === "HEAD" ? "GET" : request.method;
  if (method !== route.method) {
    return jsonError(405, `Use ${route.method} for ${url.pathname}`, { allow: route.method });
  }
  try {
    return await route.handle(store, request, url, id);
  } catch (error) {
    if (error instanceof BadParam) return jsonError(400, error.message);
    if (error instanceof QueueError) return jsonError(STATUS[error.kind], error.message);
    throw error;
  }
}
