// The supervisor stops its workers by closing their stdin (issue 13): on Windows, a write to
// a worker's stdin needs one of Deno's 4 × cores I/O threads, which idle workers' pending
// reads all held from --count 2 × cores on, so `worker start --count 4 --drain` never ended.
// These workers stop only when their stdin ends, so a supervisor that wrote instead hangs here
// (drain and `worker stop` share that stop path).
import assert from "node:assert/strict";
import { openStore } from "../src/store/store.ts";
import { runSupervisor } from "../src/worker/supervisor.ts";
import { processesMatching, tempHome, waitFor, within } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const fixture = new URL("./fixtures/eof_worker.ts", import.meta.url).href;

for (const count of [1, 4, 8]) {
  Deno.test({
    name: `supervisor: worker stop reaches ${count} idle worker(s) by closing their stdin`,
    ...opts,
    fn: async () => {
      const { db, cleanup } = await tempHome();
      const store = await openStore(db);
      const lines: string[] = [];
      try {
        const running = runSupervisor({
          store,
          db,
          count,
          drain: false,
          host: "test",
          log: (line) => lines.push(line),
          self: { execPath: Deno.execPath(), standalone: false, mainModule: fixture, config: null },
        });
        await waitFor("the supervisor to start", () => lines.some((l) => l.includes(" started ")));
        assert.equal(await store.requestStop(), 1);
        const code = await within(
          `a supervisor with ${count} idle workers to stop`,
          running,
          60_000,
        );
        assert.equal(code, 0, lines.join("\n"));
        assert.ok(lines.some((line) => line.includes("stopping (worker stop)")), lines.join("\n"));
        assert.ok(lines.at(-1)?.endsWith("supervisor stopped"), lines.join("\n"));
        assert.equal((await store.listWorkers()).length, 0, "the supervisor unregistered");
      } finally {
        await store.close();
        await cleanup();
      }
    },
  });
}

Deno.test({
  name: "supervisor: --drain on an empty queue starts no worker and leaves none behind",
  ...opts,
  fn: async () => {
    const { db, cleanup } = await tempHome();
    const store = await openStore(db);
    const lines: string[] = [];
    try {
      const code = await within(
        "a supervisor with nothing to drain to exit",
        runSupervisor({
          store,
          db,
          count: 2,
          drain: true,
          host: "test",
          log: (line) => lines.push(line),
          self: { execPath: Deno.execPath(), standalone: false, mainModule: fixture, config: null },
        }),
        60_000,
      );
      assert.equal(code, 0, lines.join("\n"));
      assert.ok(lines.some((line) => line.includes("drained")), lines.join("\n"));
      assert.ok(!lines.some((line) => / started \d+ worker/.test(line)), lines.join("\n"));
      if (Deno.build.os !== "windows") {
        assert.deepEqual(await processesMatching("eof_worker.ts"), [], "no worker left running");
      }
    } finally {
      await store.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "supervisor: a worker's exit is handled though what it started still holds its output",
  ...opts,
  fn: async () => {
    const { home, db, cleanup } = await tempHome();
    const store = await openStore(db);
    const lines: string[] = [];
    const leaks = `${home}/leaks`;
    await Deno.mkdir(leaks);
    Deno.env.set("QUEUECTL_TEST_LEAK_DIR", leaks);
    const leaky = new URL("./fixtures/leaky_worker.ts", import.meta.url).href;
    try {
      const running = runSupervisor({
        store,
        db,
        count: 1,
        drain: false,
        host: "test",
        log: (line) => lines.push(line),
        self: { execPath: Deno.execPath(), standalone: false, mainModule: leaky, config: null },
      });
      // The sleeper holds the worker's pipes for 60 s; the exit must be seen long before.
      await waitFor(
        "the worker's exit",
        () => lines.some((line) => line.includes("worker exited (exit code 3)")),
        20_000,
      );
      assert.equal(await store.requestStop(), 1);
      assert.equal(await within("the supervisor to stop", running, 20_000), 0, lines.join("\n"));
    } finally {
      Deno.env.delete("QUEUECTL_TEST_LEAK_DIR");
      for await (const entry of Deno.readDir(leaks)) {
        try {
          Deno.kill(Number(entry.name), "SIGKILL");
        } catch {
          // Gone already.
        }
      }
      await store.close();
      await cleanup();
    }
  },
});
