// Output while a job runs (issue 10, logs --follow): the runner reports it at a
// bounded rate and never for a job that ends quickly; stored tails keep their cut
// marker, which readers use to skip what was cut.
import assert from "node:assert/strict";
import { cutMarker, parseTail, tailFrom } from "../src/core/tail.ts";
import type { OutputSnapshot } from "../src/core/types.ts";
import { OUTPUT_INTERVAL_MS, runCommand, TailBuffer } from "../src/worker/runner.ts";

const spec = { cwd: Deno.cwd(), timeout: null, shell: null, env: {} };

Deno.test("runner: a job that ends before the first interval never reports output", async () => {
  const reports: OutputSnapshot[] = [];
  const result = await runCommand({
    ...spec,
    command: "echo quick; echo err >&2",
    onOutput: (output) => reports.push(output),
    outputIntervalMs: 5_000,
  });
  assert.equal(result.error, null);
  assert.equal(new TextDecoder().decode(result.stdout), "quick\n");
  assert.deepEqual(reports, []);
});

Deno.test("runner: a chatty job reports its output at most once per interval", async () => {
  const reports: { at: number; output: OutputSnapshot }[] = [];
  const started = performance.now();
  // Prints a line every 20 ms for at least 1.2 s, however slow the machine.
  const result = await runCommand({
    ...spec,
    command: 'end=$(($(date +%s%N) + 1200000000)); i=0; while [ "$(date +%s%N)" -lt "$end" ]; ' +
      'do i=$((i+1)); echo "line $i"; sleep 0.02; done',
    onOutput: (output) => reports.push({ at: performance.now(), output }),
  });
  const took = performance.now() - started;
  assert.equal(result.error, null);
  assert.ok(reports.length >= 2, `reported ${reports.length} times in ${took} ms`);
  assert.ok(reports.length <= took / OUTPUT_INTERVAL_MS + 1, `${reports.length} in ${took} ms`);
  assert.ok(reports[0].at - started >= OUTPUT_INTERVAL_MS - 1, "not before the first interval");
  const final = new TextDecoder().decode(result.stdout);
  for (let i = 1; i < reports.length; i++) {
    assert.ok(reports[i].at - reports[i - 1].at >= OUTPUT_INTERVAL_MS - 1, `gap before ${i}`);
    assert.ok(reports[i].output.stdoutTotal > reports[i - 1].output.stdoutTotal, "new output");
  }
  for (const { output } of reports) {
    const text = new TextDecoder().decode(output.stdout);
    assert.equal(output.stdoutTotal, text.length);
    assert.ok(final.startsWith(text), "each report is the output so far");
  }
});

Deno.test("tail: the cut marker is read back, and only a real one", () => {
  const buffer = new TailBuffer(10);
  buffer.push(new TextEncoder().encode("0123456789abcdef"));
  assert.equal(buffer.total, 16);
  const stored = buffer.bytes();
  const tail = parseTail(stored);
  assert.equal(tail.dropped, 6);
  assert.equal(new TextDecoder().decode(tail.kept), "6789abcdef");
  assert.deepEqual(tailFrom(stored, 0), { bytes: tail.kept, total: 16 });
  assert.equal(new TextDecoder().decode(tailFrom(stored, 14).bytes), "ef");
  assert.equal(tailFrom(stored, 16).bytes.length, 0);
  // Output that only looks like a marker is output.
  const fake = new Uint8Array([...cutMarker(3, 100), ...new TextEncoder().encode("short")]);
  assert.deepEqual(parseTail(fake), { dropped: 0, kept: fake });
});
