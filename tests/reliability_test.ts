// Reliability of SPEC §4–§5 under load, crashes and bad input: real supervisors, worker
// processes, shells and SQLite files in fresh temp data dirs.
//
// Sizes are cut so the file runs in a few minutes on a 2-core CI machine (where a job costs
// ~25 ms of process spawning and the queue runs 25–40 jobs/s). QUEUECTL_STRESS=1 runs the
// full-size variants: 10,000 jobs exactly once, 2,000 chaos jobs, more crash rounds and
// more contention.
import assert from "node:assert/strict";
import {
  cleanupStack,
  cli,
  killGroup,
  killMatching,
  ndjson,
  query,
  type Running,
  spawnCli,
  tempHome,
  within,
} from "./helpers.ts";

const STRESS = Deno.env.get("QUEUECTL_STRESS") === "1";
const opts = { sanitizeResources: false, sanitizeOps: false };
type Cleanup = ReturnType<typeof cleanupStack>;

/** A fresh data dir whose processes (workers, jobs: their command lines name it) die at cleanup. */
async function freshHome(cleanup: Cleanup): Promise<{ home: string; db: string }> {
  const made = await tempHome();
  cleanup.defer(made.cleanup);
  cleanup.defer(() => killMatching(made.home));
  return made;
}

/**
 * `worker start <args>` as the leader of its own process group, killed with its workers
 * at cleanup if the test did not stop it.
 */
function supervisor(home: string, args: string[], cleanup: Cleanup): Running {
  const run = spawnCli(home, ["worker", "start", ...args], { detached: true });
  cleanup.defer(async () => {
    killGroup(run.child.pid);
    await run.done;
  });
  return run;
}

/** Lines of a file the jobs append to (each `echo` is one atomic write). */
async function linesOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line !== "");
}

function tally(items: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

Deno.test({
  name: "reliability: jobs on two concurrent supervisors of 4 workers each run exactly once",
  ...opts,
  fn: async () => {
    const total = STRESS ? 10_000 : 1_000;
    const cleanup = cleanupStack();
    try {
      const { home, db } = await freshHome(cleanup);
      const file = `${home}/ran.txt`;
      const ids = Array.from({ length: total }, (_, i) => `once-${i}`);
      const enqueue = await cli(home, ["enqueue", "--file", "-"], {
        stdin: ndjson(ids.map((id) => ({ id, command: `echo $QUEUECTL_JOB_ID >> ${file}` }))),
      });
      assert.equal(enqueue.code, 0, enqueue.stderr);

      const runs = [1, 2].map(() => supervisor(home, ["--count", "4", "--drain"], cleanup));
      const codes = await within(
        "both supervisors to drain",
        Promise.all(runs.map((r) => r.done)),
        (total / 10 + 60) * 1000,
      );
      assert.deepEqual(codes, [0, 0], runs.map((r) => r.output().slice(-2000)).join("\n---\n"));

      const ran = await linesOf(file);
      const counts = tally(ran);
      const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      assert.deepEqual(twice, [], "no job ran twice");
      assert.equal(ran.length, total, "every job ran");
      assert.deepEqual([...counts.keys()].sort(), [...ids].sort(), "exactly the enqueued ids ran");

      const states = query(db, "SELECT state, attempts, count(*) AS n FROM jobs GROUP BY 1, 2");
      const outcomes = query(db, "SELECT outcome, count(*) AS n FROM attempts GROUP BY 1");
      const workers = query(db, "SELECT count(DISTINCT worker) AS n FROM attempts")[0].n;
      assert.deepEqual(states, [{ state: "completed", attempts: 1, n: total }]);
      assert.deepEqual(outcomes, [{ outcome: "completed", n: total }]);
      assert.equal(workers, 8, "all 8 workers of both supervisors took jobs");
      for (const run of runs) {
        assert.match(run.output(), /completed once-/, "each supervisor's workers ran jobs");
        assert.doesNotMatch(run.output(), /lost|recovered|worker exited|unavailable/);
      }
    } finally {
      await cleanup.run();
    }
  },
});
