// Benchmark fixture: claims and completes jobs without running anything, until none is left,
// and prints {"claimed": n, "ms": t}. Mode "single": a claim and a complete per job (two
// transactions); mode "batch": the worker's hot path, Store.exchange recording a batch of
// completions with the next claim of up to 8 jobs (one transaction per batch).
// Usage: claim_loop.ts <db> <worker-id> [single|batch]
import { openStore } from "../src/store/store.ts";

const [db, worker, mode = "single"] = Deno.args;
const store = await openStore(db, { worker: true, listen: false });
const empty = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
let claimed = 0;
const start = performance.now();
if (mode === "batch") {
  let held: string[] = [];
  do {
    const reply = await store.exchange(worker, {
      leaseMs: 30_000,
      completed: held.map((id) => ({ id, result: empty })),
      claim: 8,
    });
    held = reply.claimed.map((job) => job.id);
    claimed += held.length;
  } while (held.length > 0);
} else {
  while (true) {
    const job = await store.claim(worker, 30_000);
    if (!job) break;
    await store.complete(job.id, worker, empty);
    claimed++;
  }
}
const ms = performance.now() - start;
await store.close();
console.log(JSON.stringify({ claimed, ms }));
