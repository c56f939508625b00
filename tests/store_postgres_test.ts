import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import postgres from "postgres";
import { QueueError } from "../src/core/errors.ts";
import type { NewJob } from "../src/core/types.ts";
import { openPostgresStore } from "../src/store/postgres/mod.ts";
import { POSTGRES_MIGRATIONS } from "../src/store/postgres/schema.ts";
import { parsePostgresUrl, redactUrl } from "../src/store/postgres/url.ts";
import type { Store, StoreOptions } from "../src/store/store.ts";
import { storeContract } from "./store_contract/mod.ts";
import { PERMISSIONS, waitFor } from "./helpers.ts";

const url = Deno.env.get("QUEUECTL_TEST_POSTGRES_URL");
if (!url) {
  console.log(
    "PostgreSQL tests skipped: set QUEUECTL_TEST_POSTGRES_URL " +
      "(e.g. postgres://postgres@127.0.0.1:5432/test)",
  );
}

/** A schema name no other test run uses. */
function newSchema(): string {
  return `qt_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

/** `base` with `?schema=` set. */
function withSchema(base: string, schema: string): string {
  return `${base}${base.includes("?") ? "&" : "?"}schema=${schema}`;
}

/** Runs `fn` on a short-lived admin connection to the test database. */
async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url!, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function dropSchema(schema: string): Promise<void> {
  await admin((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Opens a store on `schema`; its `close` leaves the schema in place. */
function open(schema: string, options: StoreOptions = {}, base = url!): Promise<Store> {
  return openPostgresStore(withSchema(base, schema), options);
}

function job(id: string, extra: Partial<NewJob> = {}): NewJob {
  return {
    id,
    command: "true",
    maxRetries: 0,
    priority: 0,
    runAt: 0,
    timeout: null,
    cwd: "/",
    ...extra,
  };
}

/**
 * A TCP proxy in front of the test server, to take the database away from a
 * store and bring it back on the same address.
 */
class Outage {
  #listener: Deno.Listener | null = null;
  #conns = new Set<Deno.Conn>();
  #target = new URL(url!.replace(/^postgres(ql)?:/, "http:"));
  port = 0;

  /** The test URL, through this proxy. */
  get url(): string {
    const proxied = new URL(url!.replace(/^postgres(ql)?:/, "http:"));
    proxied.hostname = "127.0.0.1";
    proxied.port = String(this.port);
    return proxied.href.replace(/^http:/, "postgres:");
  }

  /** Starts accepting connections (on the same port as before, if any). */
  up(): void {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    void this.#accept(this.#listener);
  }

  /** Cuts every connection and refuses new ones. */
  down(): void {
    this.#listener?.close();
    this.#listener = null;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const client of listener) {
        const server = await Deno.connect({
          hostname: this.#target.hostname,
          port: Number(this.#target.port || 5432),
        });
        this.#conns.add(client).add(server);
        client.readable.pipeTo(server.writable).catch(() => {});
        server.readable.pipeTo(client.writable).catch(() => {});
      }
    } catch {
      // listener closed
    }
  }
}

/** A Deno test against a fresh schema, dropped afterwards. */
function pgTest(name: string, fn: (schema: string) => Promise<void>) {
  Deno.test({
    name: `postgres: ${name}`,
    ignore: !url,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const schema = newSchema();
      try {
        await fn(schema);
      } finally {
        await dropSchema(schema);
      }
    },
  });
}

storeContract("postgres", async (clock) => {
  const schema = newSchema();
  const store = await open(schema, { clock: clock.now });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await dropSchema(schema);
  };
  return store;
}, { ignore: !url });

Deno.test("postgres url: schema is taken out of the URL and the password out of messages", () => {
  const target = parsePostgresUrl("postgres://me:s3cret@db:5432/app?sslmode=disable&schema=q1");
  assert.equal(target.url, "postgres://me:s3cret@db:5432/app?sslmode=disable");
  assert.equal(target.schema, "q1");
  assert.equal(target.channel, "queuectl:q1");
  assert.equal(target.location, "postgres://me@db:5432/app?sslmode=disable&schema=q1");
  const plain = parsePostgresUrl("postgresql://db/app");
  assert.equal(plain.schema, "queuectl", "a default schema keeps queue tables apart");
  assert.equal(plain.url, "postgresql://db/app");
  assert.equal(redactUrl("postgres://u:p@ss@h/db?password=x"), "postgres://u@h/db?password=***");
  for (const bad of ["", "1abc", "a-b", "pg_temp", "x".repeat(55), 'a"b']) {
    assert.throws(
      () => parsePostgresUrl(`postgres://h/db?schema=${encodeURIComponent(bad)}`),
      (error: unknown) => error instanceof QueueError && error.kind === "invalid",
      `schema ${JSON.stringify(bad)} is refused`,
    );
  }
});

Deno.test({
  name: "postgres: an unreachable server is one clear line, kind unavailable, no password",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await assert.rejects(
      openPostgresStore("postgres://someone:hunter2@127.0.0.1:1/test"),
      (error: unknown) => {
        assert.ok(error instanceof QueueError, `expected QueueError, got ${error}`);
        assert.equal(error.kind, "unavailable");
        assert.match(error.message, /127\.0\.0\.1:1/);
        assert.match(error.message, /refused/);
        assert.doesNotMatch(error.message, /hunter2/);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  },
});

pgTest("concurrent claimers in separate processes never get the same job", async (schema) => {
  const db = withSchema(url!, schema);
  const store = await open(schema);
  const total = 400;
  await store.enqueue(Array.from({ length: total }, (_, i) => job(`job-${i}`)));
  await store.close();
  const claimer = fromFileUrl(new URL("./fixtures/claimer.ts", import.meta.url));
  const at = String(Date.now() + 3000); // all start claiming together
  const outputs = await Promise.all(
    [1, 2, 3, 4].map((n) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...PERMISSIONS, claimer, db, `claimer-${n}`, at],
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
  const check = await open(schema);
  try {
    assert.equal((await check.counts()).completed, total);
  } finally {
    await check.close();
  }
});

pgTest("several processes opening a fresh schema at once all succeed", async (schema) => {
  const db = withSchema(url!, schema);
  const opener = fromFileUrl(new URL("./fixtures/open_store.ts", import.meta.url));
  // Every process opens at the same moment, well after all have started.
  const at = Date.now() + 3000;
  const outputs = await Promise.all(
    [1, 2, 3, 4].map(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", ...PERMISSIONS, opener, db, String(at)],
        stdout: "piped",
        stderr: "piped",
      }).output()
    ),
  );
  for (const output of outputs) {
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.equal(new TextDecoder().decode(output.stdout).trim(), "opened");
  }
  // And in one process, several stores racing on another fresh schema.
  const other = newSchema();
  try {
    const stores = await Promise.all([1, 2, 3, 4, 5].map(() => open(other)));
    await Promise.all(stores.map((store) => store.close()));
  } finally {
    await dropSchema(other);
  }
});

pgTest("waitForChange wakes on an enqueue from another connection", async (schema) => {
  const waiter = await open(schema, { worker: true });
  const other = await open(schema);
  const elsewhere = newSchema();
  const stranger = await open(elsewhere);
  try {
    const timeout = 30_000;
    const started = performance.now();
    const woke = waiter.waitForChange(timeout);
    await other.enqueue([job("wake-up")]);
    assert.equal(await woke, true, "a change was seen");
    assert.ok(performance.now() - started < timeout, "woken by the notification, not the timeout");
    assert.equal((await waiter.claim("w", 30_000))?.id, "wake-up");

    // A queue in another schema does not wake this one.
    const quiet = performance.now();
    const idle = waiter.waitForChange(300);
    await stranger.enqueue([job("not-yours")]);
    assert.equal(await idle, false, "no change in this queue");
    assert.ok(performance.now() - quiet >= 250, "another schema's enqueue did not wake it");
    assert.equal(await waiter.claim("w", 30_000), null, "queues in other schemas stay apart");

    // An abort ends the wait at once.
    const controller = new AbortController();
    const aborted = waiter.waitForChange(timeout, controller.signal);
    controller.abort();
    await aborted;
  } finally {
    await Promise.all([waiter.close(), other.close(), stranger.close()]);
    await dropSchema(elsewhere);
  }
});

pgTest("a terminated connection is replaced by the next call", async (schema) => {
  const store = await open(schema, { worker: true });
  const other = await open(schema);
  try {
    await store.enqueue([job("before")]);
    const killed = await admin((sql) =>
      sql`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE application_name = ${"queuectl:" + schema} AND pid <> pg_backend_pid()`
    );
    assert.ok(killed.length >= 2, "the pool and the LISTEN connection were terminated");
    await waitFor(
      "the terminated backends to exit",
      () =>
        admin(async (sql) =>
          (await sql`SELECT count(*)::int AS n FROM pg_stat_activity
                   WHERE pid IN ${sql(killed.map((row) => row.pid ?? 0))}`)[0].n === 0
        ).catch(() => true),
    );
    assert.equal((await store.getJob("before"))?.state, "pending", "a read reconnects");
    await store.enqueue([job("after")]);
    assert.equal((await store.counts()).pending, 2, "a write reconnects");

    await store.waitForChange(50); // must not throw while the LISTEN connection is gone
    // Listening again counts as a change (notifications may have been missed).
    await store.waitForChange(10_000);
    const timeout = 30_000;
    const started = performance.now();
    const woke = store.waitForChange(timeout);
    await other.enqueue([job("wake-after-reconnect")]);
    await woke;
    assert.ok(performance.now() - started < timeout, "the channel is listened to again");
  } finally {
    await Promise.all([store.close(), other.close()]);
  }
});

pgTest("counts kept by triggers match the jobs table", async (schema) => {
  const store = await open(schema);
  try {
    await store.enqueue(Array.from({ length: 50 }, (_, i) => job(`c-${i}`, { maxRetries: 1 })));
    const result = {
      exitCode: 1,
      error: "exit code 1",
      stdout: new Uint8Array(),
      stderr: new Uint8Array(),
    };
    for (let i = 0; i < 20; i++) {
      const claimed = await store.claim("w", 30_000);
      if (!claimed) break;
      if (i % 3 === 0) {
        await store.complete(claimed.id, "w", { ...result, exitCode: 0, error: null });
      } else if (i % 3 === 1) await store.fail(claimed.id, "w", result);
    }
    await store.cancel("c-49");
    await store.releaseWorker("w", "worker lost");
    const counts = await store.counts();
    const actual = await admin((sql) =>
      sql.unsafe(`SELECT state, count(*)::int AS n FROM "${schema}".jobs GROUP BY state`)
    );
    for (const row of actual) {
      assert.equal(counts[row.state as keyof typeof counts], row.n, row.state);
    }
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 50);
  } finally {
    await store.close();
  }
});

pgTest("the claim walks each queue's part of the claim index", async (schema) => {
  const store = await open(schema);
  try {
    await store.enqueue(
      Array.from({ length: 5_000 }, (_, i) => job(`p-${i}`, { priority: i % 7 })),
    );
    const plan = await admin(async (sql) => {
      await sql.unsafe(`SET search_path = "${schema}"`);
      await sql.unsafe("ANALYZE jobs");
      const rows = await sql.unsafe(`
        EXPLAIN SELECT seq FROM jobs
        WHERE queue = 'default' AND state IN ('pending', 'failed') AND run_at <= 0
        ORDER BY priority DESC, run_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED`);
      return rows.map((row) => row["QUERY PLAN"]).join("\n");
    });
    assert.match(plan, /jobs_claim/);
  } finally {
    await store.close();
  }
});

pgTest("losing the server gives unavailable, waits time out, and both recover", async (schema) => {
  const outage = new Outage();
  outage.up();
  const store = await open(schema, { worker: true }, outage.url);
  const other = await open(schema);
  try {
    await store.enqueue([job("first")]);
    outage.down();

    const started = performance.now();
    await store.waitForChange(300); // neither throws nor hangs without a server
    assert.ok(performance.now() - started < 10_000);
    await assert.rejects(store.counts(), (error: unknown) => {
      assert.ok(error instanceof QueueError, `expected QueueError, got ${error}`);
      assert.equal(error.kind, "unavailable");
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${outage.port}`));
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    await assert.rejects(store.claim("w", 30_000), QueueError);
    await store.waitForChange(100);

    outage.up();
    assert.equal((await store.counts()).pending, 1, "calls work again once the server is back");
    // Listening again counts as a change: jobs may have been enqueued meanwhile.
    await store.waitForChange(30_000);
    const timeout = 30_000;
    const woke = store.waitForChange(timeout);
    const waited = performance.now();
    await other.enqueue([job("after-outage")]);
    await woke;
    assert.ok(performance.now() - waited < timeout, "the channel is listened to again");
    assert.equal((await store.claim("w", 30_000))?.id, "first");
  } finally {
    outage.down();
    await Promise.all([store.close(), other.close()]);
  }
});

pgTest("a schema of the first migration upgrades in place, keeping its rows", async (schema) => {
  await admin(async (sql) => {
    await sql.unsafe(`CREATE SCHEMA "${schema}"`);
    await sql.begin(async (tx) => {
      await tx.unsafe(`SET LOCAL search_path = "${schema}"`);
      await tx.unsafe(POSTGRES_MIGRATIONS[0]);
      await tx.unsafe("CREATE TABLE schema_version (version integer NOT NULL)");
      await tx.unsafe("INSERT INTO schema_version (version) VALUES (1)");
      await tx.unsafe(`INSERT INTO jobs (id, command, state, priority, max_retries, cwd, run_at,
                         created_at, updated_at) VALUES ('kept', 'true', 'pending', 0, 3, '/', 0, 0, 0)`);
      await tx.unsafe(`INSERT INTO workers (id, kind, host, pid, started_at, heartbeat_at)
                       VALUES ('old-supervisor', 'supervisor', 'box', 7,
                               extract(epoch FROM now())::bigint * 1000,
                               extract(epoch FROM now())::bigint * 1000)`);
    });
  });
  const store = await open(schema);
  try {
    assert.equal((await store.getJob("kept"))?.state, "pending");
    assert.equal((await store.counts()).pending, 1);
    const [worker] = await store.listWorkers();
    assert.equal(worker.id, "old-supervisor");
    assert.equal(worker.processStartedAt, null, "unknown for a row registered before");
  } finally {
    await store.close();
  }
});

pgTest("a schema migrated by a newer queuectl is refused with a clear line", async (schema) => {
  const store = await open(schema);
  await store.close();
  await admin((sql) => sql.unsafe(`UPDATE "${schema}".schema_version SET version = 999`));
  await assert.rejects(open(schema), (error: unknown) => {
    assert.ok(error instanceof QueueError, `expected QueueError, got ${error}`);
    assert.equal(error.kind, "unavailable");
    assert.match(error.message, /schema version 999, newer than this queuectl knows/);
    return true;
  });
});

Deno.test({
  name: "postgres: a missing database or a refused setting is unavailable, not a driver error",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const base = new URL(url!.replace(/^postgres(ql)?:/, "http:"));
    base.pathname = "/queuectl_no_such_database";
    const missing = base.href.replace(/^http:/, "postgres:");
    for (
      const [target, pattern] of [[missing, /does not exist/], [
        withSchema(url!, "x") + "&no_such_setting=1",
        /no_such_setting/,
      ]] as const
    ) {
      await assert.rejects(openPostgresStore(target), (error: unknown) => {
        assert.ok(error instanceof QueueError, `expected QueueError, got ${error}`);
        assert.equal(error.kind, "unavailable");
        assert.match(error.message, pattern);
        return true;
      });
    }
  },
});

pgTest("a closed store refuses calls instead of reconnecting", async (schema) => {
  const store = await open(schema);
  await store.close();
  await assert.rejects(store.counts(), /is closed/);
  await store.close(); // closing twice is harmless
});
