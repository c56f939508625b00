// The PostgreSQL connection budget of one store (SPEC §11): a worker's store pipelines all its
// calls on one connection and never LISTENs when its supervisor relays wake-ups; a listening
// store (a supervisor's) adds its LISTEN connection on its first wait. The whole fleet's budget
// is tested in fleet_test.ts.
import assert from "node:assert/strict";
import { openStore, type Store, type StoreOptions } from "../src/store/store.ts";
import { waitFor } from "./helpers.ts";
import {
  connectionsOf,
  dropSchema,
  newSchema,
  PG_URL,
  queueUrl,
  trueJob,
} from "./fleet_helpers.ts";

function open(schema: string, options: StoreOptions = {}): Promise<Store> {
  return openStore(queueUrl(PG_URL!, schema), options);
}

Deno.test({
  name: "postgres: connection budget: a worker's store holds one connection, a listening one two",
  ignore: !PG_URL,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const schema = newSchema();
    try {
      await budget(schema);
    } finally {
      await dropSchema(schema);
    }
  },
});

async function budget(schema: string): Promise<void> {
  // A worker under a supervisor: claims, settles, heartbeats and reads at once, on one connection.
  const worker = await open(schema, { worker: true, listen: false });
  try {
    await worker.enqueue(Array.from({ length: 40 }, (_, i) => trueJob(`b-${i}`)));
    const ok = { exitCode: 0, error: null, stdout: new Uint8Array(), stderr: new Uint8Array() };
    const beat = {
      id: "w",
      kind: "worker" as const,
      host: "box",
      pid: 1,
      supervisor: null,
      currentJob: null,
      leaseMs: 30_000,
    };
    await Promise.all([
      ...Array.from({ length: 10 }, async () => {
        const claimed = await worker.claim("w", 30_000);
        if (claimed) await worker.complete(claimed.id, "w", ok);
      }),
      worker.heartbeat(beat),
      worker.counts(),
      worker.getConfig(),
      worker.recover(),
      worker.waitForChange(50),
    ]);
    assert.deepEqual(await connectionsOf(schema), { all: 1, listening: 0 });
    assert.equal(
      await worker.waitForChange(50),
      false,
      "without LISTEN a wait runs out its time",
    );
    assert.deepEqual(await connectionsOf(schema), { all: 1, listening: 0 }, "waits add none");
  } finally {
    await worker.close();
  }
  // A supervisor: its work on one connection, and the LISTEN it relays to its workers.
  const supervisor = await open(schema);
  try {
    await Promise.all([supervisor.counts(), supervisor.listWorkers(), supervisor.getConfig()]);
    assert.deepEqual(
      await connectionsOf(schema),
      { all: 1, listening: 0 },
      "no LISTEN before a wait",
    );
    await supervisor.waitForChange(100);
    await waitFor(
      "the LISTEN to show",
      async () => (await connectionsOf(schema)).listening === 1,
    );
    assert.deepEqual(await connectionsOf(schema), { all: 2, listening: 1 });
  } finally {
    await supervisor.close();
  }
}
