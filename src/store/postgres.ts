/**
 * PostgreSQL Store (placeholder until the PostgreSQL backend lands).
 * @module
 */

import { QueueError } from "../core/errors.ts";
import type { Store, StoreOptions } from "./store.ts";

/** Opens the PostgreSQL store at `url`. */
export function openPostgresStore(_url: string, _options: StoreOptions = {}): Promise<Store> {
  return Promise.reject(
    new QueueError("unavailable", "PostgreSQL support is not built yet; use a SQLite path"),
  );
}
