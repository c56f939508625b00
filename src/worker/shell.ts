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

/** Parses `ps -A -o pid=,pgid=` output into the pids whose group is `pgid`. */
export function groupMembers(psOutput: string, pgid: number): number[] {
  return psOutput.split("\n").flatMap((line) => {
    const [pid, group] = line.trim().split(/\s+/).map(Number);
    return group === pgid && pid > 0 ? [pid] : [];
  });
}

/** The process group of `pid` (Unix), or `null` when it cannot be told. */
export async function processGroupOf(pid: number): Promise<number | null> {
  try {
    const output = await new Deno.Command("ps", {
      args: ["-o", "pgid=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    const pgid = Number(new TextDecoder().decode(output.stdout).trim());
    return output.success && pgid > 0 ? pgid : null;
  } catch {
    return null;
  }
}

/** Where a job's processes live, so its whole tree can be signalled. */
export type JobTree =
  /** The job leads its own process group (Unix, per-job group). */
  | { kind: "group"; pgid: number }
  /** The job shares its worker's group; every member but the worker is the job's. */
  | { kind: "shared"; pgid: number; worker: number }
  /** Windows: the tree under the job's process. */
  | { kind: "windows"; pid: number };

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** Signals every process of a job's tree. A tree already gone is fine. */
export async function killTree(tree: JobTree, sig: "SIGTERM" | "SIGKILL"): Promise<void> {
  if (tree.kind === "windows") {
    const { program, args } = windowsKillTree(tree.pid);
    await new Deno.Command(program, { args, stdout: "null", stderr: "null" }).output().catch(
      () => {},
    );
  } else if (tree.kind === "group") {
    signal(-tree.pgid, sig);
  } else {
    const output = await new Deno.Command("ps", {
      args: ["-A", "-o", "pid=,pgid="],
      stdout: "piped",
      stderr: "null",
    })
      .output().catch(() => null);
    if (!output) return;
    for (const pid of groupMembers(new TextDecoder().decode(output.stdout), tree.pgid)) {
      if (pid !== tree.worker) signal(pid, sig);
    }
  }
}
