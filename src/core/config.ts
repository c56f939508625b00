/**
 * Config keys of SPEC §7: names, defaults and validation. Config lives in the
 * store so every worker on every machine sees the same values.
 * @module
 */

import { invalid, quote } from "./errors.ts";
import { parseDuration } from "./duration.ts";

/** Shells a job may run under (SPEC §6). */
export const SHELLS = ["sh", "bash", "zsh", "dash", "cmd", "pwsh", "powershell"] as const;

/** Effective configuration. Times are seconds; `shell: null` means the platform default. */
export interface Config {
  maxRetries: number;
  backoffBase: number;
  backoffMax: number;
  jobTimeout: number;
  leaseTimeout: number;
  pollInterval: number;
  shell: string | null;
  /** Seconds a completed job is kept after it finished (0: forever). */
  retainCompleted: number;
  /** Seconds a cancelled job is kept (0: forever). */
  retainCancelled: number;
  /** Seconds a dead job is kept (0: forever). */
  retainDead: number;
  claimAhead: number;
}

/** Defaults of SPEC §7. */
export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  maxRetries: 3,
  backoffBase: 2,
  backoffMax: 3600,
  jobTimeout: 0,
  leaseTimeout: 30,
  pollInterval: 1,
  shell: null,
  retainCompleted: 7 * 86400,
  retainCancelled: 7 * 86400,
  retainDead: 0,
  claimAhead: 8,
});

/** A config key as users write it (kebab-case). */
export type ConfigKey =
  | "max-retries"
  | "backoff-base"
  | "backoff-max"
  | "job-timeout"
  | "lease-timeout"
  | "poll-interval"
  | "shell"
  | "retain-completed"
  | "retain-cancelled"
  | "retain-dead"
  | "claim-ahead";

interface KeyDef {
  field: keyof Config;
  help: string;
  parse(text: string): number | string | null;
}

function seconds(key: string, min: number, inclusive: boolean) {
  return (text: string): number => {
    const value = parseDuration(text);
    if (value === null || (inclusive ? value < min : value <= min)) {
      throw invalid(
        `Config ${key} must be ${inclusive ? "at least" : "more than"} ${min} seconds ` +
          `(a number or a duration like 90s, 5m), got ${quote(text)}`,
      );
    }
    return value;
  };
}

const KEYS: Record<ConfigKey, KeyDef> = {
  "max-retries": {
    field: "maxRetries",
    help: "retries after the first run for jobs that do not set max_retries",
    parse(text) {
      if (!/^\d+$/.test(text.trim()) || Number(text) > 1_000_000) {
        throw invalid(
          `Config max-retries must be a whole number from 0 to 1000000, got ${quote(text)}`,
        );
      }
      return Number(text);
    },
  },
  "backoff-base": {
    field: "backoffBase",
    help: "after the k-th failure the next run waits base^k seconds",
    parse(text) {
      const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
      if (!(value >= 1 && value <= 1000)) {
        throw invalid(`Config backoff-base must be a number from 1 to 1000, got ${quote(text)}`);
      }
      return value;
    },
  },
  "backoff-max": {
    field: "backoffMax",
    help: "longest wait between retries, in seconds",
    parse: seconds("backoff-max", 0, true),
  },
  "job-timeout": {
    field: "jobTimeout",
    help: "timeout in seconds for jobs that do not set one (0: none)",
    parse: seconds("job-timeout", 0, true),
  },
  "lease-timeout": {
    field: "leaseTimeout",
    help: "seconds after which a silent worker's job is retried",
    parse: seconds("lease-timeout", 1, true),
  },
  "poll-interval": {
    field: "pollInterval",
    help: "longest an idle worker waits before looking for due jobs, in seconds",
    parse: seconds("poll-interval", 0.01, true),
  },
  shell: {
    field: "shell",
    help: `shell that runs commands: ${SHELLS.join(", ")} or "default"`,
    parse(text) {
      const value = text.trim();
      if (value === "default") return null;
      const base = value.split(/[\\/]/).pop()!.replace(/\.exe$/i, "").toLowerCase();
      if (!(SHELLS as readonly string[]).includes(base)) {
        throw invalid(
          `Config shell must be one of ${SHELLS.join(", ")}, default (or a path to one), got ${
            quote(text)
          }`,
        );
      }
      return value;
    },
  },
  "retain-completed": {
    field: "retainCompleted",
    help: "completed jobs are deleted this long after they finished (0: kept forever)",
    parse: seconds("retain-completed", 0, true),
  },
  "retain-cancelled": {
    field: "retainCancelled",
    help: "cancelled jobs are deleted this long after they were cancelled (0: kept forever)",
    parse: seconds("retain-cancelled", 0, true),
  },
  "retain-dead": {
    field: "retainDead",
    help: "dead jobs are deleted this long after they died (0: kept forever)",
    parse: seconds("retain-dead", 0, true),
  },
  "claim-ahead": {
    field: "claimAhead",
    help: "most jobs a worker claims at once while its runs are short (1: one at a time)",
    parse(text) {
      if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > 64) {
        throw invalid(`Config claim-ahead must be a whole number from 1 to 64, got ${quote(text)}`);
      }
      return Number(text);
    },
  },
};

/** Every key, in display order. */
export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];

/** Accepts kebab-case or snake_case; throws a bad-input error naming the valid keys. */
export function normalizeConfigKey(key: string): ConfigKey {
  const kebab = key.trim().toLowerCase().replaceAll("_", "-");
  if (kebab in KEYS) return kebab as ConfigKey;
  throw invalid(`Unknown config key ${quote(key)}; valid keys: ${CONFIG_KEYS.join(", ")}`);
}

/** Validates a value for a key and returns it in stored form (text). */
export function validateConfigValue(key: ConfigKey, text: string): string {
  const value = KEYS[key].parse(text);
  return value === null ? "" : String(value);
}

/** Help text of a key. */
export function configHelp(key: ConfigKey): string {
  return KEYS[key].help;
}

/** Field of {@linkcode Config} behind a key. */
export function configField(key: ConfigKey): keyof Config {
  return KEYS[key].field;
}

/** Builds the effective config from stored rows (key → text); unknown or bad rows are ignored. */
export function configFromRows(rows: Iterable<[string, string]>): Config {
  const config: Config = { ...DEFAULT_CONFIG };
  for (const [key, text] of rows) {
    if (!(key in KEYS)) continue;
    const def = KEYS[key as ConfigKey];
    try {
      const value = text === "" ? null : def.parse(text);
      (config as unknown as Record<string, unknown>)[def.field] = value;
    } catch {
      // A value stored by a newer version with other rules: keep the default.
    }
  }
  return config;
}
