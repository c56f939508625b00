import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { openSqliteStore } from "../src/store/sqlite/mod.ts";
import { SQLITE_MIGRATIONS } from "../src/store/sqlite/schema.ts";
import { storeContract } from "./store_contract/mod.ts";
import { tempHome, unixOnly } from "./helpers.ts";

storeContract("sqlite", async (clock) => {
  const { db, cleanup } = await tempHome();
  const store = openSqliteStore(db, { clock: clock.now });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await cleanup();
  };
  return store;
});

Deno.test("sqlite: concurrent claimers in separate processes never get the same job", async () => {
  const { db, cleanup } = await tempHome();
  try {
    const store = openSqliteStore(db);
    const total = 400;
    await store.enqueue(
      Array.from({ length: total }, (_, i) => ({
        id: `job-${i}`,
        command: "true",
        maxRetries: 0,
        priority: 0,
        runAt: 0,
        timeout: null,
        cwd: "/",
      })),
    );
    await store.close();
    const claimer = fromFileUrl(new URL("./fixtures/claimer.ts", import.meta.url));
    const at = String(Date.now() + 2000); // all start claiming together
    const outputs = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-read", "--allow-write", claimer, db, `claimer-${n}`, at],
          stdout: "piped",
        }).output()
      ),
    );
    const claimed = outputs.flatMap((output) => {
      assert.equal(output.code, 0);
      return new TextDecoder().decode(output.stdout).split("\n").filter(Boolean);
    });
    assert.equal(claimed.length, total, "every job claimed once");
    assert.equal(new Set(claimed).size, total, "no job claimed twice");
    assert.ok(
      outputs.filter((o) => o.stdout.length > 0).length >= 2,
      "claims were spread over processes",
    );
  } finally {
    await cleanup();
  }
});

Deno.test("sqlite: data dir and database file are user-only", unixOnly, async () => {
  const { home, cleanup } = await tempHome();
  try {
    const path = `${home}/nested/dir/queuectl.db`;
    const store = openSqliteStore(path);
    await store.close();
    assert.equal((await Deno.stat(`${home}/nested/dir`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await cleanup();
  }
});

Deno.test("sqlite: a database of the first schema upgrades in place, keeping its rows", async () => {
  const { db, cleanup } = await tempHome();
  try {
    const old = new DatabaseSync(db);
    old.exec(SQLITE_MIGRATIONS[0]);
    old.exec("PRAGMA user_version = 1");
    old.exec(`INSERT INTO jobs (id, command, state, priority, max_retries, cwd, run_at, created_at,
                                updated_at) VALUES ('kept', 'true', 'pending', 0, 3, '/', 0, 0, 0)`);
    old.exec(`INSERT INTO workers (id, kind, host, pid, started_at, heartbeat_at)
              VALUES ('old-supervisor', 'supervisor', 'box', 7, ${Date.now()}, ${Date.now()})`);
    old.close();
    const store = openSqliteStore(db);
    try {
      assert.equal((await store.getJob("kept"))?.state, "pending");
      const [worker] = await store.listWorkers();
      assert.equal(worker.id, "old-supervisor");
      assert.equal(worker.processStartedAt, null, "unknown for a row registered before");
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
});
