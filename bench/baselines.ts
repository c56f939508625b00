/**
 * Baselines measured in the same run: what the machine itself can do, to
 * judge queuectl against. Each is measured once per run, on first use.
 * @module
 */

import { median, N, tmp } from "./lib.ts";

const spawnRates = new Map<number, Promise<number>>();

/**
 * Bare spawn rate of `sh -c true` with piped output: `parallel` Deno
 * processes, each spawning in a loop (runs/s). Measured once per run and
 * remembered, unless `again`.
 */
export function spawnRate(parallel: number, again = false): Promise<number> {
  let rate = spawnRates.get(parallel);
  if (!rate || again) {
    rate = measureSpawn(parallel, parallel === 1 ? N.e2e / 2 : N.e2e);
    spawnRates.set(parallel, rate);
  }
  return rate;
}

async function measureSpawn(parallel: number, total: number): Promise<number> {
  const script = `
    const n = Number(Deno.args[0]);
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      await new Deno.Command("/bin/sh", { args: ["-c", "true"], stdout: "piped", stderr: "piped" }).output();
    }
    console.log(performance.now() - start);`;
  const file = `${tmp}/spawn_loop.ts`;
  await Deno.writeTextFile(file, script);
  const each = Math.ceil(total / parallel);
  const outputs = await Promise.all(
    Array.from(
      { length: parallel },
      () =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-run", file, String(each)],
          stdout: "piped",
        }).output(),
    ),
  );
  const slowest = Math.max(...outputs.map((o) => Number(new TextDecoder().decode(o.stdout))));
  return (each * parallel) / (slowest / 1000);
}

let emptyMs: Promise<number> | undefined;

/** Median wall time of `deno run` on an empty script, in ms. */
export function emptyScriptMs(): Promise<number> {
  return emptyMs ??= (async () => {
    const file = `${tmp}/empty.ts`;
    await Deno.writeTextFile(file, "");
    const times: number[] = [];
    for (let i = 0; i < N.cli; i++) {
      const start = performance.now();
      await new Deno.Command(Deno.execPath(), { args: ["run", "--quiet", file] }).output();
      times.push(performance.now() - start);
    }
    return median(times);
  })();
}

/** `seq N | xargs -P parallel -n 1 sh -c true`: a C tool spawning at the machine's limit (runs/s). */
export async function xargsRate(parallel: number, total: number): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", `seq ${total} | xargs -P ${parallel} -n 1 sh -c true`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`xargs failed: ${new TextDecoder().decode(out.stderr)}`);
  return total / ((performance.now() - start) / 1000);
}

/** Whether task-spooler's `tsp` is on the PATH (bench/setup.sh installs it). */
export async function hasTsp(): Promise<boolean> {
  try {
    const out = await new Deno.Command("tsp", { args: ["-h"], stdout: "null", stderr: "null" })
      .output();
    return out.code === 0 || out.code === 1;
  } catch {
    return false;
  }
}

/**
 * Most jobs task-spooler can hold queued: each waits in a process of its own
 * connected to the server, which takes at most 1,000 connections (MAXCONN in
 * its server.c); past that, adding a job blocks.
 */
export const TSP_MAX_QUEUED = 900;

/**
 * task-spooler running `total` `true` jobs on `slots` slots, its queue filled
 * before the clock starts (a first job holds the only slot until then):
 * jobs/s from the release of the queue to the end of the last job.
 */
export async function tspRate(slots: number, total: number): Promise<number> {
  total = Math.min(total, TSP_MAX_QUEUED);
  const dir = await Deno.makeTempDir({ dir: tmp, prefix: "tsp-" });
  const env = { TS_SOCKET: `${dir}/socket`, TMPDIR: dir, TS_MAXFINISHED: String(total + 10) };
  // No pipes: a queued job's waiting process (and the server) would hold them open.
  const tsp = (...args: string[]) =>
    new Deno.Command("tsp", { args, env, stdin: "null", stdout: "null", stderr: "null" }).output();
  try {
    await tsp("-S", "1");
    await tsp("sh", "-c", `while [ ! -e ${dir}/go ]; do sleep 0.01; done`);
    for (let i = 0; i < total; i++) await tsp("true");
    await tsp("-S", String(slots));
    const start = performance.now();
    await Deno.writeTextFile(`${dir}/go`, "");
    await tsp("-w"); // the last job added
    return total / ((performance.now() - start) / 1000);
  } finally {
    await tsp("-K").catch(() => {});
  }
}
