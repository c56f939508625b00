/**
 * Store contract: dependencies (`after`), the blocked state, unblocking on
 * completion, cancel cascading to blocked dependents, and standings for `wait`.
 * @module
 */

import assert from "node:assert/strict";
import { type ContractTest, exit3, job, LEASE, ok, rejectsWith } from "./fixtures.ts";

/** Registers these cases with `test`. */
export function registerDeps(test: ContractTest): void {
  test("a job is blocked until every dependency completed", async (store, clock) => {
    await store.enqueue([job("a", clock), job("b", clock)]);
    await store.enqueue([job("c", clock, { after: ["a", "b"], priority: 9 })]);
    const c = await store.getJob("c");
    assert.equal(c?.state, "blocked");
    assert.deepEqual(c?.after, ["a", "b"]);
    assert.equal((await store.counts()).blocked, 1);
    assert.equal((await store.claim("w", LEASE))?.id, "a", "a blocked job is never claimed");
    assert.equal(await store.complete("a", "w", ok), true);
    assert.equal((await store.getJob("c"))?.state, "blocked", "b has not completed");
    assert.deepEqual(await store.dependencies("c"), [
      { id: "a", state: "completed" },
      { id: "b", state: "pending" },
    ]);
    assert.equal((await store.claim("w", LEASE))?.id, "b");
    await store.complete("b", "w", ok);
    assert.equal((await store.getJob("c"))?.state, "pending", "unblocked with the completion");
    assert.equal((await store.claim("w", LEASE))?.id, "c");
    await store.enqueue([job("d", clock, { after: ["a"] })]);
    assert.equal((await store.getJob("d"))?.state, "pending", "completed dependencies: pending");
  });

  test("a batch may depend on earlier jobs of itself, never later ones", async (store, clock) => {
    await store.enqueue([
      job("build", clock),
      job("test", clock, { after: ["build"] }),
      job("deploy", clock, { after: ["test"] }),
    ]);
    assert.deepEqual(
      (await store.listJobs()).map((j) => [j.id, j.state]),
      [["deploy", "blocked"], ["test", "blocked"], ["build", "pending"]],
    );
    await rejectsWith(
      store.enqueue([job("x", clock, { after: ["y"] }), job("y", clock)]),
      "invalid",
      /"x" runs after "y", which comes later/,
    );
    await rejectsWith(
      store.enqueue([job("z", clock), job("w1", clock, { after: ["missing"] })]),
      "invalid",
      /"w1" runs after "missing", but no job has that id; nothing was enqueued/,
    );
    assert.equal(await store.getJob("z"), null, "nothing of a bad batch is stored");
    assert.equal(await store.countJobs(), 3);
  });

  test("a dead dependency leaves dependents blocked until dlq retry", async (store, clock) => {
    await store.enqueue([
      job("one", clock),
      job("two", clock, { after: ["one"], maxRetries: 0 }),
      job("three", clock, { after: ["two"] }),
    ]);
    await store.claim("w", LEASE);
    await store.complete("one", "w", ok);
    assert.equal((await store.claim("w", LEASE))?.id, "two");
    assert.equal((await store.fail("two", "w", exit3))?.state, "dead");
    assert.equal(await store.claim("w", LEASE), null);
    assert.deepEqual(await store.dependencies("three"), [{ id: "two", state: "dead" }]);
    const standings = await store.standings(["three", "two", "one", "unknown"]);
    assert.deepEqual(
      standings.map((s) => [s.id, s.state, s.deadDependency]),
      [["one", "completed", null], ["two", "dead", null], ["three", "blocked", "two"]],
    );
    await store.enqueue([job("four", clock, { after: ["three"] })]);
    const four = await store.standings(["four"]);
    assert.equal(four[0].deadDependency, "two", "blocked behind a dead job, indirectly");
    await store.retryDead(["two"]);
    assert.equal((await store.standings(["three"]))[0].deadDependency, null);
    assert.equal((await store.claim("w", LEASE))?.id, "two");
    await store.complete("two", "w", ok);
    assert.equal((await store.claim("w", LEASE))?.id, "three", "the chain goes on");
  });

  test("cancel cascades to blocked dependents, transitively", async (store, clock) => {
    await store.enqueue([
      job("root", clock),
      job("other", clock),
      job("mid", clock, { after: ["root"] }),
      job("leaf", clock, { after: ["mid", "other"] }),
      job("side", clock, { after: ["other"] }),
    ]);
    const outcome = await store.cancel("root");
    assert.deepEqual(outcome, { previous: "pending", cascaded: ["mid", "leaf"] });
    assert.equal((await store.getJob("mid"))?.lastError, 'dependency "root" was cancelled');
    assert.equal((await store.getJob("leaf"))?.lastError, 'dependency "mid" was cancelled');
    assert.equal((await store.getJob("leaf"))?.state, "cancelled");
    assert.equal((await store.getJob("side"))?.state, "blocked", "other dependents are untouched");
    assert.equal((await store.counts()).cancelled, 3);
    await rejectsWith(
      store.enqueue([job("late", clock, { after: ["root"] })]),
      "conflict",
      /"late" cannot run after "root": it is cancelled/,
    );
    await store.claim("w", LEASE);
    assert.deepEqual(await store.cancel("other"), { previous: "processing", cascaded: ["side"] });
  });

  test("unfinished ids are every job that may still change", async (store, clock) => {
    await store.enqueue([
      job("p", clock),
      job("q1", clock, { queue: "q" }),
      job("b", clock, { after: ["p"] }),
      job("x", clock),
    ]);
    await store.cancel("x");
    assert.deepEqual(await store.unfinishedIds(), ["p", "q1", "b"]);
    assert.deepEqual(await store.unfinishedIds("q"), ["q1"]);
    await rejectsWith(store.dependencies("nope"), "not_found", /"nope"/);
  });

  test("a completion recorded by exchange unblocks dependents too", async (store, clock) => {
    await store.enqueue([
      job("a", clock),
      job("plain", clock),
      job("b", clock, { after: ["a"], priority: 9 }),
    ]);
    const { claimed } = await store.exchange("w", { leaseMs: LEASE, claim: 8 });
    assert.deepEqual(claimed.map((j) => j.id), ["a", "plain"]);
    const reply = await store.exchange("w", {
      leaseMs: LEASE,
      completed: [{ id: "a", result: ok }, { id: "plain", result: ok }],
      claim: 1,
    });
    assert.deepEqual(reply.completed.sort(), ["a", "plain"]);
    assert.equal((await store.getJob("b"))?.state, "processing", "unblocked and claimed at once");
    assert.deepEqual(reply.claimed.map((j) => j.id), ["b"]);
  });

  test(
    "purge goes by queue, and keeps a dead job that blocked jobs wait for",
    async (store, clock) => {
      await store.enqueue([
        job("dead-dep", clock, { maxRetries: 0, priority: 9 }),
        job("other-dead", clock, { maxRetries: 0, priority: 8 }),
        job("done-dep", clock, { priority: 7, queue: "q2" }),
        job("waits", clock, { after: ["dead-dep"] }),
        job("half", clock, { after: ["done-dep", "waits"] }),
      ]);
      await store.claim("w", LEASE);
      await store.fail("dead-dep", "w", exit3);
      await store.claim("w", LEASE);
      await store.fail("other-dead", "w", exit3);
      await store.claim("w", LEASE);
      await store.complete("done-dep", "w", ok);
      clock.advance(60);
      const some = { olderThanMs: { completed: 0, dead: 0 }, queue: "q2" };
      assert.deepEqual((await store.purge(some)).counts, { completed: 1, cancelled: 0, dead: 0 });
      assert.equal(await store.getJob("done-dep"), null);
      assert.deepEqual(await store.dependencies("half"), [{ id: "waits", state: "blocked" }]);
      const all = await store.purge({ olderThanMs: { dead: 0 } });
      assert.equal(all.counts.dead, 1, "only the dead job nothing waits for");
      assert.equal(await store.getJob("other-dead"), null);
      assert.equal(
        (await store.getJob("dead-dep"))?.state,
        "dead",
        "kept: blocked jobs wait for it",
      );
      await store.retryDead(["dead-dep"]);
      await store.claim("w", LEASE);
      await store.complete("dead-dep", "w", ok);
      assert.equal((await store.claim("w", LEASE))?.id, "waits");
      await store.complete("waits", "w", ok);
      assert.equal(
        (await store.claim("w", LEASE))?.id,
        "half",
        "its purged dependency holds nothing",
      );
    },
  );

  test(
    "enqueue ifAbsent with dependencies: taken ids are skipped, new jobs wait",
    async (store, clock) => {
      await store.enqueue([job("a", clock), job("b", clock, { after: ["a"] })]);
      const stored = await store.enqueue([
        job("a", clock),
        job("b", clock, { after: ["nope"] }), // taken: left as it is, its list unchecked
        job("c", clock, { after: ["b"] }),
      ], { ifAbsent: true });
      assert.equal(stored, 1);
      assert.deepEqual((await store.getJob("b"))?.after, ["a"]);
      assert.deepEqual(await store.dependencies("c"), [{ id: "b", state: "blocked" }]);
      await store.claim("w", LEASE);
      await store.complete("a", "w", ok);
      await store.claim("w", LEASE);
      await store.complete("b", "w", ok);
      assert.equal((await store.getJob("c"))?.state, "pending");
    },
  );
}
