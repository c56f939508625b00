/**
 * Config rows: stored values by key, validated by core/config.ts before they
 * get here.
 * @module
 */

import type { ConfigKey } from "../../core/config.ts";
import type { Row, SqliteDb } from "./db.ts";

/** Stored config values by key (keys never set are absent). */
export async function getConfigRows(db: SqliteDb): Promise<Map<ConfigKey, string>> {
  const rows = db.sql("SELECT key, value FROM config").all() as Row[];
  return new Map(rows.map((row) => [row.key as ConfigKey, row.value as string]));
}

/** Stores a validated value; `""` resets to the default. */
export async function setConfig(db: SqliteDb, key: ConfigKey, value: string): Promise<void> {
  await db.tx(() =>
    db.sql(`
      INSERT INTO config (key, value) VALUES (?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, value)
  );
}
