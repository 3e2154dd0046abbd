import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fixture, ok, tempDir } from "./support/cli.ts";

test("export and import round-trip through JSON, with a dry run and a summary", async (t) => {
  const source = await fixture(t);
  const dir = tempDir();
  ok(await source.coffer(["secrets", "set", "OPENAI_KEY"], { input: 'sk "quoted" \\ back\n' }));
  ok(await source.coffer(["secrets", "set", "database-config", "host=-", "password=-"], { input: "db\nmulti\\nline\n" }));
  ok(await source.coffer(["secrets", "set", "payments/stripe"], { input: "sk_live\n" }));

  const exported = ok(await source.coffer(["export", "--format", "json"]));
  assert.equal(exported.stderr, "", "no terminal, no warning");
  const document = JSON.parse(exported.stdout);
  assert.deepEqual(document, { OPENAI_KEY: 'sk "quoted" \\ back', "database-config": { host: "db", password: "multi\\nline" }, "payments/stripe": "sk_live" });
  const file = join(dir, "backup.json");
  writeFileSync(file, exported.stdout);

  // Into a second server: a dry run changes nothing, then the import creates all.
  const target = await fixture(t);
  ok(await target.coffer(["secrets", "set", "payments/stripe"], { input: "sk_live\n" }));
  ok(await target.coffer(["secrets", "set", "OPENAI_KEY"], { input: "old\n" }));
  const dry = ok(await target.coffer(["import", file, "--dry-run"]));
  assert.match(dry.stdout, /^  would create database-config$/m);
  assert.match(dry.stdout, /^  would update OPENAI_KEY$/m);
  assert.match(dry.stdout, /Dry run: would create 1, would update 1, unchanged 1 \(nothing was written\)/);
  assert.equal((await target.coffer(["secrets", "get", "database-config"])).code, 5, "the dry run wrote nothing");
  assert.equal(ok(await target.coffer(["secrets", "get", "OPENAI_KEY", "value"])).stdout, "old");

  const summary = JSON.parse(ok(await target.coffer(["import", file, "--json"])).stdout);
  assert.deepEqual([summary.created, summary.updated, summary.unchanged], [1, 1, 1]);
  assert.deepEqual(JSON.parse(ok(await target.coffer(["export", "--format", "json"])).stdout), document, "the round trip is exact");
  assert.match(ok(await target.coffer(["import", file])).stdout, /created 0, updated 0, unchanged 3/);

  // dotenv: the variables 'coffer run' sets, quoted; import reads dotenv back as one-value secrets.
  const dotenv = ok(await source.coffer(["export", "--format", "dotenv"])).stdout;
  assert.equal(dotenv, 'OPENAI_KEY="sk \\"quoted\\" \\\\ back"\nDATABASE_CONFIG_HOST="db"\nDATABASE_CONFIG_PASSWORD="multi\\\\nline"\nPAYMENTS_STRIPE="sk_live"\n');
  const envFile = join(dir, "vars.env");
  writeFileSync(envFile, dotenv);
  const third = await fixture(t);
  ok(await third.coffer(["import", envFile]));
  assert.equal(ok(await third.coffer(["secrets", "get", "OPENAI_KEY", "value"])).stdout, 'sk "quoted" \\ back');
  assert.equal(ok(await third.coffer(["secrets", "get", "DATABASE_CONFIG_PASSWORD", "value"])).stdout, "multi\\nline");

  const yaml = ok(await source.coffer(["export", "--format", "yaml", "--prefix", "payments"])).stdout;
  assert.equal(yaml, '"payments/stripe": "sk_live"\n');

  // A bad file is refused whole: nothing imported.
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ GOOD: "x", BAD: 5 }));
  const refused = await third.coffer(["import", bad]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /'BAD' must be a string or an object of strings/);
  assert.equal((await third.coffer(["secrets", "get", "GOOD"])).code, 5);
  assert.equal((await source.coffer(["export", "--format", "xml"])).code, 2);
});
