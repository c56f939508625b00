/**
 * `deno task bench [--quick] [--postgres URL] [--only a,b]`: measures queuectl
 * against baselines taken in the same run on the same machine (SPEC §8),
 * prints a table and writes bench/results.json.
 *
 * `--quick` runs small counts without judging targets (CI runs it through
 * tests/bench_test.ts so the benchmark never rots). PostgreSQL rows run when
 * `--postgres` or `$QUEUECTL_BENCH_POSTGRES_URL` names a database. `--only`
 * runs the named sections (see SECTIONS); a partial run writes no results file.
 *
 * Each section lives in its own file and adds its rows with `add()` from lib.ts.
 * @module
 */

import { fileURLToPath } from "node:url";
import { fleet } from "./fleet.ts";
import { housekeeping } from "./housekeeping.ts";
import { cliRows, pickupRows } from "./latency.ts";
import { dropBenchSchemas, fmt, only, postgresUrl, quick, rows, tmp } from "./lib.ts";
import { flow } from "./flow.ts";
import { idleClaims, scale } from "./scale.ts";
import { memory, throughput } from "./throughput.ts";

/** Sections in the order they run. */
const SECTIONS: Record<string, () => Promise<void>> = {
  throughput,
  pickup: pickupRows,
  cli: cliRows,
  scale,
  idle: idleClaims,
  flow,
  memory,
  fleet,
  housekeeping,
};

const unknown = (only ?? []).filter((name) => !(name in SECTIONS));
if (unknown.length) {
  console.error(
    `Unknown section ${unknown.join(", ")}; sections: ${Object.keys(SECTIONS).join(", ")}`,
  );
  Deno.exit(2);
}

console.error(
  `queuectl bench${
    quick ? " --quick" : ""
  } on ${Deno.build.target}, ${navigator.hardwareConcurrency} cores`,
);
const started = performance.now();
for (const [name, section] of Object.entries(SECTIONS)) {
  if (!only || only.includes(name)) await section();
}
await Deno.remove(tmp, { recursive: true }).catch(() => {});
if (postgresUrl) await dropBenchSchemas(postgresUrl);

const header = ["figure", "value", "baseline (same run)", "ratio", "target", ""];
const table = rows.map((row) => [
  row.name,
  `${fmt(row.value)} ${row.unit}`,
  row.baseline ? `${row.baseline.name}: ${fmt(row.baseline.value)}` : "",
  row.ratio === undefined ? "" : row.ratio.toFixed(2),
  row.target ?? "",
  row.ok === undefined || quick ? "" : row.ok ? "ok" : "MISSED",
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of table) console.log(line(row));
const seconds = (performance.now() - started) / 1000;
console.log(
  `\n${
    new Date().toISOString().slice(0, 10)
  }, ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, ${seconds.toFixed(0)} s${
    quick ? ", --quick (targets not judged)" : ""
  }`,
);
if (!only) {
  await Deno.writeTextFile(
    fileURLToPath(new URL(quick ? "./results-quick.json" : "./results.json", import.meta.url)),
    JSON.stringify(
      { date: new Date().toISOString(), quick, target: Deno.build.target, seconds, rows },
      null,
      2,
    ) + "\n",
  );
}
