/**
 * Platform shells (SPEC §6) and killing a job's whole process tree. Pure
 * functions of the OS name, so the Windows branches are unit-tested on Linux.
 * @module
 */

/** A program and its arguments, ready for `Deno.Command`. */
export interface ShellInvocation {
  program: string;
  args: string[];
  /** Windows only: hand `args[0]` to the program verbatim (cmd.exe parses its own line). */
  windowsRawArguments: boolean;
}

/** Operating system names as `Deno.build.os` gives them. */
export type Os = typeof Deno.build.os;

function shellName(shell: string): string {
  return shell.split(/[\\/]/).pop()!.replace(/\.exe$/i, "").toLowerCase();
}

/**
 * How to run `command`: `/bin/sh -c` on Unix, `cmd.exe /d /s /c "…"` on
 * Windows, or the configured shell (`bash`, `pwsh`, …).
 */
export function shellInvocation(
  command: string,
  shell: string | null,
  os: Os = Deno.build.os,
): ShellInvocation {
  const name = shell ? shellName(shell) : os === "windows" ? "cmd" : "sh";
  if (name === "cmd") {
    return {
      program: shell ?? "cmd.exe",
      args: [`/d /s /c "${command}"`],
      windowsRawArguments: os === "windows",
    };
  }
  if (name === "pwsh" || name === "powershell") {
    return {
      program: shell!,
      args: ["-NoProfile", "-NonInteractive", "-Command", command],
      windowsRawArguments: false,
    };
  }
  return { program: shell ?? "/bin/sh", args: ["-c", command], windowsRawArguments: false };
}

/** The `taskkill` call that ends a process tree on Windows. */
export function windowsKillTree(pid: number): { program: string; args: string[] } {
  return { program: "taskkill", args: ["/T", "/F", "/PID", String(pid)] };
}

/**
 * Signals a job's whole tree: on Unix its process group (the job runs as a
 * group leader), on Windows `taskkill /T /F`. A tree already gone is fine.
 */
export async function killTree(
  pid: number,
  signal: "SIGTERM" | "SIGKILL",
  os: Os = Deno.build.os,
): Promise<void> {
  if (os === "windows") {
    const { program, args } = windowsKillTree(pid);
    await new Deno.Command(program, { args, stdout: "null", stderr: "null" }).output().catch(
      () => {},
    );
    return;
  }
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group has no processes left.
  }
}
