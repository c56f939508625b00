/**
 * Store contract: output a worker flushes while a job runs, and reading it
 * from an offset (`logs --follow`).
 * @module
 */

import assert from "node:assert/strict";
import { cutMarker } from "../../src/core/tail.ts";
import { type ContractTest, job, LEASE, rejectsWith } from "./fixtures.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

/** Registers these cases with `test`. */
export function registerOutput(test: ContractTest): void {
  test("output saved while a job runs is read from an offset", async (store, clock) => {
    await store.enqueue([job("live", clock)]);
    await store.claim("w", LEASE);
    const none = await store.readOutput("live", 1, { stdout: 0, stderr: 0 });
    assert.deepEqual(
      [none?.outcome, none?.stdoutTotal, none?.stdout.length],
      ["running", 0, 0],
      "nothing flushed yet",
    );
    const first = "line 1\n".repeat(50);
    assert.equal(
      await store.saveOutput("live", "w", {
        stdout: bytes(first),
        stderr: bytes("warn\n"),
        stdoutTotal: first.length,
        stderrTotal: 5,
      }),
      true,
    );
    const read = await store.readOutput("live", 1, { stdout: 0, stderr: 0 });
    assert.equal(text(read!.stdout), first);
    assert.equal(text(read!.stderr), "warn\n");
    const more = first + "line 2\n";
    await store.saveOutput("live", "w", {
      stdout: bytes(more),
      stderr: bytes("warn\n"),
      stdoutTotal: more.length,
      stderrTotal: 5,
    });
    const next = await store.readOutput("live", 1, { stdout: first.length, stderr: 5 });
    assert.equal(text(next!.stdout), "line 2\n", "only the new bytes");
    assert.equal(next!.stderr.length, 0);
    assert.equal(next!.stdoutTotal, more.length);
    assert.equal((await store.logs("live"))?.stdout.length, more.length, "logs shows it too");
    assert.equal(
      await store.saveOutput("live", "other-worker", {
        stdout: bytes("x"),
        stderr: new Uint8Array(),
        stdoutTotal: 1,
        stderrTotal: 0,
      }),
      false,
      "only the worker running it writes",
    );
    const final = bytes(more + "end\n");
    await store.complete("live", "w", {
      exitCode: 0,
      error: null,
      stdout: final,
      stderr: bytes("warn\n"),
    });
    const end = await store.readOutput("live", 1, { stdout: more.length, stderr: 5 });
    assert.equal(end?.outcome, "completed");
    assert.equal(text(end!.stdout), "end\n", "the rest, once the run ended");
    assert.equal(end?.stdoutTotal, final.length);
    assert.equal(
      await store.saveOutput("live", "w", {
        stdout: bytes("late"),
        stderr: new Uint8Array(),
        stdoutTotal: 4,
        stderrTotal: 0,
      }),
      false,
      "a flush after the settle changes nothing",
    );
    assert.equal(text((await store.logs("live"))!.stdout), more + "end\n");
    assert.equal(await store.readOutput("live", 2, { stdout: 0, stderr: 0 }), null);
    await rejectsWith(store.readOutput("nope", 1, { stdout: 0, stderr: 0 }), "not_found", /nope/);
  });

  test("a reader behind a cut tail gets what is kept", async (store, clock) => {
    await store.enqueue([job("chatty", clock)]);
    await store.claim("w", LEASE);
    const kept = "k".repeat(1000);
    const stored = new Uint8Array([...cutMarker(5000, 1000), ...bytes(kept)]);
    await store.saveOutput("chatty", "w", {
      stdout: stored,
      stderr: new Uint8Array(),
      stdoutTotal: 6000,
      stderrTotal: 0,
    });
    const read = await store.readOutput("chatty", 1, { stdout: 10, stderr: 0 });
    assert.equal(text(read!.stdout), kept, "the cut bytes are skipped, the marker is not shown");
    assert.equal(read!.stdoutTotal, 6000);
    await store.cancel("chatty");
    const after = await store.readOutput("chatty", 1, { stdout: 5500, stderr: 0 });
    assert.equal(after?.outcome, "cancelled");
    assert.equal(text(after!.stdout), kept.slice(500), "a cancelled run keeps its flushed output");
  });
}
