/**
 * The dashboard's HTTP server: the page and its assets, the JSON API under
 * `/api/`, and Prometheus text at `/metrics`, all over one Store. Every
 * request passes auth.ts first.
 * @module
 */

import { QueueError, quote } from "../core/errors.ts";
import type { Store } from "../store/store.ts";
import { handleApi, jsonError } from "./api.ts";
import { APP_JS } from "./app_js.ts";
import { checkRequest, generateToken, isLoopbackHost } from "./auth.ts";
import { APP_CSS, ASSET_QUERY, PAGE_HTML } from "./page.ts";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus, RunCounters } from "./prometheus.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "./address.ts";

export { DEFAULT_HOST, DEFAULT_PORT };

/** How to serve the dashboard. */
export interface DashboardOptions {
  /** Address to bind; default {@linkcode DEFAULT_HOST}. */
  host?: string;
  /** Port; default {@linkcode DEFAULT_PORT}; 0 picks a free one. */
  port?: number;
  /**
   * Token every request must carry; default: a new random one (the CLI
   * passes the one kept in `<home>/dashboard.token`). `null` requires none,
   * which is refused unless `host` is a loopback address.
   */
  token?: string | null;
  /** Lag of the Prometheus run counters (ms); tests set 0. */
  counterLagMs?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** Where to open it, with `?token=` when one is required. */
  url: string;
  /** The address it listens on. */
  host: string;
  /** The port it listens on (the chosen one when asked for 0). */
  port: number;
  /** The token requests must carry, or `null` when none is required. */
  token: string | null;
  /** Stops listening and waits for open requests to finish. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Headers on every response, errors included: no sniffing, no referrer (the
 * page's URL carries the token), no framing, no cross-origin reads, and a
 * CSP that allows only this origin's own script and stylesheet (no inline
 * code at all). No response ever carries `Access-Control-Allow-*`.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
};

/** Sets {@linkcode SECURITY_HEADERS} on `response` and drops any CORS header. */
function secured(response: Response): Response {
  for (const name of [...response.headers.keys()]) {
    if (name.startsWith("access-control-")) response.headers.delete(name);
  }
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    response.headers.set(name, value);
  }
  return response;
}

/** The error for `--no-token` (a `null` token) on an address other machines can reach. */
export function noTokenOffLoopback(host: string): QueueError {
  return new QueueError(
    "invalid",
    `--no-token is only allowed on a loopback address (127.0.0.1, ::1, localhost), not on ${
      quote(host)
    }: anyone who can reach it could read and change every job`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function text(body: string, type: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": type },
  });
}

/** Builds the request handler for a store; `token: null` means loopback without a token (`--no-token`). */
export function createHandler(
  store: Store,
  options: { token: string | null; counterLagMs?: number },
): (request: Request) => Promise<Response> {
  const counters = new RunCounters(store, { lagMs: options.counterLagMs });
  return async (request: Request): Promise<Response> =>
    secured(await answer(store, counters, request, options.token));
}

async function answer(
  store: Store,
  counters: RunCounters,
  request: Request,
  token: string | null,
): Promise<Response> {
  const url = new URL(request.url);
  const refused = checkRequest(request, url, token);
  if (refused) {
    const headers: HeadersInit = refused.status === 401
      ? { "www-authenticate": 'Bearer realm="queuectl"' }
      : {};
    return jsonError(refused.status, refused.error, headers);
  }
  try {
    if (url.pathname.startsWith("/api/")) return await handleApi(store, request, url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonError(405, `Use GET for ${url.pathname}`, { allow: "GET" });
    }
    switch (url.pathname) {
      case "/": {
        // The request carried the token, so its asset URLs may carry it too.
        const query = token === null ? "" : `?token=${escapeHtml(encodeURIComponent(token))}`;
        return text(PAGE_HTML.replaceAll(ASSET_QUERY, query), "text/html; charset=utf-8");
      }
      case "/app.js":
        return text(APP_JS, "text/javascript; charset=utf-8");
      case "/app.css":
        return text(APP_CSS, "text/css; charset=utf-8");
      case "/metrics":
        return text(await renderPrometheus(store, counters), PROMETHEUS_CONTENT_TYPE);
      default:
        return jsonError(404, `Nothing at ${quote(url.pathname)}`);
    }
  } catch (error) {
    if (error instanceof QueueError && error.kind === "unavailable") {
      return jsonError(503, error.message);
    }
    console.error(error);
    return jsonError(500, `Internal error: ${(error as Error).message ?? String(error)}`);
  }
}

/**
 * Serves the dashboard for `store` until {@linkcode Dashboard.shutdown}.
 * Every request needs the token (generated when not given), unless `token`
 * is `null` on a loopback address.
 */
export async function startDashboard(
  store: Store,
  options: DashboardOptions = {},
): Promise<Dashboard> {
  const host = options.host ?? DEFAULT_HOST;
  const token = options.token === undefined ? generateToken() : options.token;
  if (token === null && !isLoopbackHost(host)) throw noTokenOffLoopback(host);
  const handler = createHandler(store, { token, counterLagMs: options.counterLagMs });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: host,
      port: options.port ?? DEFAULT_PORT,
      onListen: resolve,
      onError: (error) => {
        console.error(error);
        return secured(jsonError(500, "Internal error"));
      },
    }, handler);
  } catch (error) {
    const reason = error instanceof Deno.errors.AddrInUse
      ? "the address is already in use"
      : (error as Error).message;
    throw new QueueError(
      "unavailable",
      `Cannot serve the dashboard on ${host}:${options.port ?? DEFAULT_PORT}: ${reason}`,
    );
  }
  const address = await listening;
  const shown = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  const url = `http://${shown}:${address.port}/` +
    (token === null ? "" : `?token=${encodeURIComponent(token)}`);
  return {
    url,
    host: address.hostname,
    port: address.port,
    token,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}
