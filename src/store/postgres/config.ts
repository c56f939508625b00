/**
 * Config rows: stored values by key, validated by core/config.ts before they
 * get here.
 * @module
 */

import type { Config, ConfigKey } from "../../core/config.ts";
import type { PgDb } from "./db.ts";
import { query, readConfig } from "./sql.ts";

/** The stored config with defaults filled in. */
export async function getConfig(db: PgDb): Promise<Config> {
  return await db.run("idempotent", (sql) => readConfig(sql));
}

/** Stored config values by key (keys never set are absent). */
export async function getConfigRows(db: PgDb): Promise<Map<ConfigKey, string>> {
  const rows = await db.run("idempotent", (sql) => query(sql, "SELECT key, value FROM config"));
  return new Map(rows.map((row) => [row.key as ConfigKey, row.value as string]));
}

/** Stores a validated value; `""` resets to the default. */
export async function setConfig(db: PgDb, key: ConfigKey, value: string): Promise<void> {
  await db.run("idempotent", (sql) =>
    query(
      sql,
      `INSERT INTO config (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [key, value],
    ));
}
