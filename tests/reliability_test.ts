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
  cliJson,
  cliRawArg,
  type CliResult,
  dbSnapshot,
  killGroup,
  killMatching,
  ndjson,
  processesMatching,
  query,
  type Running,
  seededRandom,
  setConfig,
  spawnCli,
  startSupervisor,
  tempHome,
  unixOnly,
  waitFor,
  within,
} from "./helpers.ts";

const STRESS = Deno.env.get("QUEUECTL_STRESS") === "1";
/** Seed of the random choices (job lengths, victims, inputs); set QUEUECTL_SEED to replay a run. */
const SEED = Number(Deno.env.get("QUEUECTL_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const opts = { sanitizeResources: false, sanitizeOps: false, ...unixOnly };
type Cleanup = ReturnType<typeof cleanupStack>;

/** A fresh data dir whose processes (workers, jobs: their command lines name it) die at cleanup. */
async function freshHome(cleanup: Cleanup): Promise<{ home: string; db: string }> {
  const made = await tempHome();
  cleanup.defer(made.cleanup);
  cleanup.defer(() => killMatching(made.home));
  return made;
}

/** Waits until a supervisor started by {@linkcode supervisor} has registered (`worker stop` reaches it). */
async function registered(home: string, run: Running): Promise<void> {
  await waitFor("the supervisor to register", async () => {
    const workers = await cliJson<WorkerJson[]>(home, ["worker", "list"]);
    return workers.some((w) => w.kind === "supervisor" && w.pid === run.child.pid);
  });
}

interface WorkerJson {
  id: string;
  kind: "worker" | "supervisor";
  pid: number;
  supervisor: string | null;
  current_job: string | null;
}

interface StatusJson {
  jobs: Record<string, number>;
  total: number;
}

/** Jobs not yet in a final state (pending, processing or waiting to retry). */
function unfinished(status: StatusJson): number {
  return status.jobs.pending + status.jobs.processing + status.jobs.failed;
}

/**
 * SPEC §5 and §7: bad input gets its exit code and exactly one clear line on stderr: no stack
 * frames, no raw control characters (an echoed `\r` or escape sequence would split the line or
 * drive the terminal), and nothing on stdout.
 */
function assertOneErrorLine(result: CliResult, code: number, what: string): void {
  const got = `got exit ${result.code}, stderr ${JSON.stringify(result.stderr.slice(0, 500))}`;
  assert.equal(result.code, code, `${what}: exit code ${code}; ${got}`);
  assert.match(result.stderr, /^error: \S[^\n]*\n$/, `${what}: one line on stderr; ${got}`);
  // deno-lint-ignore no-control-regex
  const control = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
  assert.doesNotMatch(
    result.stderr.slice(0, -1),
    control,
    `${what}: no control characters; ${got}`,
  );
  assert.ok(!result.stderr.includes("    at "), `${what}: no stack frames; ${got}`);
  assert.equal(result.stdout, "", `${what}: nothing on stdout`);
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

      const runs = [1, 2].map(() => startSupervisor(home, ["--count", "4", "--drain"], cleanup));
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

Deno.test({
  name: "reliability: kill -9 of a random worker every 0.5 s for 10 s loses no job and " +
    "duplicates only interrupted runs",
  ...opts,
  fn: async () => {
    // Sized by time, not by count: a feeder tops the queue up every 0.2 s while the chaos
    // lasts, so jobs are running when it ends on a machine of any speed. A job sleeps at least
    // 10 ms, so 4 workers finish at most 80 jobs between two top-ups; the queue never runs dry.
    const backlog = STRESS ? 800 : 300;
    const random = seededRandom(SEED);
    const why = `(QUEUECTL_SEED=${SEED})`;
    const cleanup = cleanupStack();
    try {
      const { home, db } = await freshHome(cleanup);
      const file = `${home}/ran.txt`;
      await setConfig(home, "backoff-base", "1");
      const ids: string[] = [];
      const topUp = async (count: number) => {
        const jobs = Array.from({ length: count }, () => {
          const id = `chaos-${ids.length}`;
          ids.push(id);
          return {
            id,
            command: `sleep 0.0${10 + Math.floor(random() * 41)}; echo $QUEUECTL_JOB_ID >> ${file}`,
            max_retries: 20,
          };
        });
        const enqueue = await cli(home, ["enqueue", "--file", "-"], { stdin: ndjson(jobs) });
        assert.equal(enqueue.code, 0, enqueue.stderr);
      };
      await topUp(backlog);

      const run = startSupervisor(home, ["--count", "4"], cleanup);
      const ourWorkers = async () => {
        // Pids in the table that really are this test's worker processes (not a stale row).
        const alive = new Set(await processesMatching(`--db ${db}`));
        const listed = await cliJson<WorkerJson[]>(home, ["worker", "list"]);
        return listed.filter((w) => w.kind === "worker" && alive.has(w.pid));
      };
      await waitFor("4 workers running jobs", async () => (await ourWorkers()).length === 4);

      // The chaos lasts 10 s and at least 10 kills (a slow machine takes longer per kill), and
      // a feeder beside it keeps the backlog until it ends.
      const killed: WorkerJson[] = [];
      const end = Date.now() + 10_000;
      let chaos = true;
      const feeder = (async () => {
        while (chaos) {
          const pending = (await cliJson<StatusJson>(home, ["status"])).jobs.pending;
          if (pending < backlog) await topUp(backlog - pending);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      try {
        while (Date.now() < end || killed.length < 10) {
          const tick = Date.now();
          const candidates = (await ourWorkers()).filter((w) =>
            !killed.some((k) => k.pid === w.pid)
          );
          if (candidates.length > 0) {
            const victim = candidates[Math.floor(random() * candidates.length)];
            Deno.kill(victim.pid, "SIGKILL");
            killed.push(victim);
          }
          await new Promise((resolve) =>
            setTimeout(resolve, Math.max(0, 500 - (Date.now() - tick)))
          );
        }
      } finally {
        chaos = false;
        await feeder;
      }
      const total = ids.length;
      const left = unfinished(await cliJson<StatusJson>(home, ["status"]));
      assert.ok(killed.length >= 10, `${killed.length} workers killed in 10 s ${why}`);
      assert.ok(left > 0, `jobs were still running when the chaos ended ${why}`);

      await waitFor(
        "every job to finish",
        async () => unfinished(await cliJson<StatusJson>(home, ["status"])) === 0,
        180_000,
      );
      const supervisorId = killed[0].supervisor;
      await waitFor("the supervisor to restore its 4 workers", async () => {
        const workers = await ourWorkers();
        return workers.length === 4 && workers.every((w) => w.supervisor === supervisorId);
      });
      const restarts = run.output().match(/worker exited \(killed by SIGKILL\); restarting/g) ?? [];
      assert.equal(restarts.length, killed.length, `every kill was noticed and restarted ${why}`);

      const stop = await cli(home, ["worker", "stop"]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /All workers stopped/);
      assert.equal(await within("the supervisor to exit", run.done, 60_000), 0, run.output());
      assert.deepEqual(await processesMatching(file), [], "no job process outlived the run");

      // No job lost: every job completed, or died of lost workers after all its retries.
      const rows = query(db, "SELECT id, state, last_error FROM jobs ORDER BY seq");
      assert.equal(rows.length, total);
      const outcomes = new Map<string, Record<string, number>>();
      for (
        const row of query(
          db,
          `
        SELECT j.id, a.outcome, count(*) AS n FROM attempts a JOIN jobs j ON j.seq = a.job_seq
        GROUP BY 1, 2`,
        )
      ) {
        const byOutcome = outcomes.get(row.id as string) ?? {};
        byOutcome[row.outcome as string] = row.n as number;
        outcomes.set(row.id as string, byOutcome);
      }
      const ran = tally(await linesOf(file));
      const duplicated: string[] = [];
      let lostRuns = 0;
      for (const { id, state, last_error } of rows) {
        const { completed = 0, lost = 0, ...other } = outcomes.get(id as string) ?? {};
        const lines = ran.get(id as string) ?? 0;
        lostRuns += lost;
        assert.deepEqual(other, {}, `${id}: only completed or lost runs ${why}`);
        if (state === "completed") {
          assert.equal(completed, 1, `${id} completed once ${why}`);
          assert.ok(lines >= 1, `${id} completed, so its output is there ${why}`);
          assert.ok(lines <= 1 + lost, `${id} ran ${lines} times with ${lost} lost runs ${why}`);
        } else {
          assert.equal(state, "dead", `${id} is completed or dead ${why}`);
          assert.match(String(last_error), /worker lost/, `${id} died of lost workers ${why}`);
          assert.ok(lines <= lost, `${id} ran ${lines} times with ${lost} lost runs ${why}`);
        }
        if (lines > 1) duplicated.push(id as string);
      }
      assert.ok(lostRuns >= 1, `the chaos interrupted runs ${why}`);
      // Noticed at once by the supervisor (SPEC §5), not only when the 30 s lease ran out.
      assert.deepEqual(
        query(db, "SELECT DISTINCT error FROM attempts WHERE outcome = 'lost'"),
        [{ error: "worker lost (killed by SIGKILL)" }],
      );
      const known = new Set(ids);
      assert.deepEqual([...ran.keys()].filter((id) => !known.has(id)), [], "no unknown ids");
      for (const id of duplicated) {
        const job = await cliJson<{ history: { outcome: string }[] }>(home, ["show", id]);
        assert.ok(
          job.history.some((attempt) => attempt.outcome === "lost"),
          `${id} ran twice, so \`show\` has a lost attempt ${why}`,
        );
      }
      console.log(
        `chaos: ${killed.length} workers killed, ${lostRuns} runs lost, ` +
          `${duplicated.length} jobs ran more than once ${why}`,
      );
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "reliability: an enqueue that returned 0 survives kill -9 of every process, " +
    "and a batch killed mid-flight is all or nothing",
  ...opts,
  fn: async () => {
    const rounds = STRESS ? 6 : 2;
    const random = seededRandom(SEED + 3);
    const why = `(QUEUECTL_SEED=${SEED})`;
    const cleanup = cleanupStack();
    try {
      const { home, db } = await freshHome(cleanup);
      const file = `${home}/ran.txt`;
      await setConfig(home, "lease-timeout", "2");
      await setConfig(home, "backoff-base", "1");
      const acked = new Set<string>(); // ids whose `enqueue` exited 0
      const singles = new Set<string>();
      let killedInFlight = 0;
      const lateBatches: string[] = [];
      const batchFile = async (name: string, size: number) => {
        const ids = Array.from({ length: size }, (_, i) => `${name}-${i}`);
        // Delayed, so the recovery run below only has the single jobs to run.
        await Deno.writeTextFile(
          `${home}/${name}.ndjson`,
          ndjson(ids.map((id) => ({ id, command: `true ${home}`, delay: "1h" }))),
        );
        return { ids, path: `${home}/${name}.ndjson` };
      };

      for (let round = 0; round < rounds; round++) {
        const early = await batchFile(`r${round}-early`, STRESS ? 5_000 : 2_000);
        const late = await batchFile(`r${round}-late`, STRESS ? 10_000 : 4_000);
        // One long run per round, so the crash always cuts a run off (the short ones may
        // all be done by the random crash point); on its retry it is quick.
        const anchor = `r${round}-anchor`;
        const anchored = await cli(home, [
          "enqueue",
          "-c",
          `[ "$QUEUECTL_ATTEMPT" = 1 ] && sleep 30; echo $QUEUECTL_JOB_ID >> ${file}`,
          "--id",
          anchor,
          "--priority",
          "9",
        ]);
        assert.equal(anchored.code, 0, anchored.stderr);
        singles.add(anchor);
        acked.add(anchor);
        const run = startSupervisor(home, ["--count", "2"], cleanup);
        const inFlight = new Set<Running>();
        let crashing = false;
        const enqueueLoop = async (loop: number) => {
          for (let i = 0; !crashing; i++) {
            const id = `r${round}-single-${loop}-${i}`;
            singles.add(id);
            const enqueue = spawnCli(home, [
              "enqueue",
              "-c",
              `sleep 0.2; echo $QUEUECTL_JOB_ID >> ${file}`,
              "--id",
              id,
              "--priority",
              "1",
            ]);
            inFlight.add(enqueue);
            const code = await enqueue.done;
            inFlight.delete(enqueue);
            if (code === 0) acked.add(id);
            else assert.ok(crashing, `enqueue ${id} failed before the crash: ${enqueue.output()}`);
          }
        };
        const loops = [0, 1, 2, 3].map(enqueueLoop);
        const firstStart = Date.now();
        const first = spawnCli(home, ["enqueue", "--file", early.path]);
        assert.equal(await first.done, 0, first.output());
        const firstMs = Date.now() - firstStart;
        early.ids.forEach((id) => acked.add(id));
        await waitFor(
          "single enqueues to land and jobs to run",
          () =>
            query(db, "SELECT state FROM jobs WHERE id = ?", anchor)[0]?.state === "processing" &&
            [...acked].filter((id) => id.startsWith(`r${round}-single`)).length >= 8,
        );

        // The crash: a batch is on its way, single enqueues are mid-flight, jobs are running.
        // The batch is twice the first one, so a random point up to 2.5 times the first one's
        // time lands before, during or after its commit.
        const lastBatch = spawnCli(home, ["enqueue", "--file", late.path]);
        await new Promise((resolve) => setTimeout(resolve, random() * 2.5 * firstMs));
        crashing = true;
        killGroup(run.child.pid);
        killedInFlight += inFlight.size;
        for (const enqueue of [...inFlight, lastBatch]) killGroup(enqueue.child.pid);
        for (const enqueue of [...inFlight, lastBatch]) {
          try {
            enqueue.child.kill("SIGKILL");
          } catch {
            // It had exited.
          }
        }
        // Workers lead their jobs' process groups: take what runs inside them down too.
        for (const pid of await killMatching(home)) killGroup(pid);
        await Promise.all(loops);
        const lateCode = await lastBatch.done;
        await run.done;

        // Reopen, several processes at once, as users and restarted workers would.
        const reopened = await Promise.all([
          cli(home, ["status", "--json"]),
          cli(home, ["list", "--limit", "5"]),
          cli(home, ["config", "get", "--json"]),
        ]);
        for (const result of reopened) assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(query(db, "PRAGMA integrity_check"), [{ integrity_check: "ok" }]);
        const stored = new Set(query(db, "SELECT id FROM jobs").map((row) => row.id as string));
        const missing = [...acked].filter((id) => !stored.has(id));
        assert.deepEqual(missing, [], `every acknowledged enqueue survived round ${round} ${why}`);
        const landed = late.ids.filter((id) => stored.has(id)).length;
        lateBatches.push(lateCode === 0 ? "acknowledged" : `killed (${landed} stored)`);
        if (lateCode === 0) {
          assert.equal(landed, late.ids.length, "an acknowledged batch is whole");
          late.ids.forEach((id) => acked.add(id));
        } else {
          assert.ok(
            landed === 0 || landed === late.ids.length,
            `a batch killed mid-flight is all or nothing, found ${landed} of ${late.ids.length}`,
          );
        }
      }
      assert.ok(killedInFlight > 0, `the crashes caught enqueues mid-flight ${why}`);

      // Recovery: a new supervisor runs every single job, those cut off by the crash included.
      const run = startSupervisor(home, ["--count", "2"], cleanup);
      await registered(home, run);
      const ackedSingles = [...singles].filter((id) => acked.has(id));
      await waitFor(
        "every acknowledged single job to complete",
        () => {
          const done = new Set(
            query(db, "SELECT id FROM jobs WHERE state = 'completed'").map((row) => row.id),
          );
          return ackedSingles.every((id) => done.has(id));
        },
        120_000,
      );
      const stop = await cli(home, ["worker", "stop"]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /All workers stopped/);
      assert.equal(await within("the supervisor to exit", run.done, 60_000), 0, run.output());
      const ran = new Set(await linesOf(file));
      assert.deepEqual(ackedSingles.filter((id) => !ran.has(id)), [], "every single job ran");
      const lost = query(
        db,
        "SELECT count(*) AS n FROM attempts WHERE outcome = 'lost' AND error LIKE 'worker lost%'",
      )[0].n as number;
      assert.ok(lost > 0, `runs cut off by the crashes were recovered as lost ${why}`);
      console.log(
        `crash: ${rounds} rounds, ${acked.size} acknowledged jobs all present, ` +
          `${killedInFlight} enqueues killed mid-flight, late batches: ${
            lateBatches.join(", ")
          }, ` +
          `${lost} runs recovered ${why}`,
      );
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "reliability: input with line breaks or escape sequences is echoed as one escaped line",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home, db } = await freshHome(cleanup);
      const odd = `${home}/dir\nname`;
      await Deno.mkdir(odd);
      const garbage = '{"command":\r\x1b[2J\x1b[31mRED\x07';
      await Deno.writeTextFile(`${home}/garbage.json`, garbage);
      const cases: [string, string[], number, string?][] = [
        ["--file with CR and escapes", ["enqueue", "--file", `${home}/garbage.json`], 2],
        ["stdin with CR and escapes", ["enqueue", "--file", "-"], 2, garbage],
        ["JSON argument with CR and escapes", ["enqueue", garbage], 2],
        ["option value with CR", ["list", "--state", "x\ry\x1b[2J"], 2],
        ["unknown command with escapes", ["\x1b[2Jrm", "-rf"], 2],
        ["--file naming a directory with a newline", ["enqueue", "--file", odd], 2],
        ["--db naming a directory with a newline", ["--db", odd, "status"], 1],
        ["job id with U+2028", ["show", "a\u2028b\x9bc"], 1],
      ];
      const before = await cli(home, ["list", "--json"]);
      for (const [what, args, code, stdin] of cases) {
        assertOneErrorLine(await cli(home, args, { stdin }), code, what);
      }
      assert.equal((await cli(home, ["list", "--json"])).stdout, before.stdout, "nothing stored");
      assert.deepEqual(query(db, "SELECT count(*) AS n FROM jobs"), [{ n: 0 }]);
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "reliability: cancel of several ids is all or nothing",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home, db } = await freshHome(cleanup);
      const add = async (id: string, ...flags: string[]) => {
        const result = await cli(home, ["enqueue", "-c", "true", "--id", id, ...flags]);
        assert.equal(result.code, 0, result.stderr);
      };
      await add("done");
      const run = startSupervisor(home, ["--count", "1", "--drain"], cleanup);
      assert.equal(await within("the drain", run.done, 60_000), 0, run.output());
      await add("first", "--delay", "1h");
      await add("second", "--delay", "1h");
      const before = dbSnapshot(db);
      assertOneErrorLine(await cli(home, ["cancel", "first", "nope"]), 1, "an unknown id");
      assertOneErrorLine(await cli(home, ["cancel", "first", "done"]), 2, "a completed job");
      assertOneErrorLine(await cli(home, ["cancel", "second", "first", "done"]), 2, "done last");
      assert.equal(dbSnapshot(db), before, "no job was cancelled");

      const both = await cli(home, ["cancel", "first", "second"]);
      assert.equal(both.code, 0, both.stderr);
      assert.deepEqual(
        query(db, "SELECT id, state FROM jobs ORDER BY seq"),
        [
          { id: "done", state: "completed" },
          { id: "first", state: "cancelled" },
          { id: "second", state: "cancelled" },
        ],
      );
    } finally {
      await cleanup.run();
    }
  },
});

/** One malformed input: the CLI arguments, optional stdin or raw last argument, the exit code. */
interface BadInput {
  what: string;
  args: string[];
  code: 1 | 2;
  stdin?: string | Uint8Array;
  /** A file whose raw bytes are passed as one more argument. */
  rawArg?: string;
  /** Something the message must say. */
  says?: RegExp;
}

/** Bytes from `random`, never NUL (an argument cannot hold one). */
function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => 1 + Math.floor(random() * 255));
}

/** Text that looks a little like JSON: braces, quotes, digits, field names. */
function jsonish(random: () => number, length: number): string {
  const pieces = ["{", "}", "[", "]", '"', ":", ",", "0", "7", "-", ".", "e", " ", "command", "id"];
  return Array.from({ length }, () => pieces[Math.floor(random() * pieces.length)]).join("");
}

Deno.test({
  name: "reliability: malformed input of every kind gets one clear line and changes nothing",
  ...opts,
  fn: async () => {
    const random = seededRandom(SEED + 4);
    const why = `(QUEUECTL_SEED=${SEED})`;
    const cleanup = cleanupStack();
    try {
      const { home, db } = await freshHome(cleanup);
      // Stored state to protect: a job in each final state, a pending one, and set config.
      const enqueue = async (...args: string[]) => {
        const result = await cli(home, ["enqueue", ...args]);
        assert.equal(result.code, 0, result.stderr);
      };
      await enqueue("-c", "true", "--id", "completed-1");
      await enqueue("-c", "exit 3", "--id", "dead-1", "--max-retries", "0");
      const run = startSupervisor(home, ["--count", "1", "--drain"], cleanup);
      assert.equal(await within("the drain", run.done, 60_000), 0, run.output());
      await enqueue("-c", "true", "--id", "pending-1", "--delay", "1h");
      await enqueue("-c", "true", "--id", "cancelled-1", "--delay", "1h");
      assert.equal((await cli(home, ["cancel", "cancelled-1"])).code, 0);
      await setConfig(home, "max-retries", "5");
      await setConfig(home, "backoff-base", "3");

      const file = (name: string) => `${home}/${name}`;
      const writeFile = (name: string, data: string | Uint8Array) =>
        typeof data === "string"
          ? Deno.writeTextFile(file(name), data)
          : Deno.writeFile(file(name), data);
      const mib = "a".repeat(1024 * 1024);
      const overLimit = "b".repeat(131_072);
      const many = (n: number) =>
        Array.from({ length: n }, (_, i) => ({ id: `bulk-${i}`, command: `echo ${i}` }));
      const oneBadLine = ndjson(many(10_000)).split("\n");
      oneBadLine[7_776] = JSON.stringify({ id: "bulk-7776", command: "x", max_retries: -1 });
      const oneBadItem = many(10_000) as Record<string, unknown>[];
      oneBadItem[4_999] = { ...oneBadItem[4_999], priority: "high" };
      const takenId = [...many(10_000), { id: "pending-1", command: "true" }];
      await writeFile("random.bin", randomBytes(random, 4096));
      await writeFile("random-arg-1", randomBytes(random, 1 + Math.floor(random() * 300)));
      await writeFile("random-arg-2", randomBytes(random, 1 + Math.floor(random() * 300)));
      await writeFile("random-arg-3", randomBytes(random, 1 + Math.floor(random() * 300)));
      await writeFile("empty.json", "");
      await writeFile("mib.json", JSON.stringify({ command: mib }));
      await writeFile("over-limit.ndjson", ndjson([{ command: overLimit }]));
      await writeFile("one-bad-line.ndjson", oneBadLine.join("\n"));
      await writeFile("one-bad-item.json", JSON.stringify(oneBadItem));
      await writeFile("taken-id.ndjson", ndjson(takenId));
      await writeFile("repeated-id.ndjson", ndjson([...many(3), ...many(1)]));
      await Deno.mkdir(file("a-directory"));

      const cases: BadInput[] = [
        // enqueue: a JSON argument
        ...[1, 2, 3].map((n): BadInput => ({
          what: `random bytes as the JSON argument (${n})`,
          args: ["enqueue"],
          rawArg: file(`random-arg-${n}`),
          code: 2,
        })),
        ...[20, 60, 200].map((n): BadInput => ({
          what: `${n} characters of JSON-like noise`,
          args: ["enqueue", jsonish(random, n)],
          code: 2,
        })),
        { what: "truncated JSON", args: ["enqueue", '{"command":"x"'], code: 2 },
        { what: "JSON with trailing text", args: ["enqueue", '{"command":"x"} y'], code: 2 },
        { what: "a JSON array", args: ["enqueue", "[]"], code: 2 },
        { what: "JSON null", args: ["enqueue", "null"], code: 2 },
        { what: "an empty command", args: ["enqueue", '{"command":"  "}'], code: 2 },
        { what: "a numeric command", args: ["enqueue", '{"command":123}'], code: 2 },
        { what: "a NUL in the command", args: ["enqueue", '{"command":"a\\u0000b"}'], code: 2 },
        { what: "an unknown field", args: ["enqueue", '{"command":"x","prio":1}'], code: 2 },
        {
          what: "a string priority",
          args: ["enqueue", '{"command":"x","priority":"hi"}'],
          code: 2,
        },
        {
          what: "an overflowing priority",
          args: ["enqueue", '{"command":"x","priority":1e400}'],
          code: 2,
        },
        {
          what: "boolean max_retries",
          args: ["enqueue", '{"command":"x","max_retries":true}'],
          code: 2,
        },
        {
          what: "negative max_retries",
          args: ["enqueue", '{"command":"x","max_retries":-1}'],
          code: 2,
        },
        { what: "a zero timeout", args: ["enqueue", '{"command":"x","timeout":0}'], code: 2 },
        {
          what: "an unknown duration",
          args: ["enqueue", '{"command":"x","delay":"5 parsecs"}'],
          code: 2,
        },
        {
          what: "run_at that is not a time",
          args: ["enqueue", '{"command":"x","run_at":"soon"}'],
          code: 2,
        },
        {
          what: "run_at and delay together",
          args: ["enqueue", '{"command":"x","run_at":"2030-01-01T00:00:00Z","delay":5}'],
          code: 2,
        },
        { what: "an empty id", args: ["enqueue", '{"command":"x","id":""}'], code: 2 },
        {
          what: "a 201-character id",
          args: ["enqueue", JSON.stringify({ command: "x", id: "i".repeat(201) })],
          code: 2,
        },
        {
          what: "an id that exists",
          args: ["enqueue", '{"command":"x","id":"pending-1"}'],
          code: 2,
          says: /already exists/,
        },
        { what: "an empty cwd", args: ["enqueue", '{"command":"x","cwd":""}'], code: 2 },
        { what: "50,000 nested arrays", args: ["enqueue", "[".repeat(50_000)], code: 2 },
        // enqueue: flags
        { what: "-c without a value", args: ["enqueue", "-c"], code: 2 },
        { what: "-c with an empty command", args: ["enqueue", "-c", ""], code: 2 },
        { what: "an unknown option", args: ["enqueue", "-c", "x", "--retries", "3"], code: 2 },
        {
          what: "--max-retries abc",
          args: ["enqueue", "-c", "x", "--max-retries", "abc"],
          code: 2,
        },
        {
          what: "--max-retries 1e3",
          args: ["enqueue", "-c", "x", "--max-retries", "1e3"],
          code: 2,
        },
        {
          what: "--max-retries 0x10",
          args: ["enqueue", "-c", "x", "--max-retries", "0x10"],
          code: 2,
        },
        { what: "--priority 1.5", args: ["enqueue", "-c", "x", "--priority", "1.5"], code: 2 },
        { what: "--priority NaN", args: ["enqueue", "-c", "x", "--priority", "NaN"], code: 2 },
        {
          what: "--priority 2^31",
          args: ["enqueue", "-c", "x", "--priority", "2147483648"],
          code: 2,
        },
        { what: "--delay -5", args: ["enqueue", "-c", "x", "--delay", "-5"], code: 2 },
        { what: "--delay 1e999", args: ["enqueue", "-c", "x", "--delay", "1e999"], code: 2 },
        {
          what: "--timeout Infinity",
          args: ["enqueue", "-c", "x", "--timeout", "Infinity"],
          code: 2,
        },
        {
          what: "--run-at month 13",
          args: ["enqueue", "-c", "x", "--run-at", "2030-13-45"],
          code: 2,
        },
        { what: "--id with a tab", args: ["enqueue", "-c", "x", "--id", "a\tb"], code: 2 },
        { what: "no job at all", args: ["enqueue"], code: 2 },
        { what: "-c and JSON together", args: ["enqueue", "-c", "x", '{"command":"y"}'], code: 2 },
        {
          what: "a flag with JSON",
          args: ["enqueue", "--priority", "3", '{"command":"y"}'],
          code: 2,
        },
        { what: "-c and --file together", args: ["enqueue", "-c", "x", "--file", "-"], code: 2 },
        // enqueue --file <path>
        { what: "a binary file", args: ["enqueue", "--file", file("random.bin")], code: 2 },
        { what: "an empty file", args: ["enqueue", "--file", file("empty.json")], code: 2 },
        { what: "a missing file", args: ["enqueue", "--file", file("nope.json")], code: 2 },
        { what: "a directory", args: ["enqueue", "--file", file("a-directory")], code: 2 },
        {
          what: "a 1 MiB command",
          args: ["enqueue", "--file", file("mib.json")],
          code: 2,
          says: /1048576 bytes long; the limit is 131071/,
        },
        {
          what: "a command one byte over the limit",
          args: ["enqueue", "--file", file("over-limit.ndjson")],
          code: 2,
          says: /131072 bytes long/,
        },
        {
          what: "10,000 jobs with one bad line",
          args: ["enqueue", "--file", file("one-bad-line.ndjson")],
          code: 2,
          says: /^error: Line 7777: max_retries/,
        },
        {
          what: "a 10,000-job array with one bad item",
          args: ["enqueue", "--file", file("one-bad-item.json")],
          code: 2,
          says: /^error: Job 5000: priority/,
        },
        {
          what: "10,000 jobs and one taken id",
          args: ["enqueue", "--file", file("taken-id.ndjson")],
          code: 2,
          says: /"pending-1" already exists/,
        },
        {
          what: "an id twice in one file",
          args: ["enqueue", "--file", file("repeated-id.ndjson")],
          code: 2,
        },
        // enqueue --file - (stdin)
        {
          what: "random bytes on stdin",
          args: ["enqueue", "--file", "-"],
          stdin: randomBytes(random, 4096),
          code: 2,
        },
        { what: "empty stdin", args: ["enqueue", "--file", "-"], stdin: "", code: 2 },
        {
          what: "a 1 MiB command on stdin",
          args: ["enqueue", "--file", "-"],
          stdin: ndjson([{ command: mib }]),
          code: 2,
        },
        {
          what: "a truncated array on stdin",
          args: ["enqueue", "--file", "-"],
          stdin: '[{"command":"x"},',
          code: 2,
        },
        {
          what: "10,000 jobs with one bad line on stdin",
          args: ["enqueue", "--file", "-"],
          stdin: oneBadLine.join("\n"),
          code: 2,
          says: /Line 7777/,
        },
        // config
        { what: "config get of an unknown key", args: ["config", "get", "nope"], code: 2 },
        { what: "config get of two keys", args: ["config", "get", "shell", "x"], code: 2 },
        { what: "config get --bogus", args: ["config", "get", "--bogus"], code: 2 },
        { what: "config set of an unknown key", args: ["config", "set", "nope", "1"], code: 2 },
        {
          what: "config set of a random-bytes key",
          args: ["config", "set"],
          rawArg: file("random-arg-1"),
          code: 2,
        },
        { what: "config set without a value", args: ["config", "set", "max-retries"], code: 2 },
        { what: "max-retries -1", args: ["config", "set", "max-retries", "-1"], code: 2 },
        { what: "max-retries 1.5", args: ["config", "set", "max_retries", "1.5"], code: 2 },
        {
          what: "max-retries 10^20",
          args: ["config", "set", "max-retries", "99999999999999999999"],
          code: 2,
        },
        { what: "backoff-base 0.5", args: ["config", "set", "backoff-base", "0.5"], code: 2 },
        { what: "backoff-base NaN", args: ["config", "set", "backoff-base", "NaN"], code: 2 },
        { what: "backoff-max 1e309", args: ["config", "set", "backoff-max", "1e309"], code: 2 },
        { what: "job-timeout -3", args: ["config", "set", "job-timeout", "-3"], code: 2 },
        { what: "lease-timeout 0", args: ["config", "set", "lease-timeout", "0"], code: 2 },
        { what: "poll-interval 0", args: ["config", "set", "poll-interval", "0"], code: 2 },
        { what: "shell fish", args: ["config", "set", "shell", "fish"], code: 2 },
        // list
        { what: "list --state bogus", args: ["list", "--state", "bogus"], code: 2 },
        { what: "list --limit 0", args: ["list", "--limit", "0"], code: 2 },
        { what: "list --limit -1", args: ["list", "--limit", "-1"], code: 2 },
        { what: "list --limit 1.5", args: ["list", "--limit", "1.5"], code: 2 },
        { what: "list --limit 100001", args: ["list", "--limit", "100001"], code: 2 },
        { what: "list --limit=", args: ["list", "--limit="], code: 2 },
        { what: "list with an argument", args: ["list", "pending"], code: 2 },
        { what: "list --bogus", args: ["list", "--bogus"], code: 2 },
        // show
        { what: "show without an id", args: ["show"], code: 2 },
        { what: "show of a missing id", args: ["show", "nope"], code: 1, says: /No job/ },
        { what: "show of two ids", args: ["show", "pending-1", "dead-1"], code: 2 },
        { what: "show --bogus", args: ["show", "pending-1", "--bogus"], code: 2 },
        {
          what: "show of a random-bytes id",
          args: ["show"],
          rawArg: file("random-arg-2"),
          code: 1,
        },
        // logs
        { what: "logs without an id", args: ["logs"], code: 2 },
        { what: "logs of a missing id", args: ["logs", "nope"], code: 1 },
        { what: "logs --attempt 0", args: ["logs", "completed-1", "--attempt", "0"], code: 2 },
        { what: "logs --attempt -1", args: ["logs", "completed-1", "--attempt", "-1"], code: 2 },
        { what: "logs --attempt abc", args: ["logs", "completed-1", "--attempt", "abc"], code: 2 },
        // dlq retry
        { what: "dlq retry of nothing", args: ["dlq", "retry"], code: 2 },
        { what: "dlq retry of a missing id", args: ["dlq", "retry", "nope"], code: 1 },
        { what: "dlq retry of a pending job", args: ["dlq", "retry", "pending-1"], code: 2 },
        {
          what: "dlq retry of dead and missing",
          args: ["dlq", "retry", "dead-1", "nope"],
          code: 1,
        },
        {
          what: "dlq retry of dead and pending",
          args: ["dlq", "retry", "dead-1", "pending-1"],
          code: 2,
        },
        { what: "dlq retry of ids and --all", args: ["dlq", "retry", "--all", "dead-1"], code: 2 },
        { what: "dlq retry --everything", args: ["dlq", "retry", "--everything"], code: 2 },
        // cancel
        { what: "cancel of nothing", args: ["cancel"], code: 2 },
        { what: "cancel of a missing id", args: ["cancel", "nope"], code: 1 },
        { what: "cancel of a completed job", args: ["cancel", "completed-1"], code: 2 },
        { what: "cancel of a dead job", args: ["cancel", "dead-1"], code: 2 },
        { what: "cancel of pending and missing", args: ["cancel", "pending-1", "nope"], code: 1 },
        { what: "cancel of pending and dead", args: ["cancel", "pending-1", "dead-1"], code: 2 },
        { what: "cancel --force", args: ["cancel", "--force", "pending-1"], code: 2 },
        {
          what: "cancel of a random-bytes id",
          args: ["cancel"],
          rawArg: file("random-arg-3"),
          code: 1,
        },
        // global
        { what: "an unknown global option", args: ["--bogus", "status"], code: 2 },
        { what: "--db without a value", args: ["--db"], code: 2 },
        { what: "an unknown command", args: ["enqeue", "-c", "x"], code: 2 },
      ];
      assert.ok(cases.length >= 30);

      const viaCli = async () =>
        (await cli(home, ["list", "--json", "--limit", "100000"])).stdout +
        (await cli(home, ["config", "get", "--json"])).stdout;
      const before = dbSnapshot(db);
      const beforeCli = await viaCli();
      assert.match(beforeCli, /"completed-1"[\s\S]*"max-retries": 5/);
      for (const input of cases) {
        const result = input.rawArg
          ? await cliRawArg(home, input.args, input.rawArg)
          : await cli(home, input.args, { stdin: input.stdin });
        assertOneErrorLine(result, input.code, `${input.what} ${why}`);
        if (input.says) assert.match(result.stderr, input.says, input.what);
        assert.equal(dbSnapshot(db), before, `${input.what} changed stored state ${why}`);
      }
      assert.equal(await viaCli(), beforeCli, "list --json and config get --json are unchanged");
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "reliability: 8 enqueuing processes and 4 claiming workers never see a locked database",
  ...opts,
  fn: async () => {
    const singles = STRESS ? 30 : 9;
    const batches = STRESS ? 6 : 3;
    const batchSize = STRESS ? 5_000 : 1_000;
    const cleanup = cleanupStack();
    try {
      const { home, db } = await freshHome(cleanup);
      const file = `${home}/ran.txt`;
      const expected = new Set<string>();
      const busy = /locked|busy/i;
      // Nothing touches the fresh database before this point: first opens race too.
      const run = startSupervisor(home, ["--count", "4"], cleanup);
      const enqueuer = async (n: number) => {
        for (let i = 0; i < singles; i++) {
          const id = `p${n}-single-${i}`;
          expected.add(id);
          const result = await cli(home, [
            "enqueue",
            "-c",
            `echo $QUEUECTL_JOB_ID >> ${file}`,
            "--id",
            id,
          ]);
          assert.equal(result.code, 0, `enqueue ${id}: ${result.stderr}`);
          assert.equal(result.stderr, "", `enqueue ${id} printed to stderr`);
          if ((i + 1) % Math.ceil(singles / batches) !== 0) continue;
          const b = Math.floor(i / Math.ceil(singles / batches));
          const ids = Array.from({ length: batchSize }, (_, k) => `p${n}-batch-${b}-${k}`);
          const text = ndjson(
            ids.map((id) => ({ id, command: `echo $QUEUECTL_JOB_ID >> ${file}` })),
          );
          let batch: CliResult;
          if (b % 2 === 0) {
            await Deno.writeTextFile(`${home}/p${n}-${b}.ndjson`, text);
            batch = await cli(home, ["enqueue", "--file", `${home}/p${n}-${b}.ndjson`]);
          } else {
            batch = await cli(home, ["enqueue", "--file", "-"], { stdin: text });
          }
          assert.equal(batch.code, 0, `batch ${n}/${b}: ${batch.stderr}`);
          assert.equal(batch.stderr, "", `batch ${n}/${b} printed to stderr`);
          assert.equal(batch.stdout, `enqueued ${batchSize} jobs\n`);
          ids.forEach((id) => expected.add(id));
        }
      };
      await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(enqueuer));
      assert.equal(expected.size, 8 * (singles + batches * batchSize));
      const ranDuringEnqueues = (await linesOf(file)).length;

      await registered(home, run);
      const stop = await cli(home, ["worker", "stop"]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(await within("the supervisor to exit", run.done, 60_000), 0, run.output());
      assert.doesNotMatch(run.output(), busy, "no worker met a locked database");
      assert.doesNotMatch(run.output(), /unavailable|stderr:/, "no worker had store errors");

      const stored = query(db, "SELECT id FROM jobs").map((row) => row.id as string);
      assert.equal(stored.length, expected.size, "the final count matches");
      assert.deepEqual(stored.filter((id) => !expected.has(id)), [], "no unexpected job");
      const status = await cli(home, ["status", "--json"]);
      assert.equal(status.stderr, "");
      const counts = JSON.parse(status.stdout) as StatusJson;
      assert.equal(counts.total, expected.size);
      assert.equal(counts.jobs.processing, 0, "nothing left processing after worker stop");
      const ran = await linesOf(file);
      assert.ok(ranDuringEnqueues > 0, "the workers claimed jobs while the enqueues ran");
      assert.equal(counts.jobs.completed, ran.length, "every job that ran completed");
      assert.equal(new Set(ran).size, ran.length, "no job ran twice");
      console.log(
        `contention: ${expected.size} jobs from ${8 * (singles + batches)} enqueues, ` +
          `${ranDuringEnqueues} run meanwhile`,
      );
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "reliability: worker stop during a run of 1-second jobs lets every started job complete",
  ...opts,
  fn: async () => {
    const rounds = STRESS ? 3 : 1;
    const perSupervisor = STRESS ? 4 : 2;
    const workers = 2 * perSupervisor;
    const random = seededRandom(SEED + 6);
    const why = `(QUEUECTL_SEED=${SEED})`;
    for (let round = 0; round < rounds; round++) {
      const cleanup = cleanupStack();
      try {
        const { home, db } = await freshHome(cleanup);
        const file = `${home}/ran.txt`;
        const ids = Array.from({ length: workers * 6 }, (_, i) => `stop-${i}`);
        const enqueue = await cli(home, ["enqueue", "--file", "-"], {
          stdin: ndjson(
            ids.map((id) => ({ id, command: `sleep 1; echo $QUEUECTL_JOB_ID >> ${file}` })),
          ),
        });
        assert.equal(enqueue.code, 0, enqueue.stderr);
        const runs = [1, 2].map(() =>
          startSupervisor(home, ["--count", String(perSupervisor)], cleanup)
        );
        const count = (state: string) =>
          query(db, "SELECT count(*) AS n FROM jobs WHERE state = ?", state)[0].n as number;
        // Mid-run: a first wave has completed and every worker is busy with the next.
        await waitFor(
          "a wave of jobs to complete and the next to run",
          () => count("completed") >= workers && count("processing") === workers,
        );
        await new Promise((resolve) => setTimeout(resolve, random() * 1000));
        const running = query(db, "SELECT id FROM jobs WHERE state = 'processing'").map((r) =>
          r.id
        );
        assert.ok(running.length > 0, "jobs were running when worker stop came");

        const stop = await cli(home, ["worker", "stop"]);
        assert.equal(stop.code, 0, stop.stderr);
        assert.match(stop.stdout, /Asked 2 supervisors to stop[\s\S]*All workers stopped/);
        const codes = await within(
          "both supervisors to exit",
          Promise.all(runs.map((r) => r.done)),
          60_000,
        );
        assert.deepEqual(codes, [0, 0], `both supervisors exit 0 ${why}`);
        for (const run of runs) {
          assert.match(
            run.output(),
            /supervisor stopping \(worker stop\)[\s\S]*supervisor stopped/,
          );
          assert.doesNotMatch(run.output(), /lost|recovered|worker exited/);
        }

        const jobs = query(db, "SELECT id, state, attempts FROM jobs ORDER BY seq");
        const started = jobs.filter((job) => (job.attempts as number) > 0);
        assert.deepEqual(
          started.filter((job) => job.state !== "completed" || job.attempts !== 1),
          [],
          `every started job completed in its one run ${why}`,
        );
        assert.deepEqual(
          jobs.filter((job) => job.attempts === 0 && job.state !== "pending"),
          [],
          "the others are still pending",
        );
        assert.ok(started.length < ids.length, "nothing new was claimed after the stop");
        const completed = new Set(started.map((job) => job.id));
        assert.deepEqual(
          running.filter((id) => !completed.has(id)),
          [],
          "the running ones finished",
        );
        assert.deepEqual(
          query(db, "SELECT outcome, count(*) AS n FROM attempts GROUP BY 1"),
          [{ outcome: "completed", n: started.length }],
        );
        const ran = await linesOf(file);
        assert.deepEqual([...ran].sort(), [...completed].sort(), "each completed job ran once");
        assert.deepEqual(await cliJson(home, ["worker", "list"]), [], "no worker is left");
        assert.deepEqual(await processesMatching(file), [], "no job process is left");
      } finally {
        await cleanup.run();
      }
    }
  },
});

Deno.test({
  name: "reliability: worker stop right after worker start --detach stops that supervisor",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home } = await freshHome(cleanup);
      for (let round = 0; round < 2; round++) {
        const start = await cli(home, ["worker", "start", "--detach", "--count", "1"]);
        assert.equal(start.code, 0, start.stderr);
        const pid = Number(start.stdout.trim());
        cleanup.defer(() => killGroup(pid));
        const stop = await cli(home, ["worker", "stop"]);
        assert.equal(stop.code, 0, stop.stderr);
        assert.match(stop.stdout, /All workers stopped/, `round ${round}: the stop reached it`);
        await waitFor("the supervisor process to exit", async () => {
          const ps = await new Deno.Command("ps", { args: ["-p", String(pid)], stdout: "null" })
            .output();
          return !ps.success;
        });
      }
    } finally {
      await cleanup.run();
    }
  },
});
