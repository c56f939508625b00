// Existing databases upgrade in place (issue 10): tests/fixtures/v1.db was made by the
// code before named queues and dependencies (see tests/fixtures/make_v1_db.ts); opened
// with the current code, every job, attempt, log and config value must be as it was.
// The PostgreSQL case builds a schema with migration 1 alone, copies the same rows
// into it, and opens it the same way.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { attemptToJson, jobToJson } from "../src/core/format.ts";
import { openPostgresStore } from "../src/store/postgres/mod.ts";
import { POSTGRES_MIGRATIONS } from "../src/store/postgres/schema.ts";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import { SQLITE_MIGRATIONS } from "../src/store/sqlite/schema.ts";
import type { Store } from "../src/store/store.ts";
import { readDb, tempHome } from "./helpers.ts";

const fixture = fileURLToPath(new URL("./fixtures/v1.db", import.meta.url));
const expected = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/v1.expected.json", import.meta.url)),
);
const url = Deno.env.get("QUEUECTL_TEST_POSTGRES_URL");
/** A day after the fixture was made: every job in it is due. */
const clock = () => Date.UTC(2026, 2, 2, 12, 0, 0);

/** Every job, attempt, log and config value of the fixture, read through `store`. */
async function checkEverything(store: Store): Promise<void> {
  assert.equal(expected.jobs.length, 10);
  for (const want of expected.jobs) {
    const id = want.job.id;
    const job = await store.getJob(id);
    assert.ok(job, `job ${id} is still there`);
    assert.deepEqual(
      jobToJson(job),
      { ...want.job, queue: "default", after: [] },
      `job ${id}`,
    );
    assert.equal(job.leaseUntil, want.lease_until, `lease of ${id}`);
    assert.deepEqual((await store.attempts(id)).map(attemptToJson), want.history, `runs of ${id}`);
    for (const log of want.logs) {
      const got = await store.logs(id, log.attempt);
      assert.deepEqual([...got!.stdout], log.stdout, `stdout of ${id} run ${log.attempt}`);
      assert.deepEqual([...got!.stderr], log.stderr, `stderr of ${id} run ${log.attempt}`);
    }
    assert.deepEqual(await store.dependencies(id), []);
  }
  assert.deepEqual(await store.counts(), { blocked: 0, ...expected.counts });
  assert.deepEqual(Object.fromEntries(await store.getConfigRows()), expected.config);
  const queues = await store.listQueues();
  assert.deepEqual(queues.queues.map((q) => [q.name, q.paused, q.concurrency]), [
    ["default", false, 0],
  ]);
  assert.deepEqual(queues.queues[0].counts, { blocked: 0, ...expected.counts });
  assert.equal(queues.newQueuesPaused, false);
}

/** The upgraded database works: claims, dependencies on old jobs, settles, counts. */
async function checkItWorks(store: Store): Promise<void> {
  const base = { command: "true", maxRetries: 0, priority: 100, runAt: 0, timeout: null, cwd: "/" };
  await store.enqueue([
    { ...base, id: "new-after-old", after: ["done-1", "revived"] },
    { ...base, id: "new-in-queue", queue: "fresh" },
  ]);
  assert.equal((await store.getJob("new-after-old"))?.state, "blocked");
  const claimed = await store.claim("w-new", 30_000);
  assert.equal(claimed?.id, "new-in-queue");
  const ok = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
  const order = [
    (await store.claim("w-new", 30_000))?.id,
    (await store.claim("w-new", 30_000))?.id,
  ];
  assert.deepEqual(order, ["retrying", "revived"], "old jobs are claimed in their old order");
  assert.equal(await store.complete("revived", "w-new", ok), true);
  assert.equal((await store.getJob("new-after-old"))?.state, "pending");
  assert.equal(await store.countJobs({ queue: "default" }), 11);
}

Deno.test("migration: a schema-1 SQLite database upgrades in place, nothing lost", async () => {
  const { db, cleanup } = await tempHome();
  try {
    await Deno.copyFile(fixture, db);
    assert.equal(readDb(db, (c) => c.prepare("PRAGMA user_version").get()!.user_version), 1);
    const store = openSqliteStore(db);
    try {
      await checkEverything(store);
    } finally {
      await store.close();
    }
    assert.equal(
      readDb(db, (c) => c.prepare("PRAGMA user_version").get()!.user_version),
      SQLITE_MIGRATIONS.length,
    );
    const again = openSqliteStore(db, { clock });
    try {
      await checkEverything(again); // a second open changes nothing
      await checkItWorks(again);
    } finally {
      await again.close();
    }
  } finally {
    await cleanup();
  }
});

/** Rows of `table` of a copy of the fixture as JSON records, blobs as PostgreSQL hex bytea. */
function fixtureRows(copy: string, table: string): Record<string, unknown>[] {
  return readDb(
    copy,
    (conn) =>
      conn.prepare(`SELECT * FROM ${table}`).all().map((row) =>
        Object.fromEntries(
          Object.entries(row).map(([key, value]) => [
            key,
            value instanceof Uint8Array
              ? `\\x${Array.from(value, (b) => b.toString(16).padStart(2, "0")).join("")}`
              : value,
          ]),
        )
      ),
  );
}

Deno.test({
  name: "migration: a PostgreSQL schema made by migration 1 upgrades in place, nothing lost",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const schema = `qt_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const admin = postgres(url!, { max: 1, onnotice: () => {} });
    // Read from a copy: even a read-only open of a WAL database leaves files beside it.
    const { db: copy, cleanup } = await tempHome();
    await Deno.copyFile(fixture, copy);
    try {
      await admin.begin(async (tx) => {
        await tx.unsafe(`CREATE SCHEMA "${schema}"`);
        await tx.unsafe(`SET LOCAL search_path = "${schema}"`);
        await tx.unsafe(POSTGRES_MIGRATIONS[0]);
        await tx.unsafe("CREATE TABLE schema_version (version integer NOT NULL)");
        await tx.unsafe("INSERT INTO schema_version (version) VALUES (1)");
        for (const table of ["jobs", "attempts", "config", "workers"]) {
          await tx.unsafe(
            `INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::text::json)`,
            [JSON.stringify(fixtureRows(copy, table))],
          );
        }
        await tx.unsafe("SELECT setval('jobs_seq_seq', (SELECT max(seq) FROM jobs))");
      });
      const target = `${url}${url!.includes("?") ? "&" : "?"}schema=${schema}`;
      const store = await openPostgresStore(target, { clock });
      try {
        await checkEverything(store);
        await checkItWorks(store);
      } finally {
        await store.close();
      }
      const [row] = await admin.unsafe(`SELECT version FROM "${schema}".schema_version`);
      assert.equal(row.version, POSTGRES_MIGRATIONS.length);
    } finally {
      await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await admin.end({ timeout: 1 });
      await cleanup();
    }
  },
});
