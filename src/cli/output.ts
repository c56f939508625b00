/**
 * Terminal output: aligned tables, colour only on a terminal without
 * `NO_COLOR`, human times, and JSON for `--json`.
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import type { JobState } from "../core/types.ts";

const encoder = new TextEncoder();

/** Whether stdout gets colour: a terminal, and `NO_COLOR` unset. */
export function useColor(): boolean {
  return Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
}

const STATE_COLORS: Record<JobState, number> = {
  blocked: 35,
  pending: 36,
  processing: 34,
  completed: 32,
  failed: 33,
  dead: 31,
  cancelled: 90,
};

/** A state name, coloured when colour is on. */
export function paintState(state: JobState, color = useColor()): string {
  return color ? `\x1b[${STATE_COLORS[state]}m${state}\x1b[0m` : state;
}

/** Dim text when colour is on. */
export function dim(text: string, color = useColor()): string {
  return color ? `\x1b[2m${text}\x1b[0m` : text;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}

/** Prints a line to stdout. */
export function out(text = ""): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

/**
 * Text made safe to print as one line: line breaks and other control characters
 * (C0, DEL, C1, U+2028, U+2029) become escapes such as `\n`, `\r`, `\x1b`, `\u2028`,
 * so input quoted in a message can neither split the line nor drive the terminal.
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (char) => {
    if (char === "\n") return "\\n";
    if (char === "\r") return "\\r";
    if (char === "\t") return "\\t";
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Prints one line to stderr, control characters escaped (see {@linkcode printable}). */
export function err(text: string): void {
  Deno.stderr.writeSync(encoder.encode(printable(text) + "\n"));
}

/** Prints a value as pretty JSON. */
export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Width available for a table: the terminal's, or 120 when piped. */
export function outputWidth(): number {
  try {
    if (Deno.stdout.isTerminal()) return Deno.consoleSize().columns;
  } catch {
    // not a console
  }
  return 120;
}

/** Shortens text to `max` characters on one line. */
export function truncate(text: string, max: number): string {
  const line = text.replace(/\s*\n\s*/g, " ⏎ ");
  return line.length <= max ? line : `${line.slice(0, Math.max(1, max - 1))}…`;
}

/**
 * Prints rows as an aligned table with a header; the last column is cut to
 * fit the output width.
 */
export function printTable(header: string[], rows: string[][]): void {
  const color = useColor();
  const widths = header.map((title, column) =>
    Math.max(visibleLength(title), ...rows.map((row) => visibleLength(row[column] ?? "")))
  );
  const used = widths.slice(0, -1).reduce((sum, width) => sum + width + 2, 0);
  const lastWidth = Math.max(20, outputWidth() - used);
  const line = (cells: string[]) =>
    cells.map((cell, column) => {
      if (column === cells.length - 1) return truncate(cell, lastWidth);
      return cell + " ".repeat(widths[column] - visibleLength(cell));
    }).join("  ").trimEnd();
  out(dim(line(header), color));
  for (const row of rows) out(line(row));
}

/** "3s ago" / "in 5m" relative to now. */
export function relative(ms: number | null, now = Date.now()): string {
  if (ms === null) return "-";
  const seconds = (now - ms) / 1000;
  if (Math.abs(seconds) < 1) return "now";
  return seconds >= 0 ? `${formatDuration(seconds)} ago` : `in ${formatDuration(-seconds)}`;
}

/** ISO-8601 UTC with seconds precision, or "-". */
export function timestamp(ms: number | null): string {
  return ms === null ? "-" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
