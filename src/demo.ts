/**
 * `deno task demo`: a real end-to-end run on a fresh temporary data dir.
 * It enqueues succeeding, failing and slow jobs, runs two workers until the
 * queue is drained, and shows status, the dead-letter queue and logs.
 * @module
 */

import { selfCommand } from "./worker/self_command.ts";

const home = await Deno.makeTempDir({ prefix: "queuectl-demo-" });
const bold = (text: string) =>
  Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR") ? `\x1b[1m${text}\x1b[0m` : text;

async function queuectl(...args: string[]): Promise<void> {
  console.log(
    bold(`\n$ queuectl ${args.map((a) => /[\s"'{}$;|&]/.test(a) ? `'${a}'` : a).join(" ")}`),
  );
  const { program, args: full } = selfCommand(args);
  const status = await new Deno.Command(program, {
    args: full,
    env: { QUEUECTL_HOME: home, QUEUECTL_DB: "" },
    stdin: "null",
  }).spawn().status;
  if (status.code !== 0) console.log(`(exit code ${status.code})`);
}

console.log(`queuectl demo in ${home}`);
try {
  await queuectl("config", "set", "backoff-base", "1.5");
  await queuectl("enqueue", "-c", "echo hello from $QUEUECTL_JOB_ID", "--id", "hello");
  await queuectl(
    "enqueue",
    '{"id":"flaky","command":"test $QUEUECTL_ATTEMPT -ge 2 && echo ok || exit 1","max_retries":3}',
  );
  await queuectl("enqueue", '{"id":"doomed","command":"echo failing >&2; exit 3","max_retries":1}');
  await queuectl("enqueue", "-c", "sleep 1; echo slow done", "--id", "slow", "--priority", "5");
  await queuectl(
    "enqueue",
    "-c",
    "sleep 30",
    "--id",
    "too-slow",
    "--timeout",
    "1",
    "--max-retries",
    "0",
  );
  await queuectl("enqueue", "-c", "echo later", "--id", "later", "--delay", "2s");
  await queuectl("status");
  await queuectl("worker", "start", "--count", "2", "--drain");
  await queuectl("status");
  await queuectl("dlq", "list");
  await queuectl("show", "flaky");
  await queuectl("logs", "doomed");
  await queuectl("dlq", "retry", "doomed");
  await queuectl("list");
} finally {
  await Deno.remove(home, { recursive: true });
}
