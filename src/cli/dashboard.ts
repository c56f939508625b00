/**
 * `dashboard`: serves the web dashboard, the JSON API and Prometheus
 * `/metrics` over this database until Ctrl-C or SIGTERM, behind the token
 * kept in `<home>/dashboard.token` (always the local data directory, also
 * with `--db postgres://…`), `--token`'s, or none with `--no-token` (loopback
 * only).
 * @module
 */

import { join } from "node:path";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { invalid, QueueError, quote } from "../core/errors.ts";
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  isLoopbackHost,
  isValidToken,
  TOKEN_FILE,
} from "../dashboard/address.ts";
import type { FileToken } from "../dashboard/mod.ts";
import { resolveHome, withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { dim, out } from "./output.ts";

/** A TCP port: 0 (any free one) to 65535. */
export function port(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    throw new InvalidArgumentError(`Expected a port from 0 to 65535, got ${quote(text)}.`);
  }
  return Number(text);
}

/** An address or host name to bind. */
export function host(text: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*|[A-Za-z0-9.-]+)$/.test(text)) {
    throw new InvalidArgumentError(`Expected an IP address or host name, got ${quote(text)}.`);
  }
  return text.replace(/^\[(.*)\]$/, "$1");
}

/** A token: 8 to 200 visible ASCII characters. */
export function token(text: string): string {
  if (!isValidToken(text)) {
    throw new InvalidArgumentError(
      `Expected a token of 8 to 200 visible ASCII characters without spaces, got ${quote(text)}.`,
    );
  }
  return text;
}

/**
 * Listens for the first Ctrl-C or SIGTERM: `stopped` resolves then; `remove`
 * stops listening. Start it before printing the URL, so a signal sent as soon
 * as the URL appears stops the server cleanly instead of killing it.
 */
function stopSignal(): { stopped: Promise<string>; remove(): void } {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  const { promise, resolve } = Promise.withResolvers<string>();
  const remove = () => signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
  const handlers = signals.map((signal) => {
    const handler = () => {
      remove();
      resolve(signal);
    };
    Deno.addSignalListener(signal, handler);
    return handler;
  });
  return { stopped: promise, remove };
}

/** What the second line says about the token. */
function tokenNote(file: FileToken): string {
  switch (file.how) {
    case "reused":
      return `token: reused from ${file.path} (delete that file and restart for a new one)`;
    case "created":
      return `token: new, kept in ${file.path} (user-only) for restarts and scripts`;
    case "replaced":
      return `token: new, kept in ${file.path}; the old one was not reused: ${file.problem}`;
  }
}

/** The token to require: `--token`, none for `--no-token`, else the token file's. */
async function chooseToken(
  option: string | boolean | undefined,
): Promise<{ token: string | null; note: string }> {
  const path = join(resolveHome(), TOKEN_FILE);
  if (option === false) {
    return {
      token: null,
      note: "no token (--no-token): every user and program on this machine can use it",
    };
  }
  if (typeof option === "string") {
    return { token: option, note: `token: from --token, for this run only (${path} unchanged)` };
  }
  const { loadOrCreateToken } = await import("../dashboard/mod.ts");
  let file: FileToken;
  try {
    file = await loadOrCreateToken(path);
  } catch (error) {
    throw new QueueError(
      "unavailable",
      `Cannot keep the dashboard token in ${path}: ${(error as Error).message}`,
    );
  }
  return { token: file.token, note: tokenNote(file) };
}

/** Registers `dashboard`. */
export function registerDashboard(program: Program): void {
  const given = new Set<string>();
  const command = program.command("dashboard")
    .description("web dashboard, JSON API and Prometheus /metrics for this database")
    .option(
      "-p, --port <port>",
      `port to listen on, 0 for any free one (default ${DEFAULT_PORT})`,
      port,
      DEFAULT_PORT,
    )
    .option(
      "--host <address>",
      `address to bind (default ${DEFAULT_HOST}: this machine only)`,
      host,
      DEFAULT_HOST,
    )
    .option(
      "--token <token>",
      `require this token, for this run only (default: the one in <home>/${TOKEN_FILE})`,
      token,
    )
    .option("--no-token", "require no token: loopback addresses only, open to every local user")
    .addHelpText(
      "after",
      `
Every request needs a token, on 127.0.0.1 too: other users of this machine
can reach loopback. Open the printed URL (it carries ?token=…); scripts and
Prometheus send 'Authorization: Bearer <token>'. The token is kept, user-only,
in <home>/${TOKEN_FILE} and reused on restart; delete the file for a new one.
--token is seen by every user in the process list: prefer writing your own
token into that file.

Examples:
  queuectl dashboard
  queuectl dashboard --port 9000
  queuectl dashboard --host 0.0.0.0
  curl -H "Authorization: Bearer $(cat ~/.queuectl/${TOKEN_FILE})" http://127.0.0.1:8787/api/status`,
    );
  command.on("option:token", () => given.add("--token"));
  command.on("option:no-token", () => given.add("--no-token"));
  command.action(async (options, command) => {
    if (given.size > 1) throw invalid("Use --token or --no-token, not both");
    // The server (and node:crypto under it) loads only for this command.
    const { noTokenOffLoopback, startDashboard } = await import("../dashboard/mod.ts");
    if (options.token === false && !isLoopbackHost(options.host)) {
      throw noTokenOffLoopback(options.host);
    }
    await withStore(command.optsWithGlobals(), async (store) => {
      const { token, note } = await chooseToken(options.token);
      const signal = stopSignal();
      let dashboard;
      try {
        dashboard = await startDashboard(store, {
          host: options.host,
          port: options.port,
          token,
        });
      } catch (error) {
        signal.remove();
        throw error;
      }
      out(`queuectl dashboard: ${dashboard.url}`);
      out(dim(note));
      if (!isLoopbackHost(options.host)) {
        out(dim(`listening on ${options.host}: reachable from other machines`));
      }
      const metrics = dashboard.url.replace(/\/(\?.*)?$/, "/metrics");
      const bearer = token === null ? "" : " (send the token as 'Authorization: Bearer <token>')";
      out(dim(`Prometheus: ${metrics}${bearer}  ·  Ctrl-C stops`));
      await Promise.race([signal.stopped, dashboard.finished]);
      signal.remove();
      await dashboard.shutdown();
    });
  });
}
