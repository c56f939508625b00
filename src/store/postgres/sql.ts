/**
 * What every PostgreSQL statement family shares: running a prepared
 * statement, the time expression, and how values are stored.
 * @module
 */

import type postgres from "postgres";
import { type Config, configFromRows } from "../../core/config.ts";

/**
 * The current time in ms since the epoch. Every statement that needs the time
 * takes it as `$1`: `null` in production, so the database clock decides (one
 * value per transaction), or an injected test clock's reading.
 */
export const NOW = "coalesce($1::bigint, floor(extract(epoch FROM now()) * 1000)::bigint)";

/** A result row, columns by name. */
export type Row = Record<string, unknown>;
/** A pool or a transaction: what a statement runs on. */
export type Sql = postgres.Sql | postgres.TransactionSql;

/** How a call may be repeated after the connection failed under it. */
export type Retry =
  /** Reads and writes whose repetition changes nothing: repeat after any connection error. */
  | "idempotent"
  /** Repeat only when the server says the statement did not run. */
  | "safe";

/** Runs a prepared statement. */
export function query(sql: Sql, text: string, params: unknown[] = []): Promise<Row[]> {
  return sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
}

/** Output as stored: empty output is NULL, like SQLite's store. */
export function blob(bytes: Uint8Array | undefined): Uint8Array | null {
  return !bytes || bytes.length === 0 ? null : bytes;
}

/** A driver's Buffer as a plain Uint8Array. */
export function bytes(value: unknown): Uint8Array {
  return value ? new Uint8Array(value as Uint8Array) : new Uint8Array();
}

/** Whether `id` could name a stored job: PostgreSQL text cannot hold NUL characters. */
export function storable(id: string): boolean {
  return !id.includes("\0");
}

/** PostgreSQL text cannot hold NUL characters; free text loses them. */
export function text(value: string | null): string | null {
  return value === null ? null : value.replaceAll("\0", "");
}

/** The stored config with defaults filled in. */
export async function readConfig(sql: Sql): Promise<Config> {
  const rows = await query(sql, "SELECT key, value FROM config");
  return configFromRows(rows.map((row) => [row.key as string, row.value as string]));
}
