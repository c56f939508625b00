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
  // Once the log's reader has gone (`worker start | head`), lines are dropped and the
  // supervisor is told once: it stops, as a SIGPIPE would stop a plain Unix tool.
  let closed = false;
  const write = (bytes: Uint8Array) => {
    if (closed) return;
    try {
      if (file) file.writeSync(bytes);
      else Deno.stdout.writeSync(bytes);
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      closed = true;
      control({ e: "output_closed" });
    }
  };
  const control = (event: ControlEvent) => {
    try {
      Deno.stderr.writeSync(encoder.encode(controlLine(event)));
    } catch (error) {
      // No supervisor reads us any more: our stdin ends too, and that stops us.
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    }
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
      control(event);
    },
    close() {
      flush();
      file?.close();
    },
  };
}
