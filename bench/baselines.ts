/**
 * Baselines measured in the same run: what the machine itself can do, to
 * judge queuectl against. Each is measured once per run, on first use.
 * @module
 */

import { median, N, tmp } from "./lib.ts";

const spawnRates = new Map<number, Promise<number>>();

/** Bare spawn rate of `sh -c true`: `parallel` Deno processes, each spawning in a loop. */
export function spawnRate(parallel: number): Promise<number> {
  let rate = spawnRates.get(parallel);
  if (!rate) {
    rate = measureSpawn(parallel, parallel === 1 ? N.spawn / 2 : N.spawn);
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
