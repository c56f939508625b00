import assert from "node:assert/strict";
import { join } from "node:path";
import { isValidToken } from "../src/dashboard/mod.ts";
import { loadOrCreateToken, TOKEN_FILE } from "../src/dashboard/token_file.ts";
import { tempHome } from "./helpers.ts";

const unix = Deno.build.os !== "windows";

/** Runs `fn` with a token path inside a data dir that does not exist yet. */
async function withTokenPath(fn: (path: string, home: string) => Promise<void>): Promise<void> {
  const { home: parent, cleanup } = await tempHome();
  const home = join(parent, "home");
  try {
    await fn(join(home, TOKEN_FILE), home);
  } finally {
    await cleanup();
  }
}

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

/** Names in `dir`: nothing but the token file may be left behind. */
function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
}

Deno.test("token file: created user-only in a new 0700 data dir, then reused on restart", async () => {
  await withTokenPath(async (path, home) => {
    const first = await loadOrCreateToken(path);
    assert.equal(first.how, "created");
    assert.equal(first.path, path);
    assert.ok(isValidToken(first.token));
    assert.equal(Deno.readTextFileSync(path), first.token, "the token alone, no newline");
    if (unix) {
      assert.equal(mode(path), 0o600);
      assert.equal(mode(home) & 0o077, 0, "the data dir is user-only");
    }
    const again = await loadOrCreateToken(path);
    assert.deepEqual(again, { token: first.token, path, how: "reused" });
    assert.deepEqual(names(home), [TOKEN_FILE]);
  });
});

Deno.test("token file: a token the user wrote is reused, surrounding whitespace ignored", async () => {
  await withTokenPath(async (path, home) => {
    Deno.mkdirSync(home, { mode: 0o700 });
    Deno.writeTextFileSync(path, "  my-own-token-1234\r\n", { mode: 0o600 });
    if (unix) Deno.chmodSync(path, 0o600);
    const found = await loadOrCreateToken(path);
    assert.deepEqual(found, { token: "my-own-token-1234", path, how: "reused" });
  });
});

Deno.test("token file: unusable contents are replaced by a new token, saying why", async () => {
  await withTokenPath(async (path, home) => {
    Deno.mkdirSync(home, { mode: 0o700 });
    for (const contents of ["", "short", "two words here", "x".repeat(5000)]) {
      Deno.writeTextFileSync(path, contents, { mode: 0o600 });
      if (unix) Deno.chmodSync(path, 0o600);
      const found = await loadOrCreateToken(path);
      assert.equal(found.how, "replaced", JSON.stringify(contents.slice(0, 20)));
      assert.match(found.problem ?? "", /does not hold a token of 8 to 200 visible ASCII/);
      assert.ok(isValidToken(found.token));
      assert.equal(Deno.readTextFileSync(path), found.token);
      if (unix) assert.equal(mode(path), 0o600);
    }
    assert.deepEqual(names(home), [TOKEN_FILE]);
  });
});

Deno.test({
  name: "token file: a token other users could read is not reused",
  ignore: !unix,
  fn: async () => {
    await withTokenPath(async (path, home) => {
      Deno.mkdirSync(home, { mode: 0o700 });
      for (const wide of [0o644, 0o640, 0o602]) {
        Deno.writeTextFileSync(path, "leaked-token-1234");
        Deno.chmodSync(path, wide);
        const found = await loadOrCreateToken(path);
        assert.equal(found.how, "replaced");
        assert.equal(
          found.problem,
          `other users could read or change it (mode 0${wide.toString(8)})`,
        );
        assert.notEqual(found.token, "leaked-token-1234");
        assert.equal(Deno.readTextFileSync(path), found.token);
        assert.equal(mode(path), 0o600);
      }
    });
  },
});

Deno.test({
  name: "token file: a symbolic link is replaced, never followed for writing",
  ignore: !unix,
  fn: async () => {
    await withTokenPath(async (path, home) => {
      Deno.mkdirSync(home, { mode: 0o700 });
      const target = join(home, "elsewhere");
      Deno.writeTextFileSync(target, "planted-token-1234", { mode: 0o600 });
      Deno.chmodSync(target, 0o600);
      Deno.symlinkSync(target, path);
      const found = await loadOrCreateToken(path);
      assert.equal(found.how, "replaced");
      assert.equal(found.problem, "it is a symbolic link");
      assert.notEqual(found.token, "planted-token-1234");
      assert.ok(Deno.lstatSync(path).isFile, "the link itself was replaced");
      assert.equal(Deno.readTextFileSync(target), "planted-token-1234", "its target untouched");
    });
  },
});
