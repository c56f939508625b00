// Benchmark fixture: claims and completes jobs (running nothing) as fast as it can
// until its stdin closes, timing each claim, and prints
// {"claims": n, "p50": ms, "p99": ms, "max": ms, "maxGap": ms}: how long a claim took
// at the median, the 99th percentile and at worst, and the longest stretch without a claim.
// Usage: claim_probe.ts <db> <worker-id>
import { openStore } from "../src/store/store.ts";

const [db, worker] = Deno.args;
const store = await openStore(db, { worker: true });
const empty = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
let stop = false;
void (async () => {
  for await (const _ of Deno.stdin.readable) { /* until closed */ }
  stop = true;
})();
const times: number[] = [];
let maxGap = 0;
let last = performance.now();
console.error("ready");
while (!stop) {
  const start = performance.now();
  const job = await store.claim(worker, 30_000);
  const end = performance.now();
  times.push(end - start);
  maxGap = Math.max(maxGap, end - last);
  last = end;
  if (job) await store.complete(job.id, worker, empty);
  else await new Promise((resolve) => setTimeout(resolve, 1));
}
await store.close();
times.sort((a, b) => a - b);
const at = (p: number) => times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)];
console.log(
  JSON.stringify({ claims: times.length, p50: at(0.5), p99: at(0.99), max: at(1), maxGap }),
);
