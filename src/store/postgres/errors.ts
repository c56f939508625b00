/**
 * Reading PostgreSQL and driver errors: which mean the database cannot be
 * reached (as opposed to a bad statement), which prove a statement did not
 * run (so repeating it is safe), and the one-line reason to show.
 * @module
 */

import type postgres from "postgres";
import { QueueError, quote } from "../../core/errors.ts";

/** Seconds to wait for the server to accept a connection. */
export const CONNECT_TIMEOUT_S = 10;

/**
 * Deadlock and serialization failure: the server rolled the transaction back,
 * so running it again is safe. (Two enqueues in one counter shard that insert
 * the same id can deadlock; run again, one of them reports the conflict.)
 */
export const ROLLED_BACK = ["40P01", "40001"];

/** Error classes that mean the database cannot be used right now (not a bad statement). */
const UNAVAILABLE_CLASSES = ["08", "28", "3D", "53", "57"];

/** The SQLSTATE or driver code of an error, or `""`. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/** Whether the server itself raised `error`. */
export function isPostgresError(error: unknown): error is postgres.PostgresError {
  return error instanceof Error && error.name === "PostgresError";
}

/** Whether `error` is about reaching the database rather than about a statement. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof QueueError || !(error instanceof Error)) return false;
  const code = errorCode(error);
  if (isPostgresError(error)) {
    // FATAL ends the session: e.g. a bad setting in the URL refused at connect.
    return error.severity === "FATAL" || error.severity === "PANIC" ||
      UNAVAILABLE_CLASSES.includes(code.slice(0, 2));
  }
  return /^(E[A-Z]+|CONNECT(ION)?_[A-Z_]+|SASL_[A-Z_]+|AUTH_[A-Z_]+)$/.test(code);
}

/** Connection errors raised inside a transaction before its COMMIT was sent. */
export const uncommitted = new WeakSet<object>();

/** Whether a connection error proves the statement did not take effect, so repeating it is safe. */
export function didNotRun(error: unknown): boolean {
  const code = errorCode(error);
  // The server aborted the statement as it shut the session down, the driver
  // refused the query before sending it, or the transaction never committed.
  return code === "57P01" || code === "57P02" || code === "CONNECTION_ENDED" ||
    uncommitted.has(error as object);
}

/** Whether repeating at once could help: not when the server refuses or cannot be found. */
export function worthRetrying(error: unknown): boolean {
  const code = errorCode(error);
  if (isPostgresError(error)) return code === "57P01" || code === "57P02";
  return !/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|CONNECT_TIMEOUT)$/.test(
    code,
  );
}

/** The one-line reason a connection error gives. */
export function reason(error: unknown): string {
  const code = errorCode(error);
  if (isPostgresError(error)) return error.message;
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset by the server",
    EPIPE: "connection closed by the server",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    CONNECT_TIMEOUT: `no answer within ${CONNECT_TIMEOUT_S} seconds`,
    CONNECTION_CLOSED: "the connection was closed",
    CONNECTION_ENDED: "the connection was closed",
    CONNECTION_DESTROYED: "the connection was closed",
  };
  return known[code] ?? ((error as Error).message || code);
}

/** The error for an id that names no job. */
export function notFound(id: string): QueueError {
  return new QueueError("not_found", `No job with id ${quote(id)}`);
}
