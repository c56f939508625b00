/**
 * Who may talk to the dashboard. Every request needs the token, as
 * `Authorization: Bearer <token>` or `?token=<token>`, on every address:
 * loopback too, since every user of the machine can reach it. Only with
 * `--no-token`, which is allowed on loopback alone, is there none; then only
 * requests naming a loopback host are answered (no DNS rebinding). Either
 * way a change (any method but GET and HEAD) must also come from the
 * dashboard's own page, never from another origin, even one that knows the
 * token.
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { isLoopbackHost, isValidToken } from "./address.ts";

export { isLoopbackHost, isValidToken };

/** Why a request was refused. */
export interface Refusal {
  /** 401 without the right token, 403 for a foreign Host or origin. */
  status: 401 | 403;
  /** What to tell the client. */
  error: string;
}

/** A new random token: 32 characters of base64url (192 bits). */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Whether `given` is the `expected` secret. Both are hashed first, so the
 * comparison always runs over 32 bytes whatever the lengths, and
 * `timingSafeEqual` reads every byte: the time says nothing about where, or
 * whether, the two differ.
 */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/** The token a request carries: the `Authorization: Bearer` header, else `?token=`. */
export function requestToken(request: Request, url: URL): string | null {
  const header = request.headers.get("authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (match) return match[1];
  return url.searchParams.get("token");
}

/** Whether a state-changing request comes from a page of this same origin (or no browser). */
function fromSameOrigin(request: Request, url: URL): string | null {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return `Refused a ${site} request: changes are only accepted from the dashboard's own page`;
  }
  const origin = request.headers.get("origin");
  if (origin !== null) {
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host;
    } catch {
      // "null" or garbage: not our page
    }
    if (originHost === null || originHost !== url.host) {
      return `Refused a request from origin ${
        JSON.stringify(origin)
      }: changes are only accepted from the dashboard's own page`;
    }
  }
  return null;
}

/**
 * Checks a request against the dashboard's rules; `null` lets it through.
 * `url` is the request's URL, which the server built from its `Host` header.
 * `token` is the required token, or `null` when the dashboard runs on
 * loopback with `--no-token`.
 */
export function checkRequest(request: Request, url: URL, token: string | null): Refusal | null {
  if (token !== null) {
    const given = requestToken(request, url);
    if (given === null) {
      return {
        status: 401,
        error: "A token is required: open the URL that 'queuectl dashboard' printed, or send " +
          "'Authorization: Bearer <token>' (the token is in dashboard.token in the data directory)",
      };
    }
    if (!sameSecret(given, token)) return { status: 401, error: "Wrong token" };
  } else {
    // The server builds the request URL from the Host header the client sent.
    const host = url.host;
    if (!isLoopbackHost(url.hostname)) {
      return {
        status: 403,
        error: `Host ${
          JSON.stringify(host)
        } is not allowed: without a token the dashboard only answers to localhost`,
      };
    }
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    const crossSite = fromSameOrigin(request, url);
    if (crossSite) return { status: 403, error: crossSite };
  }
  return null;
}
