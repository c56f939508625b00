/**
 * Where a worker process writes: its log lines, to the stdout it shares with
 * its supervisor or to the supervisor's log file, all of one turn of the
 * event loop in one write; and its control lines for the supervisor, on
 * stderr, at once and after every log line before them.
 * @module
 */

import { type ControlEvent, controlLine, describeEvent, type WorkerEvent } from "./events.ts";

const encoder = new TextEncoder();

/** A worker process's writers. */
export interface WorkerOutput {
  emit(event: WorkerEvent): void;
  control(event: ControlEvent): void;
  close(): void;
}

/** Log lines named `name` (e.g. `w1`) to `logFile` (appended) or stdout; control on stderr. */
export function workerOutput(name: string, logFile?: string): WorkerOutput {
  const file = logFile
    ? Deno.openSync(logFile, { create: true, append: true, mode: 0o600 })
    : undefined;
  const write = (bytes: Uint8Array) => {
    if (file) file.writeSync(bytes);
    else Deno.stdout.writeSync(bytes);
  };
  let pending = "";
  const flush = () => {
    if (pending === "") return;
    const text = pending;
    pending = "";
    write(encoder.encode(text));
  };
  return {
    emit(event) {
      if (pending === "") queueMicrotask(flush);
      pending += describeEvent(name, event) + "\n";
    },
    control(event) {
      flush(); // the supervisor may print a line that must come after these
      Deno.stderr.writeSync(encoder.encode(controlLine(event)));
    },
    close() {
      flush();
      file?.close();
    },
  };
}
