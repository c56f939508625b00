/**
 * Which registered supervisors and workers of this machine are gone, seen at
 * once instead of when their heartbeat goes stale (after `lease-timeout`).
 *
 * A row is judged here only when its host is this machine's name
 * (`QUEUECTL_HOST` or the host name): its process is gone when no process has
 * its pid, or when the process with that pid started at another time than the
 * one stored at registration (the pid was reused). Rows of other hosts, and
 * rows whose process this OS cannot describe, still age out by heartbeat.
 *
 * The store knows no processes, so callers filter what it lists
 * ({@linkcode liveWorkers}) and forget the dead rows with `unregisterWorker`.
 * @module
 */

import type { WorkerInfo } from "../core/types.ts";
import { type Store, withOverrides } from "../store/store.ts";

/**
 * Start times that differ by less than this are the same process (ms): `ps`
 * tells the elapsed time in whole seconds.
 */
const SAME_START_MS = 2_000;

/**
 * When each of `pids` started (ms since epoch; `null`: no live process has
 * that pid, and a zombie counts as gone), or `undefined` when this OS cannot
 * tell. One `ps` for all of them: Deno reads /proc only with --allow-all,
 * and procps's `ps` derives the elapsed time from /proc/<pid>/stat's start
 * time (field 22) and the boot time itself. Windows is left to the heartbeat.
 */
export async function processStartTimes(
  pids: number[],
): Promise<Map<number, number | null> | undefined> {
  if (Deno.build.os === "windows") return undefined;
  const valid = pids.filter((pid) => Number.isInteger(pid) && pid > 0);
  const result = new Map<number, number | null>(pids.map((pid) => [pid, null]));
  if (valid.length === 0) return result;
  try {
    const output = await new Deno.Command("ps", {
      args: ["-o", "pid=,stat=,etime=", "-p", valid.join(",")],
      env: { LC_ALL: "C" },
      stdout: "piped",
      stderr: "null",
    }).output();
    const now = Date.now();
    // ps exits 1 with no output when none of the pids exists.
    for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (fields.length !== 3) continue;
      const [pid, stat, etime] = fields;
      const elapsed = parseElapsed(etime);
      if (elapsed === null) return undefined;
      result.set(Number(pid), stat.startsWith("Z") ? null : now - elapsed * 1000);
    }
    return result;
  } catch {
    return undefined; // no ps here
  }
}

/** `ps` elapsed time, `[[dd-]hh:]mm:ss`, in seconds. */
function parseElapsed(etime: string): number | null {
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(etime);
  if (!match) return null;
  const [days, hours, minutes, seconds] = match.slice(1).map((part) => Number(part ?? 0));
  return ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
}

/** When process `pid` started (see {@linkcode processStartTimes}). */
export async function processStartTime(pid: number): Promise<number | null | undefined> {
  return (await processStartTimes([pid]))?.get(pid);
}

let ownStart: number | null = null;
let askedOwnStart = false;

/**
 * When this process started, for its registration: `null` until known (the
 * first call asks `ps` in the background; a heartbeat fills the time in once
 * it is known) and where the OS cannot tell.
 */
export function ownStartTime(): number | null {
  if (!askedOwnStart) {
    askedOwnStart = true;
    processStartTime(Deno.pid).then((started) => ownStart = started ?? null, () => {});
  }
  return ownStart;
}

/** Those of `workers` that are processes of this machine (`host`) and are gone. */
export async function goneHere(workers: WorkerInfo[], host: string): Promise<WorkerInfo[]> {
  const local = workers.filter((worker) => worker.host === host);
  if (local.length === 0) return [];
  const starts = await processStartTimes(local.map((worker) => worker.pid));
  if (!starts) return [];
  return local.filter((worker) => {
    const started = starts.get(worker.pid);
    if (started === null || started === undefined) return true;
    return worker.processStartedAt !== null &&
      Math.abs(started - worker.processStartedAt) >= SAME_START_MS;
  });
}

/**
 * Lists live workers and supervisors: those whose process is gone from this
 * machine (`host`) are left out and forgotten at once (failing to forget one
 * is harmless: its heartbeat ages out).
 */
export async function liveWorkers(store: Store, host: string): Promise<WorkerInfo[]> {
  const workers = await store.listWorkers();
  const gone = await goneHere(workers, host);
  if (gone.length === 0) return workers;
  await Promise.all(gone.map((worker) => store.unregisterWorker(worker.id).catch(() => {})));
  return workers.filter((worker) => !gone.includes(worker));
}

/**
 * `store`, where `listWorkers` leaves out (and forgets) processes of this
 * machine that are gone, and `requestStop` asks only live supervisors: a
 * supervisor killed with SIGKILL is neither listed, counted nor waited for.
 */
export function withLocalLiveness(store: Store, host: string): Store {
  return withOverrides(store, {
    listWorkers: () => liveWorkers(store, host),
    requestStop: async () => {
      await liveWorkers(store, host);
      return await store.requestStop();
    },
  });
}
