/**
 * Flow control: what named queues, pauses, limits and dependencies cost a
 * claim (SPEC §8, issue 10). The same claim+complete loop runs on a plain
 * table (one queue, nothing else) and on one with 10 queues, 2 of them paused
 * and full of pending jobs, 1 limited, and 100,000 blocked jobs, all at a
 * higher priority than the runnable ones, so a claim that scanned them would
 * show it. An idle claim (nothing due) on that table, once its runnable jobs
 * ran, is compared with one on the same 10 queues that ran the same jobs but
 * holds none of the others: its cost must not follow the jobs it must not run.
 * @module
 */

import type { NewJob } from "../src/core/types.ts";
import { openStore, type Store } from "../src/store/store.ts";
import { add, type Backend, backends, enqueue, freshDb, jobs, N, quick } from "./lib.ts";

const EMPTY = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
/** Blocked jobs in the flow table. */
const BLOCKED = quick ? 5_000 : 100_000;
/** Pending jobs in each of the two paused queues. */
const PAUSED = quick ? 2_000 : 20_000;
/** Runnable jobs, spread over the 8 served queues in turn. */
const RUNNABLE = 3_000;

async function settle(store: Store, worker: string): Promise<boolean> {
  const job = await store.claim(worker, 30_000);
  if (job) await store.complete(job.id, worker, EMPTY);
  return job !== null;
}

/** Mean time (µs) of `N.scaleOps` calls of `op` on a worker's store over `db`. */
async function timed(db: string, op: (store: Store) => Promise<unknown>): Promise<number> {
  const store = await openStore(db, { worker: true });
  try {
    for (let i = 0; i < 20; i++) await op(store);
    const start = performance.now();
    for (let i = 0; i < N.scaleOps; i++) await op(store);
    return ((performance.now() - start) / N.scaleOps) * 1000;
  } finally {
    await store.close();
  }
}

const claimComplete = (store: Store) => settle(store, "w");
const idleClaim = async (store: Store) => {
  if (await store.claim("idle", 30_000)) throw new Error("the idle table had a due job");
};

/**
 * 10 queues, 2 paused and 1 limited, with runnable jobs spread over the 8
 * served ones; with `full`, also the jobs no claim may take.
 */
async function flowTable(backend: Backend, full: boolean): Promise<string> {
  const db = freshDb(backend);
  const store = await openStore(db);
  try {
    for (let q = 0; q < 10; q++) await store.setConcurrency(`q${q}`, q === 7 ? 2 : 0);
    await store.setPaused(["q8", "q9"], true);
    if (full) await notRunnable(store);
  } finally {
    await store.close();
  }
  await enqueue(db, jobs(RUNNABLE).map((job, i) => ({ ...job, queue: `q${i % 8}` })));
  return db;
}

/** High-priority jobs no claim may take: pending in the paused queues, and blocked ones. */
async function notRunnable(store: Store): Promise<void> {
  const high = (list: NewJob[], queue: string): NewJob[] =>
    list.map((job) => ({ ...job, queue, priority: 10 }));
  await store.enqueue(high(jobs(1, "true", "gate"), "q9"));
  for (const queue of ["q8", "q9"]) {
    await store.enqueue(high(jobs(PAUSED, "true", `${queue}-`), queue));
  }
  const blocked = jobs(BLOCKED, "true", "b").map((job, i) => ({
    ...job,
    queue: `q${i % 8}`,
    priority: 10,
    after: ["gate0"],
  }));
  for (let i = 0; i < blocked.length; i += 50_000) {
    await store.enqueue(blocked.slice(i, i + 50_000));
  }
}

/** Flow rows for each backend. */
export async function flow(): Promise<void> {
  for (const backend of backends) {
    const plainDb = freshDb(backend);
    await enqueue(plainDb, jobs(RUNNABLE));
    const fullDb = await flowTable(backend, true);
    // Alternate the two tables and keep each one's best: the machine is shared.
    const plain: number[] = [];
    const full: number[] = [];
    for (let round = 0; round < 3; round++) {
      plain.push(await timed(plainDb, claimComplete));
      full.push(await timed(fullDb, claimComplete));
    }
    // Both idle tables ran (and so hold the traces of) the same runnable jobs.
    const emptyDb = await flowTable(backend, false);
    for (const db of [fullDb, emptyDb]) {
      const store = await openStore(db, { worker: true });
      while (await settle(store, "drain"));
      await store.close();
    }
    const empties: number[] = [];
    const fulls: number[] = [];
    for (let round = 0; round < 3; round++) {
      empties.push(await timed(emptyDb, idleClaim));
      fulls.push(await timed(fullDb, idleClaim));
    }
    const idleEmpty = Math.min(...empties);
    const idleFull = Math.min(...fulls);

    const stored = `${BLOCKED.toLocaleString("en-US")} blocked, ${
      (2 * PAUSED).toLocaleString("en-US")
    } paused`;
    const rows: [string, number, string, number][] = [
      [
        `claim+complete, 10 queues (2 paused, 1 limited), ${stored}`,
        Math.min(...full),
        "plain table",
        Math.min(...plain),
      ],
      [`idle claim, the same 10 queues, ${stored}`, idleFull, "none of those", idleEmpty],
    ];
    add({
      name: `${backend}: claim+complete, plain table (1 queue)`,
      value: Math.min(...plain),
      unit: "µs",
    });
    add({
      name: `${backend}: idle claim, 10 queues (2 paused, 1 limited), nothing blocked or paused`,
      value: idleEmpty,
      unit: "µs",
    });
    for (const [name, value, baseline, base] of rows) {
      const ratio = base / value;
      add({
        name: `${backend}: ${name}`,
        value,
        unit: "µs",
        baseline: { name: baseline, value: base },
        ratio,
        target: "within 1.5× (ratio ≥ 0.67)",
        ok: ratio >= 1 / 1.5,
      });
    }
  }
}
