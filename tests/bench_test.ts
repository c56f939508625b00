// Runs `deno task bench --quick` so the benchmark never rots (no targets judged here:
// timings on shared CI machines are noise; the full run is `deno task bench`).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PERMISSIONS, unixOnly } from "./helpers.ts";

Deno.test({
  name: "bench: the quick benchmark runs and prints every row",
  ...unixOnly,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bench = fileURLToPath(new URL("../bench/bench.ts", import.meta.url));
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, bench, "--quick"],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    for (
      const row of [
        "xargs -P 2 -n 1 sh -c true",
        "Deno loop spawning sh -c true, parallelism 2",
        "sqlite: end-to-end 100 true jobs, --count 2",
        "sqlite: the same --count 2 run against the Deno loop",
        "sqlite: queue overhead, claim+complete per job, 1 process",
        "sqlite: queue overhead, exchange, batches of 8, 1 process",
        "sqlite: idle claim, 5,000 delayed jobs",
        "sqlite: idle pickup latency p50",
        "sqlite: enqueue --file of 5000 jobs",
        "sqlite: queuectl status",
        "sqlite: claim+complete with 5,000 stored",
        "sqlite: claim+complete, 10 queues (2 paused, 1 limited), 5,000 blocked",
        "sqlite: idle claim, the same 10 queues, 5,000 blocked",
        "sqlite: peak RSS, one worker",
        "sqlite: longest claim pause during the purge of 20,000",
        "sqlite: soak, db size at 8 s",
      ]
    ) {
      assert.ok(stdout.includes(row), `row "${row}" is in the table`);
    }
    assert.match(stdout, /--quick \(targets not judged\)/);
    const results = JSON.parse(
      await Deno.readTextFile(
        fileURLToPath(new URL("../bench/results-quick.json", import.meta.url)),
      ),
    );
    assert.equal(results.quick, true);
    assert.ok(
      results.rows.every((row: { value: number }) => Number.isFinite(row.value) && row.value > 0),
    );
  },
});
