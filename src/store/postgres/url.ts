/**
 * What a `postgres://` database URL names: the server URL for the driver, the
 * schema that holds the queue (`?schema=<name>`, default `queuectl`), and the
 * URL without its password for messages.
 * @module
 */

import { invalid, quote } from "../../core/errors.ts";

/** Schema used when the URL names none. */
export const DEFAULT_SCHEMA = "queuectl";

/** Prefix of the NOTIFY channel; the schema name follows it. */
export const CHANNEL_PREFIX = "queuectl:";

/** PostgreSQL identifiers are at most 63 bytes; the channel name adds the prefix. */
const MAX_SCHEMA_LENGTH = 63 - CHANNEL_PREFIX.length;
const SCHEMA_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A parsed database URL. */
export interface PostgresTarget {
  /** The URL handed to the driver: the given one without `schema`. */
  url: string;
  /** Schema that holds the queue's tables. */
  schema: string;
  /** The schema as a quoted SQL identifier. */
  schemaIdent: string;
  /** LISTEN/NOTIFY channel of this queue: queues in other schemas do not wake it. */
  channel: string;
  /** The given URL without its password. */
  location: string;
}

/** Removes the password from a URL's user info and from a `password` parameter. */
export function redactUrl(url: string): string {
  const start = url.indexOf("://") + 3;
  const end = url.slice(start).search(/[/?#]/);
  const authorityEnd = end === -1 ? url.length : start + end;
  let authority = url.slice(start, authorityEnd);
  const at = authority.lastIndexOf("@");
  if (at !== -1) {
    const user = authority.slice(0, at).split(":")[0];
    authority = `${user}@${authority.slice(at + 1)}`;
  }
  const rest = url.slice(authorityEnd).replace(/([?&]password=)[^&#]*/gi, "$1***");
  return url.slice(0, start) + authority + rest;
}

/** Splits `url` into what the driver gets and which schema holds the queue. */
export function parsePostgresUrl(url: string): PostgresTarget {
  const location = redactUrl(url);
  const queryAt = url.indexOf("?");
  let driverUrl = url;
  let schema = DEFAULT_SCHEMA;
  if (queryAt !== -1) {
    const params = new URLSearchParams(url.slice(queryAt + 1));
    const given = params.get("schema");
    if (given !== null) {
      schema = given;
      params.delete("schema");
      const rest = params.toString();
      driverUrl = url.slice(0, queryAt) + (rest ? `?${rest}` : "");
    }
  }
  if (
    !SCHEMA_PATTERN.test(schema) || schema.length > MAX_SCHEMA_LENGTH ||
    schema.toLowerCase().startsWith("pg_")
  ) {
    throw invalid(
      `Schema ${quote(schema)} in database URL ${quote(location)} must be 1 to ` +
        `${MAX_SCHEMA_LENGTH} letters, digits or underscores, not starting with a digit or "pg_"`,
    );
  }
  return {
    url: driverUrl,
    schema,
    schemaIdent: `"${schema}"`,
    channel: CHANNEL_PREFIX + schema,
    location,
  };
}
