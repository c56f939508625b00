/**
 * Scale: the cost of a claim and of `status` as the table grows from a
 * thousand to a million stored jobs.
 * @module
 */

import { openStore } from "../src/store/store.ts";
import { add, type Backend, backends, cliMedian, enqueue, freshDb, jobs, N, quick } from "./lib.ts";

/** Claim + complete cost (µs) and status time (ms) with `stored` jobs in the table. */
async function measure(backend: Backend, stored: number) {
  const db = freshDb(backend);
  await enqueue(db, jobs(stored));
  const store = await openStore(db, { worker: true, listen: false });
  const empty = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
  for (let i = 0; i < 20; i++) {
    await store.complete((await store.claim("warm", 30_000))!.id, "warm", empty);
  }
  const start = performance.now();
  for (let i = 0; i < N.scaleOps; i++) {
    const job = await store.claim("w", 30_000);
    await store.complete(job!.id, "w", empty);
  }
  const claimUs = ((performance.now() - start) / N.scaleOps) * 1000;
  await store.close();
  return { claimUs, statusMs: await cliMedian(db, ["status"]) };
}

/** Scale rows on SQLite. */
export async function scale(): Promise<void> {
  for (const backend of ["sqlite"] as const) {
    const results = [];
    for (const stored of N.scale) results.push({ stored, ...await measure(backend, stored) });
    const first = results[0];
    for (const result of results) {
      const claimRatio = first.claimUs / result.claimUs;
      add({
        name: `${backend}: claim+complete with ${result.stored.toLocaleString("en-US")} stored`,
        value: result.claimUs,
        unit: "µs",
        baseline: { name: `at ${first.stored}`, value: first.claimUs },
        ratio: claimRatio,
        target: "within 1.5× (ratio ≥ 0.67)",
        ok: claimRatio >= 1 / 1.5,
      });
      const statusRatio = first.statusMs / result.statusMs;
      add({
        name: `${backend}: status with ${result.stored.toLocaleString("en-US")} stored`,
        value: result.statusMs,
        unit: "ms",
        baseline: { name: `at ${first.stored}`, value: first.statusMs },
        ratio: statusRatio,
        target: "within 1.5× (ratio ≥ 0.67)",
        ok: statusRatio >= 1 / 1.5,
      });
    }
  }
}

/** Mean cost (µs) of a claim that finds nothing due, with `delayed` jobs waiting in the future. */
async function idleClaimUs(backend: Backend, delayed: number): Promise<number> {
  const db = freshDb(backend);
  const later = Date.now() + 3_600_000;
  // Three priorities, as a real queue has: the claim seeks each, never walks its jobs.
  await enqueue(
    db,
    jobs(delayed, "true", "d").map((job, i) => ({ ...job, runAt: later + i, priority: i % 3 })),
  );
  const store = await openStore(db, { worker: true });
  for (let i = 0; i < 20; i++) await store.claim("warm", 30_000);
  const ops = N.scaleOps;
  const start = performance.now();
  for (let i = 0; i < ops; i++) {
    if (await store.claim("w", 30_000)) throw new Error("a delayed job was claimed");
  }
  const us = ((performance.now() - start) / ops) * 1000;
  await store.close();
  return us;
}

/**
 * An idle claim with 100,000 delayed jobs against one with 1,000 (SPEC §8: within 1.5×): the
 * same three priorities either way, so what could differ is only a walk over the jobs.
 */
export async function idleClaims(): Promise<void> {
  const many = quick ? 5_000 : 100_000;
  for (const backend of backends) {
    const few = await idleClaimUs(backend, 1_000);
    const loaded = await idleClaimUs(backend, many);
    add({
      name: `${backend}: idle claim, ${many.toLocaleString("en-US")} delayed jobs`,
      value: loaded,
      unit: "µs",
      baseline: { name: "1,000 delayed", value: few },
      ratio: few / loaded,
      target: "within 1.5× (ratio ≥ 0.67)",
      ok: few / loaded >= 1 / 1.5,
    });
  }
}
