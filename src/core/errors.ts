/**
 * The one error type callers of queuectl's core and store must catch.
 * @module
 */

/** Why an operation was refused; decides the exit code. */
export type QueueErrorKind = "invalid" | "not_found" | "conflict" | "unavailable";

/**
 * An expected failure with a message fit to show a user as is.
 * `invalid` and `conflict` are bad input (exit 2); `not_found` and
 * `unavailable` are runtime failures (exit 1).
 */
export class QueueError extends Error {
  readonly kind: QueueErrorKind;

  constructor(kind: QueueErrorKind, message: string) {
    super(message);
    this.name = "QueueError";
    this.kind = kind;
  }

  /** Exit code of SPEC §7 for this error. */
  get exitCode(): number {
    return this.kind === "invalid" || this.kind === "conflict" ? 2 : 1;
  }
}

/** Shorthand for a bad-input error. */
export function invalid(message: string): QueueError {
  return new QueueError("invalid", message);
}

/** Quotes a value for an error message, shortened so a 1 MB string stays one readable line. */
export function quote(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string"
      ? JSON.stringify(value)
      : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
