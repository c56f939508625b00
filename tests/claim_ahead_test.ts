// The worker's hot path with jobs claimed ahead, end to end with real supervisors, workers and
// shells: a held job stays cancellable and keeps its lease, a more urgent job overtakes the held
// ones, a dead worker's held jobs go back unrun, and nothing starts after a stop.
import assert from "node:assert/strict";
import {
  cleanupStack,
  cli,
  cliJson,
  query,
  type Running,
  setConfig,
  startSupervisor,
  tempHome,
  waitFor,
  within,
} from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
type Cleanup = ReturnType<typeof cleanupStack>;

interface WorkerJson {
  id: string;
  kind: string;
  pid: number;
}

interface ShowJson {
  state: string;
  attempts: number;
  history: { outcome: string; error: string | null }[];
}

function lines(file: string): string[] {
  try {
    return Deno.readTextFileSync(file).split("\n").filter((line) => line !== "");
  } catch {
    return [];
  }
}

/**
 * Queues a few short jobs of the highest priority, then `long`, then targets that append their
 * id to `file`. A worker that ran one of the short ones claims the rest ahead with the long job,
 * so targets wait behind it. Resolves once the long job runs while targets are held: the ids of
 * the held targets, all processing for the long job's worker.
 */
async function holdBehind(
  home: string,
  db: string,
  long: string,
  file: string,
  start: () => Running,
  targets = 5,
): Promise<{ run: Running; held: string[]; worker: string; ids: string[] }> {
  const ids = Array.from({ length: targets }, (_, i) => `t${i}`);
  const jobs = [
    ...[1, 2, 3, 4].map((i) => ({ id: `pre${i}`, command: "true", priority: 10 })),
    { id: "long", command: long, priority: 5, max_retries: 3 },
    ...ids.map((id) => ({ id, command: `echo $QUEUECTL_JOB_ID >> ${file}`, max_retries: 3 })),
  ];
  const enqueue = await cli(home, ["enqueue", "--file", "-"], { stdin: JSON.stringify(jobs) });
  assert.equal(enqueue.code, 0, enqueue.stderr);
  const run = start();
  return await waitFor("the long job to run with targets held behind it", () => {
    const rows = query(db, "SELECT id, worker FROM jobs WHERE state = 'processing'");
    const longRow = rows.find((row) => row.id === "long");
    const held = rows.filter((row) =>
      ids.includes(row.id as string) && row.worker === longRow?.worker
    )
      .map((row) => row.id as string);
    return longRow && held.length > 0 && lines(`${file}.long`).length > 0
      ? { run, held, worker: longRow.worker as string, ids }
      : null;
  });
}

Deno.test({
  name: "claim ahead: a held job cancelled before it starts never runs",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home, db, cleanup: remove } = await tempHome();
      cleanup.defer(remove);
      const file = `${home}/ran.txt`;
      const { run, held, ids } = await holdBehind(
        home,
        db,
        `echo x >> ${file}.long; sleep 1.5`,
        file,
        () => startSupervisor(home, ["--count", "1", "--drain"], cleanup),
      );
      const victim = held[held.length - 1];
      const cancel = await cli(home, ["cancel", victim]);
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.equal(await within("the drain to end", run.done, 60_000), 0, run.output());
      const ran = lines(file);
      assert.ok(!ran.includes(victim), `${victim} never ran (${ran.join(" ")})`);
      for (const id of ids.filter((id) => id !== victim)) {
        assert.equal(ran.filter((line) => line === id).length, 1, `${id} ran once`);
      }
      assert.equal((await cliJson<ShowJson>(home, ["show", victim])).state, "cancelled");
      assert.doesNotMatch(run.output(), new RegExp(`started +${victim} `));
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "claim ahead: a more urgent job enqueued while others are held runs next",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home, db, cleanup: remove } = await tempHome();
      cleanup.defer(remove);
      const file = `${home}/ran.txt`;
      const { run } = await holdBehind(
        home,
        db,
        `echo x >> ${file}.long; sleep 1`,
        file,
        () => startSupervisor(home, ["--count", "1", "--drain"], cleanup),
      );
      const urgent = await cli(home, [
        "enqueue",
        "--id",
        "urgent",
        "--priority",
        "20",
        "-c",
        `echo urgent >> ${file}`,
      ]);
      assert.equal(urgent.code, 0, urgent.stderr);
      assert.equal(await within("the drain to end", run.done, 60_000), 0, run.output());
      assert.equal(lines(file)[0], "urgent", `urgent ran right after the long job: ${lines(file)}`);
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "claim ahead: held jobs whose lease ran out go to another worker and never start twice",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home, db, cleanup: remove } = await tempHome();
      cleanup.defer(remove);
      await setConfig(home, "lease-timeout", "2");
      await setConfig(home, "backoff-base", "1");
      const file = `${home}/ran.txt`;
      const { run: first, held, worker, ids } = await holdBehind(
        home,
        db,
        `echo x >> ${file}.long; sleep 1`,
        file,
        () => startSupervisor(home, ["--count", "1"], cleanup),
      );
      const workers = await cliJson<WorkerJson[]>(home, ["worker", "list"]);
      const frozen = workers.find((w) => w.id === worker)!;
      Deno.kill(frozen.pid, "SIGSTOP"); // a stalled process: alive, but its heartbeat stops
      cleanup.defer(() => Deno.kill(frozen.pid, "SIGCONT"));
      const second = startSupervisor(home, ["--count", "1"], cleanup);
      await waitFor(
        "the held jobs to be recovered and run elsewhere",
        () => held.every((id) => lines(file).includes(id)),
      );
      Deno.kill(frozen.pid, "SIGCONT");
      await waitFor("every target to complete", () => {
        const rows = query(db, "SELECT count(*) AS n FROM jobs WHERE state = 'completed'");
        return rows[0].n === ids.length + 5;
      }, 60_000);
      await waitFor(
        "the stalled worker to learn its jobs are gone",
        () => /lost +long/.test(first.output()),
      );
      const ran = lines(file);
      for (const id of ids) {
        assert.equal(ran.filter((line) => line === id).length, 1, `${id} ran once: ${ran}`);
      }
      for (const id of held) {
        const show = await cliJson<ShowJson>(home, ["show", id]);
        assert.deepEqual(show.history.map((a) => a.outcome), ["lost", "completed"]);
        assert.match(show.history[0].error ?? "", /lease expired/);
      }
      assert.doesNotMatch(first.output(), new RegExp(`started +(${held.join("|")}) `));
      assert.ok(second.output().length > 0);
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "claim ahead: a killed worker's held jobs go back unrun; only the started one is lost",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home, db, cleanup: remove } = await tempHome();
      cleanup.defer(remove);
      const file = `${home}/ran.txt`;
      const { run, held, worker, ids } = await holdBehind(
        home,
        db,
        `echo x >> ${file}.long; [ -e ${file}.again ] || { touch ${file}.again; sleep 30; }`,
        file,
        () => startSupervisor(home, ["--count", "1", "--drain"], cleanup),
      );
      const workers = await cliJson<WorkerJson[]>(home, ["worker", "list"]);
      Deno.kill(workers.find((w) => w.id === worker)!.pid, "SIGKILL");
      assert.equal(await within("the drain to end", run.done, 60_000), 0, run.output());
      const ran = lines(file);
      for (const id of ids) {
        assert.equal(ran.filter((line) => line === id).length, 1, `${id} ran once: ${ran}`);
      }
      for (const id of held) {
        const show = await cliJson<ShowJson>(home, ["show", id]);
        assert.deepEqual(show.history.map((a) => a.outcome), ["completed"], `${id} never lost`);
        assert.equal(show.attempts, 1);
      }
      const long = await cliJson<ShowJson>(home, ["show", "long"]);
      assert.deepEqual(long.history.map((a) => a.outcome), ["lost", "completed"]);
      assert.match(long.history[0].error ?? "", /killed by SIGKILL/);
    } finally {
      await cleanup.run();
    }
  },
});

Deno.test({
  name: "stop: once the supervisor says nothing new is claimed, nothing starts, and held jobs " +
    "go back at once",
  ...opts,
  fn: async () => {
    const cleanup = cleanupStack();
    try {
      const { home, db, cleanup: remove } = await tempHome();
      cleanup.defer(remove);
      // Every job sleeps 50 ms, so 2 workers need at least 5 s for them all: the stop comes
      // long before the queue runs dry, at any machine speed.
      const jobs = Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, command: "sleep 0.05" }));
      const enqueue = await cli(home, ["enqueue", "--file", "-"], { stdin: JSON.stringify(jobs) });
      assert.equal(enqueue.code, 0, enqueue.stderr);
      const run = startSupervisor(home, ["--count", "2"], cleanup);
      await waitFor(
        "a few jobs to complete",
        () => (run.output().match(/completed/g) ?? []).length >= 6,
      );
      const stop = await cli(home, ["worker", "stop"]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(await within("the supervisor to exit", run.done, 60_000), 0, run.output());
      const output = run.output().split("\n");
      const line = output.findIndex((text) =>
        /supervisor stopping .*nothing new is claimed/.test(text)
      );
      assert.ok(line > 0, run.output());
      const late = output.slice(line).filter((text) => / started /.test(text));
      assert.deepEqual(late, [], "no job started after the stop was announced");
      const states = query(db, "SELECT state, count(*) AS n FROM jobs GROUP BY state");
      const byState = Object.fromEntries(states.map((row) => [row.state, row.n]));
      assert.equal(byState.processing, undefined, "nothing is left held");
      assert.ok((byState.pending as number) > 0, "the stop came before the queue ran dry");
      assert.equal(
        (byState.pending as number) + (byState.completed as number),
        jobs.length,
        JSON.stringify(byState),
      );
      const unrun = query(
        db,
        `SELECT count(*) AS n FROM jobs j
         WHERE j.state = 'pending' AND (j.attempts > 0 OR j.started_at IS NOT NULL
           OR EXISTS (SELECT 1 FROM attempts a WHERE a.job_seq = j.seq))`,
      );
      assert.equal(unrun[0].n, 0, "a job that went back has no trace of its claim");
    } finally {
      await cleanup.run();
    }
  },
});
