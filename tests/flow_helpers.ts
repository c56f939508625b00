/**
 * What the flow-control tests (issue 10) share: the same case against SQLite
 * and, when `$QUEUECTL_TEST_POSTGRES_URL` is set, against a fresh PostgreSQL
 * schema, through the real CLI.
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { cli, type CliResult, spawnCli, tempHome } from "./helpers.ts";

const url = Deno.env.get("QUEUECTL_TEST_POSTGRES_URL");

/** A data dir and the database every CLI run of a case uses. */
export interface Setup {
  backend: "sqlite" | "postgres";
  home: string;
  /** The `--db` value: a file path or a URL with `?schema=`. */
  db: string;
  /** Runs `queuectl <args>` on this database. */
  run(args: string[], options?: { stdin?: string }): Promise<CliResult>;
  /** Runs it and fails the test unless it exits 0. */
  ok(args: string[]): Promise<string>;
  /** Parsed `--json` output of a command that must succeed. */
  json<T>(args: string[]): Promise<T>;
  /** Starts `queuectl <args>` in the background on this database. */
  spawn(args: string[]): ReturnType<typeof spawnCli>;
}

/** Registers `fn` as one test per backend (PostgreSQL ones ignored without a URL). */
export function flowTest(name: string, fn: (setup: Setup) => Promise<void>): void {
  for (const backend of ["sqlite", "postgres"] as const) {
    Deno.test({
      name: `flow [${backend}]: ${name}`,
      ignore: backend === "postgres" && !url,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const { home, db: file, cleanup } = await tempHome();
        const schema = `qf_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
        let db = file;
        if (backend === "postgres") {
          const target = new URL(url!);
          target.searchParams.set("schema", schema);
          db = target.href;
        }
        const env = { QUEUECTL_DB: db };
        const run = (args: string[], options: { stdin?: string } = {}) =>
          cli(home, args, { env, stdin: options.stdin });
        const ok = async (args: string[]) => {
          const result = await run(args);
          assert.equal(result.code, 0, `queuectl ${args.join(" ")}: ${result.stderr}`);
          return result.stdout;
        };
        try {
          await fn({
            backend,
            home,
            db,
            run,
            ok,
            json: async (args) => JSON.parse(await ok([...args, "--json"])),
            spawn: (args) => spawnCli(home, args, { env }),
          });
        } finally {
          if (backend === "postgres") {
            const sql = postgres(url!, { onnotice: () => {}, max: 1 });
            await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
            await sql.end();
          }
          await cleanup();
        }
      },
    });
  }
}

/** The `show --json` fields these tests read. */
export interface ShownJob {
  id: string;
  state: string;
  queue: string;
  attempts: number;
  last_error: string | null;
  blocked_by_dead: string | null;
  history: { worker: string; started_at: string; finished_at: string | null }[];
}
