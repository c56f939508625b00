// How PostgreSQL runs the claim on a large table. A claim is prepared once per connection; with
// `LIMIT $n` its generic plan was costed as if a tenth of the table were claimed, so from some
// tens of thousands of jobs on the server planned every claim anew (about 0.6 ms, more than
// running it), and a generic plan costed that high was JIT-compiled on each run (0.5 s).
import assert from "node:assert/strict";
import postgres from "postgres";
import { claimStatement } from "../src/store/postgres/claim.ts";
import { sessionSettings } from "../src/store/postgres/db.ts";
import { parsePostgresUrl } from "../src/store/postgres/url.ts";
import { openStore } from "../src/store/store.ts";
import { dropSchema, newSchema, PG_URL, queueUrl, trueJob } from "./fleet_helpers.ts";

/** Pending jobs in the table: where the old claim was planned every time once analyzed. */
const STORED = 20_000;

Deno.test({
  name: "postgres: on a large table a claim reuses its prepared plan, and sessions never JIT",
  ignore: !PG_URL,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const schema = newSchema();
    const url = queueUrl(PG_URL!, schema);
    const store = await openStore(url);
    // A connection set up as a worker's store sets up its own.
    const sql = postgres(PG_URL!, {
      max: 1,
      onnotice: () => {},
      connection: sessionSettings(parsePostgresUrl(url), true),
    });
    try {
      await store.enqueue(Array.from({ length: STORED }, (_, i) => trueJob(`p-${i}`)));
      await store.close();
      await sql.unsafe("ANALYZE jobs");
      assert.deepEqual([...await sql`SHOW jit`], [{ jit: "off" }]);

      const request = { worker: "w", leaseMs: 30_000, queues: null };
      for (const limit of [1, 8]) {
        const { text, values } = claimStatement({ ...request, limit }, { skipLimited: false });
        let claimed = 0;
        for (let i = 0; i < 12; i++) {
          const [row] = await sql.unsafe(text, [null, ...values] as never[], { prepare: true });
          claimed += (row.claimed as unknown[]).length;
        }
        assert.equal(claimed, 12 * limit, "every run claims");
        const [plans] = await sql`
          SELECT generic_plans::int AS generic, custom_plans::int AS custom
          FROM pg_prepared_statements WHERE statement = ${text}`;
        // PostgreSQL plans the first 5 runs for their values, then keeps a generic plan that
        // is no worse: so at least 7 of 12 runs are not planned again.
        assert.ok(
          plans.custom <= 5 && plans.generic >= 7,
          `limit ${limit}: ${JSON.stringify(plans)}`,
        );
      }
    } finally {
      await sql.end({ timeout: 1 });
      await dropSchema(schema);
    }
  },
});
