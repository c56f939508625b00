// The second Ctrl-C: the supervisor stops at once, kills the running job's whole tree and
// fails the job as lost, on every OS (on Windows through taskkill /T /F, with no ping left).
import assert from "node:assert/strict";
import { openStore } from "../src/store/store.ts";
import { runSupervisor } from "../src/worker/supervisor.ts";
import { cli, cliJson, processesMatching, tempHome, waitFor, within } from "./helpers.ts";
import { running } from "./windows/win.ts";

const windows = Deno.build.os === "windows";

Deno.test({
  name: "supervisor: a second Ctrl-C kills the running job's tree and fails it as lost",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { home, db, cleanup } = await tempHome();
    const marker = `31.${Math.floor(Math.random() * 1e6)}`;
    const command = windows
      ? "ping -n 31 127.0.0.1 >nul"
      : `sleep ${marker} & sleep ${marker}; wait`;
    const leftovers = () => windows ? running("PING.EXE") : processesMatching(`sleep ${marker}`);
    const store = await openStore(db);
    const lines: string[] = [];
    let press = () => {};
    try {
      const enqueued = await cli(home, ["enqueue", "-c", command, "--id", "long", "--cwd", home]);
      assert.equal(enqueued.code, 0, enqueued.stderr);
      const stopped = runSupervisor({
        store,
        db,
        count: 1,
        drain: false,
        host: "test",
        log: (line) => lines.push(line),
        interrupts: (fn) => press = fn,
      });
      await waitFor("the job's processes", async () => (await leftovers()).length > 0, 120_000);
      press();
      await waitFor("the graceful stop", () => lines.some((l) => l.includes("Ctrl-C again")));
      press();
      const code = await within("the supervisor to stop at once", stopped, 30_000);
      assert.equal(code, 130, lines.join("\n"));
      assert.deepEqual(await leftovers(), [], "nothing of the job is left running");
      const job = await cliJson<{ state: string; last_error: string }>(home, ["show", "long"]);
      assert.equal(job.state, "failed", "a lost run is retried like any failure");
      assert.match(job.last_error, /worker lost \(supervisor stopped at once\)/);
    } finally {
      await store.close();
      await cleanup();
    }
  },
});
