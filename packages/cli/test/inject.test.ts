import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fixture, ok, tempDir } from "./support/cli.ts";

test("coffer inject renders @{vault.NAME} and @{vault.NAME.KEY} into a 0600 file, or stdout", async (t) => {
  const f = await fixture(t);
  const dir = tempDir();
  ok(await f.coffer(["secrets", "set", "OPENAI_KEY"], { input: "sk-abc\n" }));
  ok(await f.coffer(["secrets", "set", "database-config", "host=-", "password=-"], { input: "db\np@ss\n" }));
  ok(await f.coffer(["secrets", "set", "api.example.com"], { input: "dotted\n" }));
  const template = join(dir, "app.env.tpl");
  writeFileSync(template, "OPENAI=@{vault.OPENAI_KEY}\nDB=postgres://app:@{vault.database-config.password}@@{vault.database-config.host}/app\nDOTTED=@{vault.api.example.com}\nLEFT=@{other.thing} @{vault.}\n");
  const expected = "OPENAI=sk-abc\nDB=postgres://app:p@ss@db/app\nDOTTED=dotted\nLEFT=@{other.thing} @{vault.}\n";

  assert.equal(ok(await f.coffer(["inject", "-i", template])).stdout, expected);
  const out = join(dir, "app.env");
  writeFileSync(out, "old contents", { mode: 0o644 });
  ok(await f.coffer(["inject", "-i", template, "-o", out]));
  assert.equal(readFileSync(out, "utf8"), expected);
  assert.equal(statSync(out).mode & 0o777, 0o600, "the output is 0600, even replacing a 0644 file");
  const fresh = join(dir, "fresh.env");
  ok(await f.coffer(["inject", "--in", "-", "--out", fresh], { input: "K=@{vault.OPENAI_KEY}" }));
  assert.equal(readFileSync(fresh, "utf8"), "K=sk-abc");
  assert.equal(statSync(fresh).mode & 0o777, 0o600);
});

test("coffer inject refuses an unknown reference, naming it, and writes nothing", async (t) => {
  const f = await fixture(t);
  const dir = tempDir();
  ok(await f.coffer(["secrets", "set", "OPENAI_KEY"], { input: "sk-abc\n" }));
  ok(await f.coffer(["secrets", "set", "database-config", "host=-", "password=-"], { input: "db\npw\n" }));
  const cases: [string, RegExp][] = [
    ["A=@{vault.OPENAI_KEY}\nB=@{vault.MISSING_KEY}\n", /unknown reference @\{vault\.MISSING_KEY\}: no secret 'MISSING_KEY' in workspace 'default'; nothing was written/],
    ["A=@{vault.OPENAI_KEY}\nB=@{vault.missing.secret.key}\n", /unknown reference @\{vault\.missing\.secret\.key\}: no secret 'missing\.secret'/],
    ["A=@{vault.database-config.port}\n", /unknown reference @\{vault\.database-config\.port\}: secret 'database-config' has no key 'port' \(its keys: host, password\)/],
  ];
  for (const [text, message] of cases) {
    const template = join(dir, "t.tpl");
    writeFileSync(template, text);
    const out = join(dir, "never.env");
    const result = await f.coffer(["inject", "-i", template, "-o", out]);
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, "", "nothing on stdout either");
    assert.ok(!existsSync(out), "the output file is not created");
    assert.deepEqual(readdirSync(dir).sort(), ["t.tpl"], "no temporary file is left behind");
  }
  const several = join(dir, "t.tpl");
  writeFileSync(several, "X=@{vault.database-config}\n");
  const ambiguous = await f.coffer(["inject", "-i", several]);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /secret 'database-config' has several keys \(host, password\): name one/);
  assert.equal((await f.coffer(["inject"])).code, 2, "-i is required");
});
