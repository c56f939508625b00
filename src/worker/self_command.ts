/**
 * How queuectl starts copies of itself: under `deno run` it is `deno run
 * <permissions> --config <deno.json> <main module> …`; in a compiled binary
 * it is the binary alone.
 * @module
 */

/** Permissions the CLI needs; the `queuectl` task in deno.json grants the same. */
export const PERMISSION_FLAGS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-sys=hostname",
];

/** What the running program is. */
export interface SelfInfo {
  execPath: string;
  standalone: boolean;
  mainModule: string;
  /** deno.json beside the sources (import map), when running from a checkout. */
  config: string | null;
}

/** Facts about this process. */
export function currentSelf(): SelfInfo {
  const standalone = Deno.build.standalone;
  return {
    execPath: Deno.execPath(),
    standalone,
    // Not Deno.mainModule: that is whatever script imported us (the demo, a test).
    mainModule: new URL("../main.ts", import.meta.url).href,
    config: standalone ? null : new URL("../../deno.json", import.meta.url).href,
  };
}

function toPath(url: string): string {
  if (!url.startsWith("file:")) return url;
  const path = decodeURIComponent(new URL(url).pathname);
  return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path;
}

/** The program and arguments that run `queuectl <args>` again. */
export function selfCommand(
  args: string[],
  self: SelfInfo = currentSelf(),
): { program: string; args: string[] } {
  if (self.standalone) return { program: self.execPath, args };
  const config = self.config ? ["--config", toPath(self.config)] : [];
  return {
    program: self.execPath,
    args: ["run", "--quiet", ...PERMISSION_FLAGS, ...config, toPath(self.mainModule), ...args],
  };
}
