/**
 * What the store contract's cases share: the fake clock, job and result
 * fixtures, and the signature of a case.
 * @module
 */

import assert from "node:assert/strict";
import type { NewJob, RunResult } from "../../src/core/types.ts";
import { QueueError } from "../../src/core/errors.ts";
import type { Store } from "../../src/store/store.ts";

/** A clock tests move by hand. */
export class FakeClock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/** Makes a fresh empty store on the given clock; `close` also cleans up. */
export type StoreFactory = (clock: FakeClock) => Promise<Store>;

/** Registers one case of the contract for the backend under test. */
export type ContractTest = (
  name: string,
  fn: (store: Store, clock: FakeClock) => Promise<void>,
) => void;

export const LEASE = 30_000;
export const ok: RunResult = {
  exitCode: 0,
  error: null,
  stdout: new TextEncoder().encode("hi\n"),
  stderr: new Uint8Array(),
};
export const exit3: RunResult = {
  exitCode: 3,
  error: "exit code 3",
  stdout: new Uint8Array(),
  stderr: new Uint8Array(),
};

export function job(id: string, clock: FakeClock, extra: Partial<NewJob> = {}): NewJob {
  return {
    id,
    command: `echo ${id}`,
    maxRetries: 2,
    priority: 0,
    runAt: clock.ms,
    timeout: null,
    cwd: "/",
    ...extra,
  };
}

export async function rejectsWith(
  promise: Promise<unknown>,
  kind: QueueError["kind"],
  pattern: RegExp,
) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof QueueError, `expected QueueError, got ${error}`);
    assert.equal(error.kind, kind);
    assert.match(error.message, pattern);
    return true;
  });
}
