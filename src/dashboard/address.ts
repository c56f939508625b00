/**
 * The dashboard's names and defaults that the CLI needs before it starts one:
 * where it listens, which hosts only reach this machine, what a token looks
 * like and where it is kept. Kept apart from the server so that every other
 * command starts without loading it.
 * @module
 */

/** Port the dashboard listens on by default. */
export const DEFAULT_PORT = 8787;
/** Address it binds to by default: this machine only. */
export const DEFAULT_HOST = "127.0.0.1";
/** The token file's name in the data directory. */
export const TOKEN_FILE = "dashboard.token";

/** Whether `host` (a name or address, maybe with brackets) only reaches this machine. */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(name) || name === "0:0:0:0:0:0:0:1";
}

/** Whether `text` may be a token: 8 to 200 visible ASCII characters (no spaces). */
export function isValidToken(text: string): boolean {
  return /^[\x21-\x7e]{8,200}$/.test(text);
}
