// SQLite housekeeping specifics: incremental auto-vacuum on new databases, the
// in-place upgrade of a database made before housekeeping, and purges giving
// disk space back.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SQLITE_MIGRATIONS } from "../src/store/sqlite/schema.ts";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import { query, tempHome } from "./helpers.ts";

const output = new TextEncoder().encode("x".repeat(20_000));

Deno.test("sqlite space: a new database returns the pages a purge frees", async () => {
  const { db, cleanup } = await tempHome();
  try {
    const store = openSqliteStore(db, { worker: true });
    assert.equal(query(db, "PRAGMA auto_vacuum")[0].auto_vacuum, 2, "INCREMENTAL");
    const jobs = Array.from({ length: 300 }, (_, i) => ({
      id: `j${i}`,
      command: "true",
      maxRetries: 0,
      priority: 0,
      runAt: 0,
      timeout: null,
      cwd: "/",
    }));
    await store.enqueue(jobs);
    for (const _ of jobs) {
      const job = await store.claim("w", 30_000);
      await store.complete(job!.id, "w", {
        exitCode: 0,
        error: null,
        stdout: output,
        stderr: output,
      });
    }
    const pages = () => query(db, "PRAGMA page_count")[0].page_count as number;
    const full = pages();
    const result = await store.purge({ olderThanMs: { completed: -1 } });
    assert.equal(result.counts.completed, 300);
    assert.equal(query(db, "PRAGMA freelist_count")[0].freelist_count, 0, "no free page left");
    assert.ok(pages() < full / 4, `the file shrank from ${full} pages to ${pages()}`);
    await store.close();
  } finally {
    await cleanup();
  }
});

Deno.test("sqlite space: a database made before housekeeping upgrades in place and keeps its mode", async () => {
  const { db, cleanup } = await tempHome();
  try {
    // The database as the first release made it: migration 1 only, auto_vacuum NONE.
    const old = new DatabaseSync(db);
    old.exec("PRAGMA journal_mode = WAL");
    old.exec(SQLITE_MIGRATIONS[0]);
    old.exec("PRAGMA user_version = 1");
    old.exec(`
      INSERT INTO jobs (id, command, state, priority, max_retries, cwd, run_at, created_at,
                        updated_at, finished_at, attempts, runs)
      VALUES ('done', 'true', 'completed', 0, 0, '/', 0, 0, 0, 1000, 1, 1),
             ('todo', 'true', 'pending', 0, 0, '/', 0, 0, 0, NULL, 0, 0);
      INSERT INTO attempts (job_seq, attempt, started_at, finished_at, outcome, stdout)
      VALUES (1, 1, 0, 1000, 'completed', x'6869');
      UPDATE job_counts SET n = 1 WHERE state IN ('completed', 'pending');
      INSERT INTO config (key, value) VALUES ('max-retries', '5');
    `);
    old.close();

    const store = openSqliteStore(db);
    assert.equal(query(db, "PRAGMA user_version")[0].user_version, SQLITE_MIGRATIONS.length);
    assert.equal(query(db, "PRAGMA auto_vacuum")[0].auto_vacuum, 0, "an old file keeps its mode");
    assert.equal((await store.getJob("done"))?.state, "completed");
    assert.equal(new TextDecoder().decode((await store.logs("done"))!.stdout), "hi");
    assert.equal((await store.getConfig()).maxRetries, 5);
    assert.deepEqual(await store.listSchedules(), []);
    const purged = await store.purge({ olderThanMs: { completed: 0 } });
    assert.equal(purged.counts.completed, 1, "purge works on it too");
    assert.equal((await store.getJob("todo"))?.state, "pending");
    await store.close();
  } finally {
    await cleanup();
  }
});
