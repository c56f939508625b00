/**
 * The started-jobs journal: a small file per worker process in which the
 * worker notes each job it starts, before its process starts, and which it
 * empties once those runs are recorded in the store. The supervisor reads it
 * only when that worker dies: the jobs noted there ran (lost runs), and the
 * other jobs the worker held, claimed ahead, never started (they go back
 * unrun). A file costs the worker one write per job and wakes no one, where a
 * pipe would wake the supervisor for every job.
 * @module
 */

const encoder = new TextEncoder();

/** The worker's side: note starts, and forget them once recorded. */
export interface Journal {
  started(job: string): void;
  settled(): void;
  close(): void;
}

/** Opens (creating, emptied) the journal at `path`. */
export function openJournal(path: string): Journal {
  const file = Deno.openSync(path, { create: true, write: true, truncate: true, mode: 0o600 });
  return {
    started(job) {
      file.writeSync(encoder.encode(`${job}\n`));
    },
    settled() {
      file.truncateSync(0);
      file.seekSync(0, Deno.SeekMode.Start);
    },
    close() {
      file.close();
    },
  };
}

/** The jobs a dead worker's journal names, or `undefined` when it cannot be read. */
export async function readJournal(path: string): Promise<string[] | undefined> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((line) => line !== "");
  } catch {
    return undefined;
  }
}
