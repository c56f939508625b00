/**
 * `worker start|stop|list` (the worker runtime lands with the worker issue).
 * @module
 */

import type { Program } from "./mod.ts";

/** Registers `worker`. */
export function registerWorker(program: Program): void {
  program.command("worker").description("run and manage worker processes");
}
