/**
 * `dashboard`: serves the web dashboard, the JSON API and Prometheus
 * `/metrics` over this database until Ctrl-C or SIGTERM.
 * @module
 */

import { InvalidArgumentError } from "@commander-js/extra-typings";
import { quote } from "../core/errors.ts";
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  isLoopbackHost,
  isValidToken,
  startDashboard,
} from "../dashboard/mod.ts";
import { withStore } from "./context.ts";
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

/** Resolves on the first Ctrl-C or SIGTERM. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGINT", "SIGTERM"];
    const handlers = signals.map((signal) => {
      const handler = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return handler;
    });
  });
}

/** Registers `dashboard`. */
export function registerDashboard(program: Program): void {
  program.command("dashboard")
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
      "require this token on every request (default: generated off loopback)",
      token,
    )
    .addHelpText(
      "after",
      `
On 127.0.0.1 (the default) no token is needed. On any other address every
request needs the token: open the printed URL (it carries ?token=…), or send
'Authorization: Bearer <token>' from scripts and Prometheus.

Examples:
  queuectl dashboard
  queuectl dashboard --port 9000
  queuectl dashboard --host 0.0.0.0 --token "$QUEUECTL_DASHBOARD_TOKEN"`,
    )
    .action(async (options, command) => {
      await withStore(command.optsWithGlobals(), async (store) => {
        const dashboard = await startDashboard(store, {
          host: options.host,
          port: options.port,
          token: options.token,
        });
        out(`queuectl dashboard: ${dashboard.url}`);
        if (dashboard.token !== null && options.token === undefined) {
          out(dim(`token ${dashboard.token} (generated: required on every request)`));
        }
        if (!isLoopbackHost(options.host)) {
          out(dim(`listening on ${options.host}: reachable from other machines`));
        }
        out(dim(`Prometheus: ${dashboard.url.replace(/\/(\?|$)/, "/metrics$1")}  ·  Ctrl-C stops`));
        await Promise.race([stopSignal(), dashboard.finished]);
        await dashboard.shutdown();
      });
    });
}
