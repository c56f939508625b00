/**
 * Helpers of the fleet tests: a fresh schema on the test PostgreSQL, a TCP
 * proxy per "machine" that can cut it off from the database, machines (a data
 * dir, a host name and a supervisor each), and counting connections.
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import type { NewJob } from "../src/core/types.ts";
import {
  type cleanupStack,
  cli,
  killGroup,
  killMatching,
  type Running,
  spawnCli,
  within,
} from "./helpers.ts";

/** The test server, or undefined when PostgreSQL tests are skipped. */
export const PG_URL = Deno.env.get("QUEUECTL_TEST_POSTGRES_URL");

/** Runs `fn` on a short-lived admin connection to the test database. */
export async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(PG_URL!, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** A schema no other test uses, for the queue of one test. */
export function newSchema(): string {
  return `qf_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** `base` (a postgres:// URL) pointed at `schema`, through `port` on loopback if given. */
export function queueUrl(base: string, schema: string, port?: number): string {
  const url = new URL(base.replace(/^postgres(ql)?:/, "http:"));
  if (port !== undefined) {
    url.hostname = "127.0.0.1";
    url.port = String(port);
  }
  url.searchParams.set("schema", schema);
  return url.href.replace(/^http:/, "postgres:");
}

/** A due `true` job with id `id`, for store-level tests. */
export function trueJob(id: string): NewJob {
  return { id, command: "true", maxRetries: 0, priority: 0, runAt: 0, timeout: null, cwd: "/" };
}

export async function dropSchema(schema: string): Promise<void> {
  await admin((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Connections that stores of `schema` hold now, and how many of them LISTEN. */
export async function connectionsOf(schema: string): Promise<{ all: number; listening: number }> {
  const [row] = await admin((sql) =>
    sql`SELECT count(*)::int AS all,
               count(*) FILTER (WHERE query ILIKE 'LISTEN%')::int AS listening
        FROM pg_stat_activity WHERE application_name = ${"queuectl:" + schema}`
  );
  return { all: row.all, listening: row.listening };
}

/**
 * A TCP proxy on loopback in front of the test server: one machine's network.
 * `stall()` stops forwarding (bytes in flight wait, new connections hang, as
 * when packets are dropped), `cut()` closes every connection and refuses new
 * ones, `heal()` forwards again (stalled bytes go on where they were).
 */
export class Network {
  #listener: Deno.Listener;
  #target: { hostname: string; port: number };
  #pairs = new Set<[Deno.Conn, Deno.Conn | null]>();
  #state: "up" | "stalled" | "cut" = "up";
  #changed = Promise.withResolvers<void>();

  constructor(serverUrl: string) {
    const url = new URL(serverUrl.replace(/^postgres(ql)?:/, "http:"));
    this.#target = { hostname: url.hostname, port: Number(url.port || 5432) };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    void this.#accept();
  }

  /** The port machines connect to. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  get state(): "up" | "stalled" | "cut" {
    return this.#state;
  }

  stall(): void {
    this.#set("stalled");
  }

  cut(): void {
    this.#set("cut");
    for (const pair of this.#pairs) this.#close(pair);
  }

  heal(): void {
    this.#set("up");
  }

  /** Stops the proxy for good. */
  close(): void {
    this.cut();
    try {
      this.#listener.close();
    } catch {
      // closed already
    }
  }

  #set(state: "up" | "stalled" | "cut"): void {
    this.#state = state;
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }

  /** Resolves once traffic may flow; false if the connection was cut meanwhile. */
  async #flowing(): Promise<boolean> {
    while (this.#state === "stalled") await this.#changed.promise;
    return this.#state === "up";
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) void this.#serve(client);
    } catch {
      // listener closed
    }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    const pair: [Deno.Conn, Deno.Conn | null] = [client, null];
    this.#pairs.add(pair);
    try {
      if (!await this.#flowing()) return this.#close(pair);
      pair[1] = await Deno.connect(this.#target);
      if (!this.#pairs.has(pair)) return this.#close(pair); // cut while connecting
      await Promise.all([this.#pump(client, pair[1]), this.#pump(pair[1], client)]);
    } catch {
      // the server or the client went away
    } finally {
      this.#close(pair);
    }
  }

  /** Copies `from` to `to`; while stalled, a chunk read waits (and the sender's window fills). */
  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await from.read(buffer);
      if (n === null || !await this.#flowing()) return;
      let written = 0;
      while (written < n) written += await to.write(buffer.subarray(written, n));
    }
  }

  #close(pair: [Deno.Conn, Deno.Conn | null]): void {
    this.#pairs.delete(pair);
    for (const conn of pair) {
      try {
        conn?.close();
      } catch {
        // closed already
      }
    }
  }
}

/** One machine of the fleet: its own data dir, host name and network to the database. */
export interface Machine {
  name: string;
  home: string;
  env: Record<string, string>;
  network: Network | null;
  /** Runs `queuectl <args>` on this machine; it must succeed. */
  run(args: string[], stdin?: string): Promise<string>;
  /** Parsed `--json` output of a command on this machine. */
  json<T>(args: string[]): Promise<T>;
  /** `worker start <args>` in the background (killed with its workers at cleanup). */
  start(args: string[]): Running;
}

/** Makes a machine whose commands reach `schema`, through a proxy of its own if `proxied`. */
export async function machine(
  name: string,
  schema: string,
  cleanup: ReturnType<typeof cleanupStack>,
  options: { proxied?: boolean } = {},
): Promise<Machine> {
  const home = await Deno.makeTempDir({ prefix: `queuectl-fleet-${name}-` });
  cleanup.defer(() => Deno.remove(home, { recursive: true }).catch(() => {}));
  // Workers name the schema on their command line, jobs the data dir: none outlives the test.
  cleanup.defer(() => killMatching(home));
  cleanup.defer(() => killMatching(`schema=${schema}`));
  const network = options.proxied ? new Network(PG_URL!) : null;
  if (network) cleanup.defer(() => network.close());
  const env = { QUEUECTL_DB: queueUrl(PG_URL!, schema, network?.port), QUEUECTL_HOST: name };
  return {
    name,
    home,
    env,
    network,
    async run(args, stdin) {
      const result = await cli(home, args, { env, stdin });
      assert.equal(result.code, 0, `${name}: queuectl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    },
    json<T>(args: string[]) {
      return cliJsonOn<T>(home, env, args);
    },
    start(args) {
      const running = spawnCli(home, ["worker", "start", ...args], { env, detached: true });
      cleanup.defer(async () => {
        // The supervisor's group, then each worker's (workers lead groups of their own).
        killGroup(running.child.pid);
        await within(`${name}'s supervisor to exit`, running.done, 30_000).catch(() => {});
      });
      return running;
    },
  };
}

async function cliJsonOn<T>(home: string, env: Record<string, string>, args: string[]) {
  const result = await cli(home, [...args, "--json"], { env });
  if (result.code !== 0) throw new Error(`queuectl ${args.join(" ")} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
