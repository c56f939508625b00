/**
 * What every benchmark section shares: the options of this run, fresh
 * databases, job lists, running the CLI, and the result table.
 * @module
 */

import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/store.ts";
import type { NewJob } from "../src/core/types.ts";
import { PERMISSION_FLAGS } from "../src/worker/self_command.ts";

/** Small counts, targets not judged (CI runs it through tests/bench_test.ts). */
export const quick = Deno.args.includes("--quick");
const pgIndex = Deno.args.indexOf("--postgres");
/** The PostgreSQL database of the postgres rows, if any. */
export const postgresUrl: string | undefined = pgIndex >= 0
  ? Deno.args[pgIndex + 1]
  : Deno.env.get("QUEUECTL_BENCH_POSTGRES_URL");
const onlyIndex = Deno.args.indexOf("--only");
/** Sections named by `--only a,b` (all when absent). */
export const only: string[] | null = onlyIndex >= 0 ? Deno.args[onlyIndex + 1].split(",") : null;

/** The backends this run measures. */
export type Backend = "sqlite" | "postgres";
export const backends: Backend[] = postgresUrl ? ["sqlite", "postgres"] : ["sqlite"];

export const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
export const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/** Sizes of the run. */
export const N = quick
  ? {
    e2e: 100,
    overhead: 500,
    batch: 5_000,
    cli: 3,
    pickup: 5,
    scale: [1_000, 5_000],
    scaleOps: 100,
  }
  : {
    e2e: 2000,
    overhead: 10_000,
    batch: 100_000,
    cli: 11,
    pickup: 40,
    scale: [1_000, 100_000, 1_000_000],
    scaleOps: 400,
  };

/** One row of the result table. */
export interface Row {
  name: string;
  value: number;
  unit: string;
  /** What the value is compared with, measured in this run. */
  baseline?: { name: string; value: number };
  /** value / baseline (or baseline / value for times: always "higher is better"). */
  ratio?: number;
  target?: string;
  ok?: boolean;
}

/** Every row added so far, in order. */
export const rows: Row[] = [];
/** Scratch directory of this run (data dir of every CLI run). */
export const tmp = await Deno.makeTempDir({ prefix: "queuectl-bench-" });
let dbCounter = 0;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Adds a row to the table and prints it as it comes. */
export function add(row: Row): void {
  rows.push(row);
  const base = row.baseline ? `  vs ${row.baseline.name} ${fmt(row.baseline.value)}` : "";
  const ratio = row.ratio === undefined ? "" : `  ratio ${row.ratio.toFixed(2)}`;
  console.error(`  ${row.name}: ${fmt(row.value)} ${row.unit}${base}${ratio}`);
}

export function fmt(value: number): string {
  return value >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(value >= 10 ? 1 : 2);
}

/** A fresh database: a SQLite file, or a PostgreSQL schema. */
export function freshDb(backend: Backend): string {
  dbCounter++;
  if (backend === "sqlite") return `${tmp}/bench-${dbCounter}.db`;
  const url = new URL(postgresUrl!);
  url.searchParams.set("schema", `bench_${Date.now().toString(36)}_${dbCounter}`);
  return url.href;
}

/** `count` jobs running `command`, due now. */
export function jobs(count: number, command = "true", prefix = "j"): NewJob[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    command,
    maxRetries: 0,
    priority: 0,
    runAt: now,
    timeout: null,
    cwd: tmp,
  }));
}

/** Stores `list` through the Store directly, in batches. */
export async function enqueue(db: string, list: NewJob[]): Promise<void> {
  const store = await openStore(db);
  for (let i = 0; i < list.length; i += 50_000) await store.enqueue(list.slice(i, i + 50_000));
  await store.close();
}

/** `deno run` arguments of the CLI, as a user's `deno task queuectl` has them. */
export function cliArgs(args: string[]): string[] {
  return ["run", "--quiet", ...PERMISSION_FLAGS, "--config", CONFIG, MAIN, ...args];
}

/** Runs the CLI on `db` and returns its wall time in ms; throws if it fails. */
export async function cliRun(db: string, args: string[], stdin?: Uint8Array): Promise<number> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(args),
    env: { QUEUECTL_DB: db, QUEUECTL_HOME: tmp, NO_COLOR: "1" },
    stdin: stdin ? "piped" : "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(`queuectl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return performance.now() - start;
}

/** Median of `N.cli` runs of the CLI on `db`, in ms. */
export async function cliMedian(db: string, args: string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < N.cli; i++) times.push(await cliRun(db, args));
  return median(times);
}

/** Drops the PostgreSQL schemas this and earlier runs made. */
export async function dropBenchSchemas(url: string): Promise<void> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { onnotice: () => {} });
  const schemas = await sql`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'`;
  for (const { nspname } of schemas) await sql.unsafe(`DROP SCHEMA "${nspname}" CASCADE`);
  await sql.end();
}
