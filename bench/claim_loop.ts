// Benchmark fixture: claims and completes jobs without running anything, until
// none is left or the count is reached, and prints {"claimed": n, "ms": t}.
// Usage: claim_loop.ts <db> <worker-id> [max]
import { openStore } from "../src/store/store.ts";

const [db, worker, max] = Deno.args;
const limit = max ? Number(max) : Infinity;
const store = await openStore(db, { worker: true, listen: false });
const empty = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
let claimed = 0;
const start = performance.now();
while (claimed < limit) {
  const job = await store.claim(worker, 30_000);
  if (!job) break;
  await store.complete(job.id, worker, empty);
  claimed++;
}
const ms = performance.now() - start;
await store.close();
console.log(JSON.stringify({ claimed, ms }));
