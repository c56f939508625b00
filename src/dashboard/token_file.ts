/**
 * The dashboard's token file, `<home>/dashboard.token`: the token alone, with
 * no newline, so `$(cat …)` and Prometheus' `credentials_file` read it as is.
 * It is readable by its owner only (0600, in the 0700 data directory): the
 * same user's scripts and tools can read it, nobody else can.
 *
 * A restart reuses the token in the file, so bookmarks and scrape configs
 * keep working; it makes a new one when the file is missing, does not hold a
 * valid token, or could be read or changed by other users (then the old
 * token may be known, so it is not reused). Deleting the file rotates the
 * token at the next start.
 * @module
 */

import { dirname } from "node:path";
import { TOKEN_FILE } from "./address.ts";
import { generateToken, isValidToken } from "./auth.ts";

export { TOKEN_FILE };

/** Longest token file read (a token is at most 200 characters). */
const MAX_FILE_BYTES = 1024;

/** The token a dashboard uses, and what happened to the file. */
export interface FileToken {
  /** The token. */
  token: string;
  /** The file it is kept in. */
  path: string;
  /**
   * `reused`: read from the file. `created`: there was no file. `replaced`:
   * the file was unusable (`problem` says why) and now holds a new token.
   */
  how: "reused" | "created" | "replaced";
  /** Why an existing file was not reused. */
  problem?: string;
}

const unix = Deno.build.os !== "windows";

/** The token in `path`, `null` if there is no file, or why it cannot be used. */
async function readToken(path: string): Promise<{ token: string } | { problem: string } | null> {
  try {
    if ((await Deno.lstat(path)).isSymlink) return { problem: "it is a symbolic link" };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    return { problem: `it could not be read (${(error as Error).message})` };
  }
  try {
    // Check the file that is open, not the name, which could change meanwhile.
    const info = await file.stat();
    if (!info.isFile) return { problem: "it is not a regular file" };
    if (unix && info.mode !== null && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
      return { problem: `other users could read or change it (mode ${mode})` };
    }
    const buffer = new Uint8Array(MAX_FILE_BYTES + 1);
    let size = 0;
    while (size < buffer.length) {
      const read = await file.read(buffer.subarray(size));
      if (read === null) break;
      size += read;
    }
    const token = new TextDecoder().decode(buffer.subarray(0, size)).trim();
    if (size > MAX_FILE_BYTES || !isValidToken(token)) {
      return { problem: "it does not hold a token of 8 to 200 visible ASCII characters" };
    }
    return { token };
  } finally {
    file.close();
  }
}

/**
 * Writes `token` to `path`, user-only: into a new file beside it first, then
 * renamed over it, so a reader never sees half a token and a link planted at
 * `path` is replaced rather than followed.
 */
async function writeToken(path: string, token: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, token, { createNew: true, mode: 0o600 });
    if (unix) await Deno.chmod(temp, 0o600); // exactly 0600, whatever the umask
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * The token kept in `path` (normally `<home>/dashboard.token`): the one in
 * the file when it is usable, else a new one, written there first.
 */
export async function loadOrCreateToken(path: string): Promise<FileToken> {
  const found = await readToken(path);
  if (found && "token" in found) return { token: found.token, path, how: "reused" };
  const token = generateToken();
  await writeToken(path, token);
  return found === null
    ? { token, path, how: "created" }
    : { token, path, how: "replaced", problem: found.problem };
}
