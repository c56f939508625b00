/**
 * Where state lives (SPEC §2): the data directory and the database a command
 * uses, from flags and environment.
 * @module
 */

import { join } from "node:path";
import { openStore, type Store, type StoreOptions } from "../store/store.ts";
import { withLocalLiveness } from "../worker/liveness.ts";

/** The data directory: `$QUEUECTL_HOME`, else `~/.queuectl` (`%USERPROFILE%\.queuectl`). */
export function resolveHome(): string {
  const explicit = Deno.env.get("QUEUECTL_HOME");
  if (explicit) return explicit;
  const user = Deno.build.os === "windows" ? Deno.env.get("USERPROFILE") : Deno.env.get("HOME");
  return join(user ?? ".", ".queuectl");
}

/** The database: `--db`, else `$QUEUECTL_DB`, else `<home>/queuectl.db`. */
export function resolveDb(flag?: string): string {
  return flag || Deno.env.get("QUEUECTL_DB") || join(resolveHome(), "queuectl.db");
}

/** This machine's name as workers report it (`$QUEUECTL_HOST` overrides). */
export function hostName(): string {
  const explicit = Deno.env.get("QUEUECTL_HOST");
  if (explicit) return explicit;
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/** Options every command sees (the global ones). */
export interface GlobalOptions {
  db?: string;
}

/**
 * Opens the store a command should use, runs `fn`, and closes it. Workers and
 * supervisors of this machine whose process is gone are neither listed nor
 * asked to stop (worker/liveness.ts).
 */
export async function withStore<T>(
  globals: GlobalOptions,
  fn: (store: Store) => Promise<T>,
  options: StoreOptions = {},
): Promise<T> {
  const store = await openStore(resolveDb(globals.db), options);
  try {
    return await fn(withLocalLiveness(store, hostName()));
  } finally {
    await store.close();
  }
}
